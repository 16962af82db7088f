"""The tenancy context: which workspace schema the connection is on (django-tenants adds these to the backend
at runtime; typed here)."""

from __future__ import annotations

from django.db import connection


def current_schema() -> str:
    return str(connection.schema_name)  # type: ignore[attr-defined]


def use_public_schema() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]
