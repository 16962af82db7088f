"""Telephony's pages: Zadarma's notifications (no login: the secret in the path, Zadarma's signature), a
connection's calls (for people who manage integrations), and click-to-call from a card (any signed-in person
who sees the record)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.companies.selectors import company_get
from crm.contacts.selectors import contact_get
from crm.leads.selectors import lead_get
from integrations.core import inbound
from integrations.core import selectors as core_selectors
from integrations.core.models import Exchange
from integrations.core.services import connection_secrets, exchange_close, exchange_open
from integrations.core.views import manager_required
from integrations.telephony import selectors, services, tasks, zadarma
from integrations.telephony.kinds import KINDS, ZADARMA
from tenants.accounts import policy
from tenants.accounts.models import User

CALLS_PAGE_SIZE = 50
OPERATION = "telephony.zadarma"
RECORDING_DELAY = 45


# --- Zadarma's notifications -------------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def zadarma_notify(request: HttpRequest, token: str) -> HttpResponse:
    conn = None
    try:
        conn = inbound.connection_for_token(token, kind=ZADARMA)
        inbound.rate_check(request, conn)
        if request.method == "GET":
            # Zadarma checks the address before it sends anything: it wants its zd_echo back.
            echo = request.GET.get("zd_echo", "")
            if not echo or len(echo) > 128 or not echo.isprintable():
                raise inbound.InboundRefused(400, "bad_echo", "zd_echo is missing or not valid.")
            return HttpResponse(echo, content_type="text/plain")
        body = inbound.body_read(request)
        fields = _form(body)
        event = fields.get("event", "")
        if not (event.startswith("NOTIFY_") and event[7:].replace("_", "").isalnum()):
            # Not a notification of Zadarma's at all (no event, a body of something else).
            raise inbound.InboundRefused(400, "bad_notification", "The body is not a Zadarma notification.")
        if event not in zadarma.HANDLED:
            return JsonResponse({"status": "ignored"})  # NOTIFY_ANSWER, NOTIFY_IVR...: nothing to do, nothing done
        try:
            secret = connection_secrets(conn).get("api_secret", "")
        except Exception:
            raise inbound.InboundRefused(401, "bad_signature", "The connection has no API secret.") from None
        if not zadarma.signature_valid(secret, fields, request.headers.get("Signature", "")):
            raise inbound.InboundRefused(401, "bad_signature", "The signature is missing or does not match.")
        return _notification(request, conn, fields)
    except inbound.InboundRefused as refusal:
        if conn is not None:
            inbound.refusal_log(conn, refusal, operation=OPERATION, request=request)
        return inbound.refusal_response(refusal)


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise inbound.InboundRefused(400, "bad_body", "The body is not UTF-8 form data.") from None
    if "\x00" in text:
        raise inbound.InboundRefused(400, "bad_body", "The body holds a NUL character.")
    parsed = QueryDict(text, encoding="utf-8")
    return {key: parsed.get(key, "")[:1000] for key in list(parsed)[:100]}


def _notification(request: HttpRequest, conn: Any, fields: dict[str, str]) -> HttpResponse:
    event = fields.get("event", "")
    summary = {**inbound.request_summary(request), "event": event, "call": fields.get("pbx_call_id", "")[:128]}
    if event == "NOTIFY_RECORD":
        pbx_call_id, rec = fields.get("pbx_call_id", ""), fields.get("call_id_with_rec", "")
        if not pbx_call_id or not rec or len(rec) > 128 or len(pbx_call_id) > 128:
            raise inbound.InboundRefused(400, "bad_notification", "pbx_call_id and call_id_with_rec are needed.")
        entry = exchange_open(conn, direction=Exchange.Direction.INBOUND, operation=OPERATION, request=summary)
        exchange_close(entry, status=Exchange.Status.OK, counts={"recordings": 1})
        transaction.on_commit(lambda: tasks.recording_fetch.delay(conn.pk, pbx_call_id, rec))
        return JsonResponse({"status": "ok"})
    tz = (
        zadarma.zone(str(conn.settings.get("time_zone") or ""))
        if conn.settings.get("time_zone")
        else services.workspace_zone()
    )
    try:
        call = zadarma.call_of(fields, tz=tz, now=timezone.now())
    except zadarma.BadNotification as exc:
        raise inbound.InboundRefused(400, "bad_notification", str(exc)) from None
    entry = services.call_handle(conn, call, request=summary)
    if entry.status != Exchange.Status.OK:
        return JsonResponse({"error": {"code": "not_logged", "message": entry.error}}, status=422)
    if recorded := call.extra.get("call_id_with_rec", ""):
        pbx_call_id, rec = call.pbx_call_id, recorded
        # Zadarma advises fetching a recording some 40 s after the call (NOTIFY_RECORD says when it is saved).
        transaction.on_commit(
            lambda: tasks.recording_fetch.apply_async((conn.pk, pbx_call_id, rec), countdown=RECORDING_DELAY)
        )
    return JsonResponse({"status": "ok"})


# --- a connection's calls ----------------------------------------------------------------------------------------


@manager_required
@require_GET
def calls(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection)
    if conn.kind not in KINDS:
        raise Http404
    page = Paginator(selectors.calls_of(conn), CALLS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "telephony/calls.html", {"connection": conn, "page": page})


# --- click-to-call ---------------------------------------------------------------------------------------------

_GETTERS: dict[str, Callable[[User, object], Any]] = {"contact": contact_get, "company": company_get, "lead": lead_get}


def _record_phones(user: User, record_type: str, record: Any) -> list[str]:
    if record_type == "lead":
        return [record.phone] if record.phone and not policy.hides(user, "lead", "phone") else []
    return list(record.phones) if not policy.hides(user, record_type, "phones") else []


def _refused(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": {"code": "call_refused", "message": message}}, status=status)
    return render(request, "telephony/call_refused.html", {"message": message}, status=status)


@login_required
@require_POST
def call_place(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    record_type = request.POST.get("record_type", "")
    record_id = request.POST.get("record_id", "")
    phone = request.POST.get("phone", "")[:40]
    if record_type not in _GETTERS or not record_id.isdigit() or len(record_id) > 18 or not phone:
        return _refused(request, 422, _("Say which number of which record to call."))
    record = _GETTERS[record_type](user, int(record_id))  # 404 for a record the user does not see
    if phone not in _record_phones(user, record_type, record):
        return _refused(request, 422, _("This number is not on the record."))
    try:
        services.call_place(actor=user, phone=phone)
    except services.CallRefused as exc:
        return _refused(request, exc.status, exc.message)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"status": "calling"})
    messages.success(request, _("Calling %(number)s: pick up your phone.") % {"number": phone})
    return redirect(record.get_absolute_url())


def call_button(request: HttpRequest, record: Any, phone: str) -> str:
    """The "Call" button beside a phone number on a card (crm.web.phone_actions), for a person with a line."""
    record_type = getattr(getattr(record, "_meta", None), "model_name", "")
    if record_type not in _GETTERS or not phone:
        return ""
    cache = "_telephony_line"
    if not hasattr(request, cache):
        setattr(request, cache, selectors.line_of(cast(User, request.user)))
    if getattr(request, cache) is None:
        return ""
    context = {"record_type": record_type, "record_id": record.pk, "phone": phone}
    return render_to_string("telephony/_call_button.html", context, request=request)
