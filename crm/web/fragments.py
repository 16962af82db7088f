"""Workspace configuration the pages read on every request, cached per workspace: the pipelines and stages of
the board, the custom field definitions of lists and cards.

What is cached is the same for every member of the workspace (rows, never HTML rendered for one user or role):
each page still applies the reader's role to it. Keys live in the default cache, which prefixes every key with
the connection's schema (django_tenants.cache.make_key); an entry also carries the workspace's id, so a schema
name used again by a later workspace never reads an earlier one's entries.

A stale entry never shows. Every write to a watched table, through any path (a service, a bulk update that
sends no model signal, a deletion cascading from a pipeline, raw SQL through Django), replaces the scope's
version with a new random token: once when the statement runs (so the writer's own next read, even inside its
transaction, misses) and again when its transaction commits (so a reader that filled the cache from the data
before the commit misses too). An entry is served only under the version it was computed under. A random
token rather than a counter: a version evicted from the cache never comes back as an old entry's.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.models import Pipeline, Stage

log = logging.getLogger(__name__)

PIPELINES = "pipelines"
CUSTOM_FIELDS = "customfields"
# Tables whose writes replace a scope's version.
WATCHED = {"deals_pipeline": PIPELINES, "deals_stage": PIPELINES, "customfields_customfield": CUSTOM_FIELDS}
# An hour: a refill costs one small query, and the bound holds even if a bump were ever lost.
TTL = 3600
_PREFIX = "crm.web.fragments"
_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCAT", "COPY", "ALTER", "DROP", "CREATE")

T = TypeVar("T")


def _version_key(scope: str) -> str:
    return f"{_PREFIX}:{scope}:version"


@contextmanager
def _keys_of(schema: str) -> Iterator[None]:
    """Cache keys of `schema` whatever the connection is on now (make_key reads only `schema_name`)."""
    current = connection.schema_name  # type: ignore[attr-defined]
    if current == schema:
        yield
        return
    connection.schema_name = schema  # type: ignore[attr-defined]
    try:
        yield
    finally:
        connection.schema_name = current  # type: ignore[attr-defined]


def bump(scope: str, schema: str) -> None:
    """A new version of `scope` in the workspace of `schema`: every entry of the scope is stale."""
    try:
        with _keys_of(schema):
            cache.set(_version_key(scope), uuid.uuid4().hex, timeout=TTL)
    except Exception:
        # Without the bump an entry could outlive its data: the write that needs it is refused (the on-commit
        # bump, robust, only logs).
        log.exception("could not invalidate the cached %s of %s", scope, schema)
        raise


def _bump_after_commit(scope: str, schema: str) -> Callable[[], None]:
    """The on-commit callback of a write to a watched table."""

    def fragments_invalidate_after_commit() -> None:
        bump(scope, schema)

    return fragments_invalidate_after_commit


def _watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    result = execute(sql, params, many, context)
    if sql.lstrip()[:8].upper().startswith(_WRITES):
        scopes = {scope for table, scope in WATCHED.items() if table in sql}
        if scopes:
            db: BaseDatabaseWrapper = context["connection"]
            schema = getattr(db, "schema_name", settings.PUBLIC_SCHEMA_NAME)
            for scope in scopes:
                # Outside a transaction the statement is committed already, and this bump runs at once.
                transaction.on_commit(_bump_after_commit(scope, schema), using=db.alias, robust=True)
                bump(scope, schema)
    return result


def watch_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: watch every statement of the connection for writes to WATCHED tables."""
    if _watch not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _watch)


def cached(scope: str, name: str, compute: Callable[[], T]) -> T:
    """`compute()`, cached for the current workspace under `scope` (which WATCHED invalidates) and `name`."""
    tenant_id = getattr(getattr(connection, "tenant", None), "pk", None)
    if tenant_id is None or connection.schema_name == settings.PUBLIC_SCHEMA_NAME:  # type: ignore[attr-defined]
        return compute()
    version_key, key = _version_key(scope), f"{_PREFIX}:{scope}:{name}"
    try:
        found = cache.get_many([version_key, key])
        version = found.get(version_key)
        if version is None:
            cache.add(version_key, uuid.uuid4().hex, timeout=TTL)
            version = cache.get(version_key)
    except Exception:
        log.warning("cache unavailable: %s read from the database", scope, exc_info=True)
        return compute()
    entry = found.get(key)
    if isinstance(entry, tuple) and len(entry) == 3 and entry[0] == version and entry[1] == tenant_id:
        return entry[2]
    value = compute()
    if version is not None:
        try:
            cache.set(key, (version, tenant_id, value), timeout=TTL)
        except Exception:
            log.warning("cache unavailable: %s not stored", scope, exc_info=True)
    return value


# --- what is cached --------------------------------------------------------------------------------------------

M = TypeVar("M", bound=models.Model)


def _shape(model: type[models.Model]) -> tuple[list[str], str]:
    """The model's columns and a short digest of them: a migration that changes them changes the key."""
    names = [f.attname for f in model._meta.concrete_fields]
    return names, hashlib.sha1(",".join(names).encode(), usedforsecurity=False).hexdigest()[:8]


def _rows(model: type[M], name: str, queryset: Callable[[], models.QuerySet[M]], scope: str) -> list[M]:
    """The queryset's rows, cached as plain values and made into instances again on every read."""
    names, digest = _shape(model)
    rows = cached(scope, f"{name}:{digest}", lambda: [tuple(r) for r in queryset().values_list(*names)])
    return [model.from_db(connection.alias, names, row) for row in rows]


def custom_fields(record_type: RecordType | str) -> list[CustomField]:
    """crm.customfields.selectors.custom_fields_for, cached."""
    from crm.customfields.selectors import custom_fields_of

    record_type = RecordType(record_type)
    return _rows(CustomField, f"of:{record_type.value}", lambda: custom_fields_of(record_type), CUSTOM_FIELDS)


def active_pipelines() -> list[Pipeline]:
    """The active pipelines in the board's switcher order, cached."""
    from crm.deals.selectors import pipelines_all

    return _rows(Pipeline, "active", lambda: pipelines_all().filter(is_active=True), PIPELINES)


def stages(pipeline_id: int) -> list[Stage]:
    """crm.deals.selectors.stages_of, cached."""
    from crm.deals.selectors import stages_of

    return _rows(Stage, f"stages:{int(pipeline_id)}", lambda: stages_of(Pipeline(pk=pipeline_id)), PIPELINES)
