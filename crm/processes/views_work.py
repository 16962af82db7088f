"""Pages and actions where people meet running processes: the panel on a record's card (approve, reject, start
by hand, cancel), the approvals in My day, and a person's notifications.

Every action first finds the record visible to the person (a record they may not see is a 404, like a missing
one), then the step or instance among that record's processes (another record's is a 404), then asks the engine,
which checks who may decide, start or cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.processes import engine, selectors
from crm.processes.models import Instance
from tenants.accounts import policy
from tenants.accounts.models import User

RECORD_TYPES = ("deal", "lead", "company", "contact")
MAX_COMMENT = 2000


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _record_getter(record_type: str) -> Callable[[User, object], Model]:
    """The record kind's own selector: the record if the user may see it, else 404."""
    from crm.companies.selectors import company_get
    from crm.contacts.selectors import contact_get
    from crm.deals.selectors import deal_get
    from crm.leads.selectors import lead_get

    getters: dict[str, Callable[[User, object], Model]] = {
        "deal": deal_get,
        "lead": lead_get,
        "company": company_get,
        "contact": contact_get,
    }
    if record_type not in getters:
        raise Http404
    return getters[record_type]


def _record(request: HttpRequest, record_type: str, record_id: int) -> Model:
    if selectors.parse_id(record_id) is None:
        raise Http404
    return _record_getter(record_type)(_actor(request), record_id)


def instance_path(instance: Instance) -> str:
    """The administrators' page of an instance (built by hand while that page is not routed)."""
    try:
        return reverse("processes:instance", args=[instance.definition_id, instance.pk])
    except NoReverseMatch:
        return f"/settings/processes/{instance.definition_id}/instances/{instance.pk}/"


# --- the card's panel --------------------------------------------------------------------------------------


def panel_context(
    request: HttpRequest,
    record_type: str,
    record: Model,
    *,
    message: str = "",
    errors: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """What the panel shows; None when the record has no processes and none can be started."""
    user = _actor(request)
    running, finished = selectors.record_processes(record_type=record_type, record_id=record.pk)
    can_start = policy.can_on(user, policy.Action.EDIT, record_type, record)
    startable = (
        selectors.manual_definitions(record_type=record_type, exclude=[view.instance.definition_id for view in running])
        if can_start
        else []
    )
    if not running and not finished and not startable and not message:
        return None
    can_manage = policy.has_permission(user, policy.WorkspacePermission.MANAGE_PROCESSES)
    if can_manage:
        for view in running:
            view.admin_url = instance_path(view.instance)
    return {
        "record": record,
        "record_type": record_type,
        "running": running,
        "finished": finished,
        "startable": startable,
        "can_manage": can_manage,
        "user_id": user.pk,
        "now": timezone.now(),
        "message": message,
        "errors": errors or {},
    }


def panel_html(
    request: HttpRequest, record_type: str, record: Model, *, message: str = "", errors: dict[str, Any] | None = None
) -> str:
    context = panel_context(request, record_type, record, message=message, errors=errors)
    if context is None:
        return ""
    return render_to_string("processes/work/_panel.html", context, request=request)


def _answer(
    request: HttpRequest,
    record_type: str,
    record: Model,
    *,
    done: str = "",
    error: str = "",
    errors: dict[str, Any] | None = None,
) -> HttpResponse:
    """htmx: the panel (or My day's approvals) again, with what happened; otherwise back to where it came from."""
    from_my_day = request.POST.get("back") == "my_day"
    if _is_htmx(request):
        # A refusal is 422 with the errors in place (the page's script swaps 422 answers in, as for every form).
        status = 422 if error or errors else 200
        if from_my_day:
            return _my_day_approvals(request, message=done or error, errors=errors, status=status)
        return HttpResponse(
            panel_html(request, record_type, record, message=done or error, errors=errors), status=status
        )
    if error or errors:
        messages.error(request, error or " ".join(str(m) for m in (errors or {}).values() if isinstance(m, str)))
    elif done:
        messages.success(request, done)
    if from_my_day:
        return redirect("home")
    url = record.get_absolute_url() if hasattr(record, "get_absolute_url") else reverse("home")
    return HttpResponseRedirect(url)


def _my_day_approvals(
    request: HttpRequest, *, message: str = "", errors: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "processes/work/_my_day_approvals.html",
        {
            "approvals": selectors.approvals_waiting_for(_actor(request)),
            "now": timezone.now(),
            "approvals_message": message,
            "approval_errors": errors or {},
        },
        status=status,
    )


def _first_message(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


@login_required
@require_POST
def step_decide(request: HttpRequest, record_type: str, record_id: int, step: str) -> HttpResponse:
    """An approver approves or rejects (with a comment) the approval step of one of the record's processes."""
    record = _record(request, record_type, record_id)
    run = selectors.record_step_get(record_type=record_type, record_id=record.pk, pk=step)
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        return HttpResponse(_("Choose approve or reject."), status=400, content_type="text/plain; charset=utf-8")
    comment = request.POST.get("comment", "")[: MAX_COMMENT + 1]
    try:
        # The engine refuses (403) anyone the step does not name, and a second decision.
        engine.approval_decide(actor=_actor(request), step=run, approve=decision == "approve", comment=comment)
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "comment" in exc.message_dict:
            errors = {"step": run.pk, "comment": " ".join(exc.message_dict["comment"])}
            return _answer(request, record_type, record, errors=errors)
        message = _("This approval was already decided.") if not _still_waiting(run) else _first_message(exc)
        return _answer(request, record_type, record, error=message)
    done = _("You approved it.") if decision == "approve" else _("You rejected it.")
    return _answer(request, record_type, record, done=done)


def _still_waiting(run: Any) -> bool:
    run.refresh_from_db(fields=["state"])
    return bool(run.state == run.State.ACTIVE)


@login_required
@require_POST
def process_start(request: HttpRequest, record_type: str, record_id: int) -> HttpResponse:
    """Start a process by hand on the record (whoever may edit it)."""
    record = _record(request, record_type, record_id)
    # Someone who may not edit the record starts nothing (403), whichever process they name.
    policy.require_on(_actor(request), policy.Action.EDIT, record_type, record)
    definition = selectors.manual_definition_get(record_type=record_type, pk=request.POST.get("definition"))
    try:
        engine.manual_start(actor=_actor(request), definition=definition, record=record, record_type=record_type)
    except ValidationError as exc:
        return _answer(request, record_type, record, error=_first_message(exc))
    return _answer(request, record_type, record, done=_("“%(name)s” started.") % {"name": definition.name})


@login_required
@require_POST
def instance_cancel(request: HttpRequest, record_type: str, record_id: int, instance: str) -> HttpResponse:
    """Stop one of the record's running processes (those who manage processes)."""
    record = _record(request, record_type, record_id)
    found = selectors.record_instance_get(record_type=record_type, record_id=record.pk, pk=instance)
    reason = request.POST.get("reason", "")[:MAX_COMMENT]
    try:
        engine.instance_cancel(actor=_actor(request), instance=found, reason=reason)
    except ValidationError as exc:
        return _answer(request, record_type, record, error=_first_message(exc))
    return _answer(request, record_type, record, done=_("The process was cancelled."))


# --- notifications -----------------------------------------------------------------------------------------


def _safe_target(url: str) -> str:
    """Only a path of this site: never another host ("//evil.com", "https://evil.com", "/\\evil.com")."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")) or "\x00" in url:
        return ""
    if any(c in url for c in "\r\n\t") or not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return ""
    return url


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_of(_actor(request)), selectors.NOTIFICATIONS_PAGE).get_page(
        request.GET.get("page", "1").replace("\x00", "")[:12]
    )
    return render(request, "processes/work/notifications.html", {"page": page})


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    marked = engine.notifications_mark_read(actor=_actor(request))
    if marked:
        messages.success(request, _("All notifications are marked read."))
    return redirect("process_work:notifications")


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: str) -> HttpResponse:
    """Open a notification: it is marked read, and the person goes where it points (a path of this site)."""
    notice = selectors.notification_get(_actor(request), pk)
    engine.notifications_mark_read(actor=_actor(request), notification=notice)
    return HttpResponseRedirect(_safe_target(notice.url) or reverse("process_work:notifications"))


@login_required
@require_GET
def notifications_unread(request: HttpRequest) -> HttpResponse:
    """The header's link with the unread count (loaded by htmx after the page)."""
    count = selectors.notifications_unread_count(_actor(request))
    return render(request, "processes/work/_bell.html", {"unread": count})
