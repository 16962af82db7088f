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

import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from redis.exceptions import RedisError

from tenants.models import Domain, Tenant

logger = logging.getLogger(__name__)

# The cache whose keys are the same in every schema (the default one prefixes keys with the current schema).
CACHE_ALIAS = "shared"
# A found host is kept this long; changes through the models are seen at once, anything else after this.
FOUND_SECONDS = 600
# An unknown host is kept this long: enough to absorb a flood of requests for it.
NOT_FOUND_SECONDS = 30
# A host's generation token outlives any entry written before it, so an old entry can never match again.
TOKEN_SECONDS = 2 * FOUND_SECONDS
# After a cache error, lookups go straight to the database this long before trying the cache again.
CACHE_RETRY_SECONDS = 5
ROUTABLE_KINDS = (Tenant.Kind.WORKSPACE, Tenant.Kind.PUBLIC)
# Every field a request may read, so the Tenant is built without a query. migration_state is left out (deferred:
# loaded on access): the fleet migration rewrites it per schema and the request path never reads it.
_UNCACHED_FIELDS = frozenset({"migration_state"})
_FIELDS = tuple(f.attname for f in Tenant._meta.concrete_fields if f.attname not in _UNCACHED_FIELDS)

# The database's identity in every key: a recreated or restored-into-new database never meets the entries of the
# old one (same host, other tenant id). One query per process and database, read again whenever a connection to it
# is opened: a database dropped and created again cuts every connection, so a running worker learns the new
# identity on its next connection instead of using the old one's entries for as long as it lives.
_database_ids: dict[tuple[str, str, str], str] = {}
_trouble_logged_at = -60.0
_cache_down_until = 0.0


def _cache() -> BaseCache:
    return caches[CACHE_ALIAS]


def _where(wrapper: BaseDatabaseWrapper) -> tuple[str, str, str]:
    params = wrapper.settings_dict
    return (str(params.get("HOST") or ""), str(params.get("PORT") or ""), str(params["NAME"]))


def _database_id() -> str:
    where = _where(connection)
    found = _database_ids.get(where)
    if found is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
            found = _database_ids[where] = f"{where[2]}.{cursor.fetchone()[0]}"
    return found


def _connection_opened(sender: Any, connection: BaseDatabaseWrapper, **_: Any) -> None:
    _database_ids.pop(_where(connection), None)


def _keys(host: str) -> tuple[str, str]:
    base = f"routing:{_database_id()}:{host}"
    return f"{base}:gen", f"{base}:tenant"


def normalize_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def tenant_for_host(host: str) -> Tenant | None:
    """The workspace or public tenant answering at `host` (without port), or None."""
    host = normalize_host(host)
    if not host:
        return None
    values: tuple[Any, ...] | None
    if time.monotonic() < _cache_down_until:
        values = _read(host)
    else:
        try:
            values = _cached_read(host)
        except RedisError:
            # Routing must not depend on the cache being up: read the database, as every lookup did before it,
            # and leave the cache alone for a few seconds rather than wait for it on every request.
            _cache_trouble("host lookups read the database")
            values = _read(host)
    return None if values is None else Tenant.from_db(connection.alias, _FIELDS, values)


def _cached_read(host: str) -> tuple[Any, ...] | None:
    cache = _cache()
    gen_key, entry_key = _keys(host)
    found = cache.get_many([gen_key, entry_key])
    gen = found.get(gen_key)
    entry = found.get(entry_key)
    # A host never changed (or not for a while) has no token: None is its generation.
    if isinstance(entry, dict) and entry.get("gen") == gen and entry.get("fields") == _FIELDS:
        values: tuple[Any, ...] | None = entry["values"]
        return values
    values = _read(host)
    cache.set(
        entry_key,
        {"gen": gen, "fields": _FIELDS, "values": values},
        timeout=NOT_FOUND_SECONDS if values is None else FOUND_SECONDS,
    )
    return values


def _cache_trouble(what: str) -> None:
    """Logged at most once a minute per process: while Redis is down this happens again and again."""
    global _trouble_logged_at, _cache_down_until
    now = time.monotonic()
    _cache_down_until = now + CACHE_RETRY_SECONDS
    if now - _trouble_logged_at >= 60:
        _trouble_logged_at = now
        logger.warning("routing cache unavailable (%s)", what, exc_info=True)


def lookup_query(host: str) -> QuerySet[Tenant, tuple[Any, ...]]:
    """One indexed lookup (tenants_domain.domain is unique) joined to the tenant row."""
    return Tenant.objects.filter(domains__domain=host, kind__in=ROUTABLE_KINDS).order_by().values_list(*_FIELDS)[:1]


def _read(host: str) -> tuple[Any, ...] | None:
    row = list(lookup_query(host))
    return tuple(row[0]) if row else None


def hosts_invalidate(hosts: Iterable[str]) -> None:
    """Make the next lookup of each host read the database, now and again after the current transaction commits."""
    names = sorted({normalize_host(h) for h in hosts if h})
    if not names:
        return
    _tokens_replace(names)
    if connection.in_atomic_block:

        def routing_invalidate_after_commit() -> None:
            _tokens_replace(names)

        transaction.on_commit(routing_invalidate_after_commit)


def _tokens_replace(hosts: list[str]) -> None:
    try:
        _cache().set_many({_keys(h)[0]: secrets.token_hex(8) for h in hosts}, timeout=TOKEN_SECONDS)
    except RedisError:
        # The write stands: a cache that was down lost nothing, one that was only unreachable keeps what it had
        # for FOUND_SECONDS at most.
        logger.exception("could not invalidate the routing cache for %s", ", ".join(hosts))


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
    from django.db.backends.signals import connection_created
    from django.db.models.signals import post_delete, post_init, post_save, pre_delete

    connection_created.connect(_connection_opened, dispatch_uid="routing-connection-opened")
    post_init.connect(_domain_loaded, sender=Domain, dispatch_uid="routing-domain-loaded")
    post_save.connect(_domain_changed, sender=Domain, dispatch_uid="routing-domain-saved")
    post_delete.connect(_domain_changed, sender=Domain, dispatch_uid="routing-domain-deleted")
    post_save.connect(_tenant_saved, sender=Tenant, dispatch_uid="routing-tenant-saved")
    pre_delete.connect(_tenant_deleting, sender=Tenant, dispatch_uid="routing-tenant-deleting")
