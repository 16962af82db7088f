"""Reads on connections and their exchange log, for the people who manage integrations (others get a 403
from the page before any of these run, and a connection of another workspace is simply not in this schema)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from integrations.core.models import Connection, Exchange


def connections() -> QuerySet[Connection]:
    return Connection.objects.select_related("identity")


def connection_get(pk: object, *, kind: str | None = None) -> Connection:
    """One connection (of `kind` when given); anything else is a 404."""
    found = connections()
    if kind is not None:
        found = found.filter(kind=kind)
    return get_object_or_404(found, pk=pk)


def exchanges_of(conn: Connection, *, status: str = "") -> QuerySet[Exchange]:
    found = Exchange.objects.filter(connection=conn)
    if status:
        found = found.filter(status=status)
    return found.order_by("-id")


def exchange_get(conn: Connection, pk: object) -> Exchange:
    return get_object_or_404(Exchange.objects.filter(connection=conn), pk=pk)


def last_exchanges(conns: list[Connection]) -> dict[int, Exchange]:
    """The latest log entry of each connection (one query per connection: a workspace has a handful)."""
    latest = {}
    for conn in conns:
        entry = Exchange.objects.filter(connection=conn).order_by("-id").first()
        if entry is not None:
            latest[conn.pk] = entry
    return latest
