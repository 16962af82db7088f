"""What every card (company, contact, deal, lead) has: the timeline with its "older" pages, the next planned
action, quick-add of a task, call or note, files, custom field values, and the form/delete page plumbing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.activities.services import activity_create
from crm.companies.selectors import company_get
from crm.contacts.selectors import contact_get
from crm.core.services import StaleVersion
from crm.core.types import RecordType
from crm.deals.selectors import deal_get
from crm.files.selectors import attachment_get
from crm.files.services import attachment_create, attachment_delete
from crm.leads.selectors import lead_get
from crm.web.access import hidden_fields
from crm.web.card_actions import card_actions_for
from crm.web.panels import panels_render
from crm.web.records.common import actor_of, is_htmx, parse_before, show_errors, stale_error
from crm.web.records.forms import QuickAddForm, UploadForm
from crm.web.records.selectors import custom_values_of, files_of, next_action_of, timeline_of
from tenants.accounts.models import User

T = TypeVar("T")


@dataclass(frozen=True)
class CardKind:
    ns: str
    record_type: RecordType
    # The selector that finds the record visible to the user, or 404s.
    get: Callable[[User, object], Any]


CARDS = {
    "companies": CardKind("companies", RecordType.COMPANY, company_get),
    "contacts": CardKind("contacts", RecordType.CONTACT, contact_get),
    "deals": CardKind("deals", RecordType.DEAL, deal_get),
    "leads": CardKind("leads", RecordType.LEAD, lead_get),
}


def card_context(request: HttpRequest, kind: CardKind, record: Model) -> dict[str, Any]:
    user = actor_of(request)
    timeline = timeline_of(user, record_type=kind.record_type, record=record)
    return {
        "record": record,
        "ns": kind.ns,
        "timeline": timeline,
        "next_action": next_action_of(user, record_type=kind.record_type, record=record),
        "files": files_of(user, record_type=kind.record_type, record=record, timeline=timeline),
        "custom_values": custom_values_of(
            kind.record_type, getattr(record, "custom_fields", {}) or {}, hidden=hidden_fields(user, kind.record_type)
        ),
        "quick_form": QuickAddForm(),
        "upload_form": UploadForm(),
        # Panels other layers register for this kind of card (crm.web.panels).
        "panels": panels_render(request, kind.ns, record),
        # What other layers offer on this card (crm.web.card_actions).
        "card_actions": card_actions_for(user, kind.record_type, record),
    }


def run_service(form: forms.Form, write: Callable[[], T], **error_options: Any) -> T | None:
    """Call the service; on a validation error or a concurrent change, put the errors on the form instead."""
    try:
        return write()
    except ValidationError as exc:
        show_errors(form, exc, **error_options)
    except StaleVersion:
        stale_error(form)
    return None


class _Page(Protocol):
    def get_absolute_url(self) -> str: ...


def edit_page(request: HttpRequest, *, form: forms.Form, record: _Page, write: Callable[[], _Page]) -> HttpResponse:
    """The edit form of a record: on a valid POST call the service (`write`), else show the form again with
    the service's errors on it."""
    if request.method == "POST" and form.is_valid():
        updated = run_service(form, write)
        if updated is not None:
            messages.success(request, _("Saved."))
            return redirect(updated.get_absolute_url())
    return render(
        request,
        "crm/records/form.html",
        {
            "form": form,
            "record": record,
            "title": _("Edit %(name)s") % {"name": record},
            "cancel_url": record.get_absolute_url(),
        },
    )


def confirm_delete(
    request: HttpRequest, *, record: Model, what: str, delete: Callable[[], None], done_url: str, cancel_url: str
) -> HttpResponse:
    """GET asks, POST deletes through the service."""
    if request.method == "POST":
        delete()
        messages.success(request, _("%(what)s “%(name)s” was deleted.") % {"what": what, "name": record})
        return redirect(done_url)
    return render(
        request, "crm/records/confirm_delete.html", {"record": record, "what": what, "cancel_url": cancel_url}
    )


# --- the views shared by every card --------------------------------------------------------------------------


@login_required
@require_GET
def timeline_older(request: HttpRequest, pk: int, *, ns: str) -> HttpResponse:
    kind = CARDS[ns]
    record = kind.get(actor_of(request), pk)
    page = timeline_of(
        actor_of(request), record_type=kind.record_type, record=record, before=parse_before(request.GET.get("before"))
    )
    template = "crm/records/_timeline_page.html" if is_htmx(request) else "crm/records/timeline.html"
    return render(request, template, {"timeline": page, "record": record, "ns": ns})


@login_required
@require_POST
def quick_add(request: HttpRequest, pk: int, *, ns: str) -> HttpResponse:
    """Add a task, call or note to the card's record. htmx gets a fresh form plus the new timeline entry."""
    kind = CARDS[ns]
    record = kind.get(actor_of(request), pk)
    form = QuickAddForm(request.POST)
    activity = None
    if form.is_valid():
        data = {**form.cleaned_data, kind.record_type.value: record.pk}
        activity = run_service(form, lambda: activity_create(actor=actor_of(request), data=data))
    if not is_htmx(request):
        if activity is None:
            messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(record)
    context = {"record": record, "ns": ns, "quick_form": QuickAddForm() if activity else form, "added": activity}
    return render(request, "crm/records/_quick_add.html", context, status=200 if activity or not form.errors else 422)


@login_required
@require_POST
def file_upload(request: HttpRequest, pk: int, *, ns: str) -> HttpResponse:
    kind = CARDS[ns]
    record = kind.get(actor_of(request), pk)
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if run_service(form, lambda: attachment_create(actor=actor_of(request), record=record, upload=upload)):
            messages.success(request, _("The file was attached."))
            return redirect(record)
    messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(record)


def _attachment_of(request: HttpRequest, kind: CardKind, record: Model, file_pk: int) -> Any:
    attachment = attachment_get(actor_of(request), file_pk)
    # The file must belong to this record (a contact's or deal's file also belongs to its company).
    if getattr(attachment, f"{kind.record_type.value}_id") != record.pk:
        raise Http404
    return attachment


@login_required
@require_GET
def file_download(request: HttpRequest, pk: int, file_pk: int, *, ns: str) -> FileResponse:
    """Files are served only through here, after the record and the file are found visible: never from a
    public media URL."""
    kind = CARDS[ns]
    record = kind.get(actor_of(request), pk)
    attachment = _attachment_of(request, kind, record, file_pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, as_attachment=True, filename=attachment.name)
    response["Content-Type"] = attachment.content_type or "application/octet-stream"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def file_delete(request: HttpRequest, pk: int, file_pk: int, *, ns: str) -> HttpResponse:
    kind = CARDS[ns]
    record = kind.get(actor_of(request), pk)
    attachment = _attachment_of(request, kind, record, file_pk)
    url = record.get_absolute_url()
    return confirm_delete(
        request,
        record=attachment,
        what=_("File"),
        delete=lambda: attachment_delete(actor=actor_of(request), attachment=attachment),
        done_url=url,
        cancel_url=url,
    )
