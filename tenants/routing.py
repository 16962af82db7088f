"""Host -> tenant, on every request: from the shared cache, so its cost stays flat whatever the number of tenants.

A hit is one Redis round trip (MGET) and no query. Every worker sees a change at once: a save or delete of a
Domain or Tenant row (model signals, whoever writes) gives the host a new generation token, so entries written
before are ignored, in the writing transaction and again when it commits (another worker may have re-read the
old row in between). An entry carries the generation it was read under (none for a host never changed): a
reader that raced a change writes an entry nobody will accept. Unknown hosts are cached too, briefly, so a
flood of requests for one does not reach the database; a new domain's save gives its host a token, so the new
host answers at once. Only writes make tokens, so a flood of random hosts leaves nothing but 30-second entries.

Writes that bypass the model signals (QuerySet.update, raw SQL, a restore) are seen when the entry expires.
Only workspaces and the public site are ever returned: pooled and template schemas are never reachable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from tenants.generations import Generations
from tenants.models import Domain, Tenant

# A found host is kept this long; changes through the models are seen at once, anything else after this.
FOUND_SECONDS = 600
# An unknown host is kept this long: enough to absorb a flood of requests for it.
NOT_FOUND_SECONDS = 30
ROUTABLE_KINDS = (Tenant.Kind.WORKSPACE, Tenant.Kind.PUBLIC)
# Every field a request may read, so the Tenant is built without a query. migration_state is left out (deferred:
# loaded on access): the fleet migration rewrites it per schema and the request path never reads it.
_UNCACHED_FIELDS = frozenset({"migration_state"})
_FIELDS = tuple(f.attname for f in Tenant._meta.concrete_fields if f.attname not in _UNCACHED_FIELDS)

_routes = Generations("routing", entry_seconds=FOUND_SECONDS)


def normalize_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def tenant_for_host(host: str) -> Tenant | None:
    """The workspace or public tenant answering at `host` (without port), or None."""
    host = normalize_host(host)
    if not host:
        return None
    # Routing must not depend on the cache being up: when it is not, the database answers (Generations).
    found, entry, generation = _routes.get(host, "tenant")
    if found and isinstance(entry, tuple) and entry[0] == _FIELDS:
        values: tuple[Any, ...] | None = entry[1]
    else:
        values = _read(host)
        _routes.put(host, "tenant", generation, (_FIELDS, values), seconds=None if values else NOT_FOUND_SECONDS)
    return None if values is None else Tenant.from_db(connection.alias, _FIELDS, values)


def lookup_query(host: str) -> QuerySet[Tenant, tuple[Any, ...]]:
    """One indexed lookup (tenants_domain.domain is unique) joined to the tenant row."""
    return Tenant.objects.filter(domains__domain=host, kind__in=ROUTABLE_KINDS).order_by().values_list(*_FIELDS)[:1]


def _read(host: str) -> tuple[Any, ...] | None:
    row = list(lookup_query(host))
    return tuple(row[0]) if row else None


def hosts_invalidate(hosts: Iterable[str]) -> None:
    """Make the next lookup of each host read the database, now and again after the current transaction commits."""
    for host in sorted({normalize_host(h) for h in hosts if h}):
        _routes.invalidate(host)


def tenant_hosts_invalidate(tenant_id: int) -> None:
    hosts = Domain.objects.filter(tenant_id=tenant_id).values_list("domain", flat=True)
    hosts_invalidate(list(hosts))


def routing_tables_analyse() -> None:
    """Fresh planner statistics for the lookup's two tables (milliseconds: they hold one row per tenant/host)."""
    public = connection.ops.quote_name(settings.PUBLIC_SCHEMA_NAME)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {public}.tenants_tenant, {public}.tenants_domain")


# Model signals: whoever writes a Tenant or Domain through the ORM invalidates the hosts it concerns.


def _domain_loaded(sender: type[Domain], instance: Domain, **_: Any) -> None:
    # The host as loaded, so that a renamed domain invalidates its old host too.
    instance._routing_host = instance.domain


def _domain_changed(sender: type[Domain], instance: Domain, **_: Any) -> None:
    hosts_invalidate([instance.domain, getattr(instance, "_routing_host", "")])
    instance._routing_host = instance.domain


def _tenant_saved(
    sender: type[Tenant], instance: Tenant, created: bool = False, update_fields: Iterable[str] | None = None, **_: Any
) -> None:
    # A new tenant has no domain yet (its Domain's own save invalidates that host).
    if created or (update_fields is not None and set(update_fields) <= _UNCACHED_FIELDS):
        return
    tenant_hosts_invalidate(instance.pk)


def _tenant_deleting(sender: type[Tenant], instance: Tenant, **_: Any) -> None:
    # Its domains go with it (their own post_delete fires too); collected here in case they go another way.
    tenant_hosts_invalidate(instance.pk)


def signals_connect() -> None:
    from django.db.models.signals import post_delete, post_init, post_save, pre_delete

    post_init.connect(_domain_loaded, sender=Domain, dispatch_uid="routing-domain-loaded")
    post_save.connect(_domain_changed, sender=Domain, dispatch_uid="routing-domain-saved")
    post_delete.connect(_domain_changed, sender=Domain, dispatch_uid="routing-domain-deleted")
    post_save.connect(_tenant_saved, sender=Tenant, dispatch_uid="routing-tenant-saved")
    pre_delete.connect(_tenant_deleting, sender=Tenant, dispatch_uid="routing-tenant-deleting")
