"""Which workspaces have active connections of a kind, without visiting every workspace: a Redis set per kind
of "<schema>:<connection id>", kept by the core's services on commit. A process that serves all workspaces'
connections of a kind (the Asterisk AMI client) reads its kind's set, so its cost follows the connections, not
the number of workspaces. Redis keeps nothing on disk here: when the set is gone, `members` builds it again
once by reading every workspace (the only walk over the fleet, and only after a Redis loss)."""

from __future__ import annotations

import logging
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django_tenants.utils import tenant_context

from integrations.core.models import Connection
from tenants.context import current_schema
from tenants.models import Tenant

log = logging.getLogger(__name__)
_KEY = "kontor:integrations:directory:{kind}"
_BUILT = "kontor:integrations:directory:built"


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _member(schema: str, connection_id: int) -> str:
    return f"{schema}:{connection_id}"


def note(conn: Connection, *, removed: bool = False) -> None:
    """After the caller's commit: the connection is listed while it is active and its identity too."""
    schema, kind, pk = current_schema(), conn.kind, conn.pk
    listed = conn.is_active and not removed

    def apply() -> None:
        key = _KEY.format(kind=kind)
        if listed:
            _redis().sadd(key, _member(schema, pk))
        else:
            _redis().srem(key, _member(schema, pk))

    transaction.on_commit(apply)


def members(kind: str) -> list[tuple[str, int]]:
    """(schema, connection id) of the active connections of `kind`, in every workspace."""
    if not _redis().exists(_BUILT):
        rebuild()
    found = []
    for raw in _redis().smembers(_KEY.format(kind=kind)):
        schema, _sep, pk = (raw.decode() if isinstance(raw, bytes) else str(raw)).rpartition(":")
        if pk.isdigit():
            found.append((schema, int(pk)))
    return sorted(found)


def rebuild() -> int:
    """Read every workspace's active connections into the sets (after a Redis loss)."""
    listed: dict[str, set[str]] = {}
    for tenant in Tenant.objects.filter(kind=Tenant.Kind.WORKSPACE).exclude(schema_name=settings.PUBLIC_SCHEMA_NAME):
        with tenant_context(tenant):
            for kind, pk in Connection.objects.filter(is_active=True).values_list("kind", "pk"):
                listed.setdefault(kind, set()).add(_member(tenant.schema_name, pk))
    pipe = _redis().pipeline()
    for kind, found in listed.items():
        pipe.sadd(_KEY.format(kind=kind), *found)
    pipe.set(_BUILT, 1)
    pipe.execute()
    log.info("integrations: directory rebuilt, %d connections", sum(len(v) for v in listed.values()))
    return sum(len(v) for v in listed.values())
