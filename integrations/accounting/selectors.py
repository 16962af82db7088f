"""Reads of the 1C exchange: for the card panels (already past the card's own visibility check) and the setup
page (past the manage-integrations check)."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.accounting.apps import KIND
from integrations.accounting.models import Document, ImportRun, InvoiceRequest, OutState
from integrations.core.models import Connection

PANEL_ROWS = 20


def accounting_connected() -> bool:
    return Connection.objects.filter(kind=KIND).exists()


def invoice_request_of(deal_id: int) -> InvoiceRequest | None:
    return InvoiceRequest.objects.filter(deal_id=deal_id).first()


def documents_of(kind: str, *, deal_id: int | None = None, company_id: int = 0) -> QuerySet[Document]:
    """The invoices or payments of a deal, or of a company (on its card: its deals' too)."""
    found = Document.objects.filter(kind=kind)
    found = found.filter(deal_id=deal_id) if deal_id is not None else found.filter(company_id=company_id)
    return found.order_by("-date", "-id")


def out_state_of(conn: Connection) -> OutState | None:
    return OutState.objects.filter(connection=conn).first()


def import_runs_of(conn: Connection) -> QuerySet[ImportRun]:
    return ImportRun.objects.filter(connection=conn).select_related("file").order_by("-id")
