"""Reads for the webhook pages (their view checked the right to manage integrations first)."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.core.models import Connection
from integrations.webhooks.models import Delivery


def deliveries_of(conn: Connection, *, status: str = "") -> QuerySet[Delivery]:
    found = Delivery.objects.filter(connection=conn)
    if status:
        found = found.filter(status=status)
    return found.defer("body").order_by("-id")
