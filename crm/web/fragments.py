"""Workspace configuration the pages read on every request, cached per workspace: the pipelines and stages of
the board, the custom field definitions of lists and cards.

What is cached is the same for every member of the workspace (rows, never HTML rendered for one user or role):
each page still applies the reader's role to it. Entries are kept by tenants.generations under the workspace's
schema and a scope (pipelines, custom fields); an entry also carries the workspace's id, so a schema name used
again by a later workspace never reads an earlier one's entries.

A stale entry never shows. Every write to a watched table, through any path (a service, a bulk update that
sends no model signal, a deletion cascading from a pipeline, raw SQL through Django), gives the scope a new
generation: once when the statement runs (so the writer's own next read, even inside its transaction, misses)
and again when its transaction commits (so a reader that filled the cache from the data before the commit misses
too). A write whose first invalidation cannot reach the cache is refused (the error propagates and its
transaction rolls back): an entry must not outlive its data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models
from django.db.backends.base.base import BaseDatabaseWrapper

from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.models import Pipeline, Stage
from tenants.generations import Generations

PIPELINES = "pipelines"
CUSTOM_FIELDS = "customfields"
# Tables whose writes replace a scope's generation.
WATCHED = {"deals_pipeline": PIPELINES, "deals_stage": PIPELINES, "customfields_customfield": CUSTOM_FIELDS}
# An hour: a refill costs one small query.
TTL = 3600
_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCAT", "COPY", "ALTER", "DROP", "CREATE")

_fragments = Generations("fragments", entry_seconds=TTL)

T = TypeVar("T")


def scope_of(scope: str, schema: str) -> str:
    """The generation scope of `scope` ("pipelines") in the workspace of `schema`."""
    return f"{schema}:{scope}"


def _watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    result = execute(sql, params, many, context)
    if not isinstance(sql, str):  # a psycopg sql.Composed
        sql = sql.as_string(context["connection"].connection)
    if sql.lstrip()[:8].upper().startswith(_WRITES):
        scopes = {scope for table, scope in WATCHED.items() if table in sql}
        if scopes:
            db: BaseDatabaseWrapper = context["connection"]
            schema = getattr(db, "schema_name", settings.PUBLIC_SCHEMA_NAME)
            for scope in scopes:
                _fragments.invalidate(scope_of(scope, schema), strict=True)
    return result


def watch_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: watch every statement of the connection for writes to WATCHED tables."""
    if _watch not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _watch)


def cached(scope: str, name: str, compute: Callable[[], T]) -> T:
    """`compute()`, cached for the current workspace under `scope` (which WATCHED invalidates) and `name`. While
    the cache is unreachable, `compute()` answers."""
    tenant_id = getattr(getattr(connection, "tenant", None), "pk", None)
    schema = connection.schema_name  # type: ignore[attr-defined]
    if tenant_id is None or schema == settings.PUBLIC_SCHEMA_NAME:
        return compute()
    where = scope_of(scope, schema)
    found, entry, generation = _fragments.get(where, name)
    if found and isinstance(entry, tuple) and len(entry) == 2 and entry[0] == tenant_id:
        return entry[1]
    value = compute()
    _fragments.put(where, name, generation, (tenant_id, value))
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


def workspace_forget(schema: str) -> None:
    """Every fragment cached for the workspace of `schema` is stale (its schema was replaced by a restore)."""
    for scope in set(WATCHED.values()):
        _fragments.invalidate(scope_of(scope, schema))
