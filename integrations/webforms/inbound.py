"""The form's inbound endpoint, /integrations/in/webforms/<token>/: a website's HTML form post (answered with a
page, or a 303 to the thank-you page) or a JSON call (answered in JSON), with CORS for the allowed websites.

Each call passes the core's checks (the connection named by the secret, the rate, the size), then the allowed
origins; what is refused is logged by the core, what is handled by services.submission_receive."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from integrations.core.inbound import (
    InboundRefused,
    body_read,
    connection_for_token,
    rate_check,
    refusal_log,
    refusal_response,
    request_summary,
)
from integrations.core.models import Connection
from integrations.webforms import selectors, services
from integrations.webforms.models import WebForm
from integrations.webforms.origins import origin_of
from integrations.webforms.snippet import form_context

JSON = "application/json"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
PREFLIGHT_MAX_AGE = "600"


def _is_json(request: HttpRequest) -> bool:
    return request.content_type == JSON


def _origin(request: HttpRequest) -> str | None:
    """Where the call comes from, as the browser says (Origin, else Referer); "" when neither is sent."""
    header = request.headers.get("Origin") or request.headers.get("Referer") or ""
    if not header:
        return ""
    return origin_of(header)


def _allowed(request: HttpRequest, form: WebForm | None, origin: str | None) -> bool:
    """Any origin when none are listed; a call that names none (a server's) is taken: the list keeps other
    websites' pages from posting through their visitors' browsers, it is no password. The workspace's own
    origin is always allowed: Kontor's page of a form's errors sends the form again from there."""
    if form is None or not form.allowed_origins or origin == "":
        return True
    return origin in form.allowed_origins or origin == origin_of(request.build_absolute_uri("/"))


def _cors(response: HttpResponse, form: WebForm | None, origin: str | None) -> HttpResponse:
    """Access-Control-Allow-Origin for an origin the form lists, and only for one."""
    response["Vary"] = "Origin"
    if form is not None and origin and origin in form.allowed_origins:
        response["Access-Control-Allow-Origin"] = origin
    return response


def _refusal(request: HttpRequest, refusal: InboundRefused) -> HttpResponse:
    """A page for a website's form post (a person sees it), JSON for everything else."""
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return refusal_response(refusal)
    response = render(
        request,
        "webforms/answer.html",
        {"refused": True, "code": refusal.code},
        status=refusal.status,
    )
    if refusal.retry_after:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _parse(request: HttpRequest, body: bytes) -> dict[str, Any]:
    """The submitted values by key (the last of repeated ones), from JSON or a form post."""
    if _is_json(request):
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InboundRefused(400, "malformed", "The body is not JSON.") from None
        if not isinstance(data, dict):
            raise InboundRefused(400, "malformed", "The body must be a JSON object of the form's fields.")
        return data
    try:
        if request.content_type == FORM_TYPES[0]:
            return dict(QueryDict(body, encoding=request.encoding or "utf-8").items())
        if request.content_type == FORM_TYPES[1]:
            parser = MultiPartParser(request.META, BytesIO(body), request.upload_handlers, request.encoding or "utf-8")
            values, _files = parser.parse()
            return dict(values.items())
    except (MultiPartParserError, SuspiciousOperation, ValueError):
        # Unreadable, or more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS.
        raise InboundRefused(400, "malformed", "The form data cannot be read.") from None
    raise InboundRefused(415, "unsupported_type", "Send JSON or form data.")


def _policy_with_form_action(origin: str) -> str:
    policy = [
        (name, [*sources, origin] if name == "form-action" else sources)
        for name, sources in settings.CONTENT_SECURITY_POLICY
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy)


def _summary(request: HttpRequest, origin: str | None) -> dict[str, Any]:
    return {**request_summary(request), "format": "json" if _is_json(request) else "form", "origin": origin or ""}


@csrf_exempt
@never_cache
@require_http_methods(["POST", "OPTIONS"])
def submit(request: HttpRequest, token: str) -> HttpResponse:
    try:
        conn = connection_for_token(token, kind=services.KIND)
    except InboundRefused as refusal:
        return _refusal(request, refusal)
    form = selectors.webform_of(conn)
    origin = _origin(request)
    if request.method == "OPTIONS":
        return _preflight(form, origin)
    try:
        if form is None:
            raise InboundRefused(409, "not_set_up", "The form has no fields yet.")
        rate_check(request, conn, per_address=settings.WEBFORMS_RATE_PER_ADDRESS)
        if not _allowed(request, form, origin):
            raise InboundRefused(403, "origin_not_allowed", "This website may not post to the form.")
        raw = _parse(request, body_read(request))
    except InboundRefused as refusal:
        refusal_log(conn, refusal, operation=services.OPERATION, request=request)
        return _cors(_refusal(request, refusal), form, origin)
    outcome = services.submission_receive(conn, form, raw, request=_summary(request, origin))
    response = _json_answer(outcome) if _is_json(request) else _page_answer(request, conn, form, raw, outcome)
    return _cors(response, form, origin)


def _preflight(form: WebForm | None, origin: str | None) -> HttpResponse:
    if form is None or not origin or origin not in form.allowed_origins:
        return refusal_response(InboundRefused(403, "origin_not_allowed", "This website may not post to the form."))
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return _cors(response, form, origin)


def _json_answer(outcome: services.Outcome) -> JsonResponse:
    if outcome.errors:
        body = {"error": {"code": "invalid", "message": "Some fields are not right.", "fields": outcome.errors}}
        return JsonResponse(body, status=422)
    placed = outcome.placed
    if placed is None:
        # Caught by the trap (answered as taken), or kept in the log to be placed later.
        return JsonResponse({"received": True}, status=202 if outcome.pending else 201)
    if placed.lead is not None:
        return JsonResponse({"received": True, "lead": placed.lead.pk, "task": placed.task.pk}, status=201)
    assert placed.contact is not None
    return JsonResponse({"received": True, "contact": placed.contact.pk, "task": placed.task.pk}, status=200)


def _page_answer(
    request: HttpRequest, conn: Connection, form: WebForm, raw: dict[str, Any], outcome: services.Outcome
) -> HttpResponse:
    if outcome.errors:
        values = {k: v for k, v in raw.items() if isinstance(v, str) and "\x00" not in v}
        context = form_context(form, request.build_absolute_uri(), values=values, errors=outcome.errors)
        response = render(request, "webforms/answer.html", {"name": conn.name, **context}, status=422)
        if form.redirect_url and (target := origin_of(form.redirect_url)):
            # Sent again from this page, the form is answered with a redirect to the thank-you page, which the
            # browser follows only if the page's form-action allows its origin.
            response["Content-Security-Policy"] = _policy_with_form_action(target)
        return response
    if form.redirect_url:
        return HttpResponseRedirect(form.redirect_url, status=303)
    message = form.success_message or _("Thank you! We will be in touch soon.")
    return render(request, "webforms/answer.html", {"name": conn.name, "message": message})
