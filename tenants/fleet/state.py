"""A schema's migration state as one short fingerprint, so the fleet's state is read from the public schema in
one query instead of from every schema's own `django_migrations` table."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connection


def migration_fingerprint(applied: Iterable[tuple[str, str]]) -> str:
    """sha256 of the sorted `app.name` lines of the applied migrations (order-independent, 64 hex chars)."""
    lines = sorted(f"{app}.{name}" for app, name in applied)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def schema_applied(schema_name: str) -> set[tuple[str, str]]:
    """The migrations recorded in `schema_name`'s own django_migrations table (empty when it has none).

    The table is named with its schema and checked with to_regclass: constant time, unlike Django's
    MigrationRecorder.has_table, which lists every table visible on the search path.
    """
    qualified = f"{connection.ops.quote_name(schema_name)}.django_migrations"
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [qualified])
        if cursor.fetchone()[0] is None:
            return set()
        cursor.execute(f"SELECT app, name FROM {qualified}")  # noqa: S608 - a quoted identifier
        return {(app, name) for app, name in cursor.fetchall()}
