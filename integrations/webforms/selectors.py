"""Reads of the website forms."""

from __future__ import annotations

from django.db.models import Prefetch

from integrations.core.models import Connection
from integrations.webforms.models import FormField, WebForm


def webform_of(conn: Connection) -> WebForm | None:
    """The connection's form with its fields in order (None for one not set up yet)."""
    return (
        WebForm.objects.filter(connection=conn)
        .prefetch_related(Prefetch("fields", queryset=FormField.objects.order_by("position", "id")))
        .first()
    )
