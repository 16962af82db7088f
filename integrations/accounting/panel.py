"""The panel on the deal and company cards (registered with crm.web.panels): the deal's mark for invoicing and
the invoices and payments 1C sent for the deal or the company. Shown once a 1C connection exists; amounts
follow the reader's role (hidden with the deal's amount)."""

from __future__ import annotations

from typing import cast

from django.db.models import Model
from django.http import HttpRequest
from django.template.loader import render_to_string

from crm.core.types import RecordType
from integrations.accounting import selectors
from integrations.accounting.models import Document
from tenants.accounts import policy
from tenants.accounts.models import User


def card_panel(request: HttpRequest, ns: str, record: Model) -> str:
    if not selectors.accounting_connected():
        return ""
    user = cast(User, request.user)
    on_deal = ns == "deals"
    where: dict[str, int] = {"deal_id": record.pk} if on_deal else {"company_id": record.pk}
    context = {
        "record": record,
        "on_deal": on_deal,
        "request_mark": selectors.invoice_request_of(record.pk) if on_deal else None,
        "can_mark": on_deal and policy.can_on(user, policy.Action.EDIT, RecordType.DEAL, record),
        "hide_amounts": policy.hides(user, RecordType.DEAL, "amount"),
        "invoices": list(selectors.documents_of(Document.Kind.INVOICE, **where)[: selectors.PANEL_ROWS]),
        "payments": list(selectors.documents_of(Document.Kind.PAYMENT, **where)[: selectors.PANEL_ROWS]),
    }
    return render_to_string("accounting/_card_panel.html", context, request=request)
