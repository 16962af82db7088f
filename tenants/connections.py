"""Database connections recycled after they have served DATABASE_CONN_MAX_SCHEMAS schemas.

A PostgreSQL backend keeps, for its whole life, the catalog entries of every relation it has opened (its
relation cache): each workspace schema whose tables a connection touched adds its share, so a long-lived
connection of a worker that serves many workspaces grows with the number of workspaces. We count the distinct
schemas a connection was set to and close it at the end of a request or task once it has passed the cap; the
next request opens a fresh one. 0 turns this off.

Each schema switch is recorded by django-tenants' EXTRA_SET_TENANT_METHOD_PATH hook (`schema_recorded`), cheap
enough for every switch (a set insertion); a new connection starts with the schema it opens on.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

_ATTRIBUTE = "kontor_schemas_served"


def schemas_served(wrapper: BaseDatabaseWrapper) -> set[str]:
    """The schemas the wrapper's current database connection has been set to (empty while it has none)."""
    served: set[str] = getattr(wrapper, _ATTRIBUTE, set())
    return served if wrapper.connection is not None else set()


def schema_recorded(wrapper: BaseDatabaseWrapper, tenant: Any) -> None:
    """django-tenants calls this on every schema switch (settings.EXTRA_SET_TENANT_METHOD_PATH)."""
    if wrapper.connection is None:
        # Not connected: the schema is recorded when the connection opens on it (connection_created).
        return
    served = getattr(wrapper, _ATTRIBUTE, None)
    if served is None:
        served = set()
        setattr(wrapper, _ATTRIBUTE, served)
    served.add(tenant.schema_name)


def _connection_opened(sender: Any, connection: BaseDatabaseWrapper, **_: Any) -> None:
    schema = getattr(connection, "schema_name", None)
    setattr(connection, _ATTRIBUTE, {schema} if schema else set())


def connections_recycle(**_: Any) -> None:
    """Close each connection of this thread that has served more schemas than the cap (request_finished,
    task_postrun). Never inside a transaction: a test's, or a caller's that is still running."""
    cap: int = getattr(settings, "DATABASE_CONN_MAX_SCHEMAS", 0)
    if cap <= 0:
        return
    for wrapper in connections.all(initialized_only=True):
        if wrapper.in_atomic_block or len(schemas_served(wrapper)) <= cap:
            continue
        wrapper.close()


def signals_connect() -> None:
    from django.core.signals import request_finished
    from django.db.backends.signals import connection_created

    connection_created.connect(_connection_opened, dispatch_uid="kontor-schemas-served")
    request_finished.connect(connections_recycle, dispatch_uid="kontor-connections-recycle")
