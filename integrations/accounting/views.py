"""The 1C exchange endpoint (1C calls it; the secret in its path, then HTTP Basic and a session cookie), the
setup page for the people who manage integrations, and the deal card's "invoice in 1C" button."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crm.core.types import RecordType
from crm.deals.selectors import deal_get
from integrations.accounting import protocol, selectors, services
from integrations.accounting.apps import KIND
from integrations.core import selectors as core_selectors
from integrations.core.inbound import InboundRefused, connection_for_token, rate_check, refusal_log, refusal_response
from integrations.core.views import manager_required
from tenants.accounts import policy
from tenants.accounts.models import User


@csrf_exempt
def exchange(request: HttpRequest, token: str) -> HttpResponse:
    conn = None
    try:
        conn = connection_for_token(token, kind=KIND)
        # 1C makes many calls in one exchange, all from one address: the connection's limit is the address's.
        rate_check(request, conn, per_address=settings.INTEGRATIONS_INBOUND_RATE_PER_CONNECTION)
        answer = protocol.handle(conn, request)
    except InboundRefused as refusal:
        if conn is not None:
            refusal_log(conn, refusal, operation="accounting.call", request=request)
        return refusal_response(refusal)
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    response["Cache-Control"] = "no-store"
    return response


@manager_required
@require_GET
def setup(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection, kind=KIND)
    path = reverse("accounting_in:exchange", kwargs={"token": "TOKEN"}).replace("TOKEN", f"…{conn.token_hint}")
    context = {
        "connection": conn,
        "address": request.build_absolute_uri(path),
        "state": selectors.out_state_of(conn),
        "runs": list(selectors.import_runs_of(conn)[:20]),
        "credentials_set": {"login", "password"} <= set(conn.secret_names),
    }
    return render(request, "accounting/setup.html", context)


@manager_required
@require_POST
def resend(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection, kind=KIND)
    services.out_reset(actor=cast(User, request.user), connection=conn)
    messages.success(request, _("Everything goes to 1C again with the next exchange."))
    return redirect("accounting:setup", connection=conn.pk)


@login_required
@require_POST
def invoice_request(request: HttpRequest, deal: int) -> HttpResponse:
    """Mark the deal for invoicing in 1C (or take the mark off with `off`)."""
    actor = cast(User, request.user)
    policy.require(actor, policy.Action.EDIT, RecordType.DEAL)
    found = deal_get(actor, deal)
    requested = request.POST.get("off") is None
    services.invoice_request_set(actor=actor, deal=found, requested=requested)
    if requested:
        messages.success(request, _("The deal goes to 1C for invoicing with the next exchange."))
    else:
        messages.success(request, _("The deal is no longer marked for invoicing."))
    return redirect(found)
