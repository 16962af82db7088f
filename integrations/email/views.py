"""Pages: a mailbox's logged messages and "read now" (for the integrations' managers), the email templates
(/settings/integrations/email/templates/), and the compose page opened from a contact's card."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.contacts.selectors import contact_get, contacts_visible_to
from crm.core.types import RecordType
from integrations.core.selectors import connection_get
from integrations.core.views import manager_required
from integrations.email import selectors, services
from integrations.email.forms import ComposeForm, TemplateForm
from integrations.email.selectors import KIND
from tenants.accounts import policy
from tenants.accounts.models import User

PAGE_SIZE = 50
EXAMPLE = "{{ contact.first_name }}"


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _errors_to(form: TemplateForm | ComposeForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- a mailbox's messages ---------------------------------------------------------------------------------------


@manager_required
@require_GET
def mailbox_messages(request: HttpRequest, connection: int) -> HttpResponse:
    conn = connection_get(connection, kind=KIND)
    # One thread's messages (?thread=<its root Message-ID>), oldest first; else the latest of all.
    thread = request.GET.get("thread", "")[:998].replace("\x00", "")
    found = selectors.messages_of(conn, thread=thread)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    # Managing the mailbox is not seeing every client: a contact the viewer may not see is not named.
    linked = {m.activity.contact_id for m in page.object_list if m.activity is not None and m.activity.contact_id}
    visible = set(contacts_visible_to(cast(User, request.user)).filter(pk__in=linked).values_list("pk", flat=True))
    context = {"connection": conn, "page": page, "thread": thread, "visible_contacts": visible}
    return render(request, "email/messages.html", context)


@manager_required
@require_POST
def mailbox_sync(request: HttpRequest, connection: int) -> HttpResponse:
    conn = connection_get(connection, kind=KIND)
    from integrations.email import tasks

    pk = conn.pk
    transaction.on_commit(lambda: tasks.sync.delay(pk))
    messages.success(request, _("The mailbox will be read in a moment."))
    return redirect("email:messages", connection=conn.pk)


# --- templates ----------------------------------------------------------------------------------------------------


@manager_required
@require_GET
def templates(request: HttpRequest) -> HttpResponse:
    from integrations.email.merge import FIELDS

    context = {"templates": selectors.templates(), "fields": [f"{{{{ {f} }}}}" for f in FIELDS], "example": EXAMPLE}
    return render(request, "email/templates.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def template_new(request: HttpRequest) -> HttpResponse:
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.template_create(actor=_actor(request), **form.cleaned_data)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("Template saved."))
            return redirect("email:templates")
    status = 422 if request.method == "POST" else 200
    return render(request, "email/template_form.html", {"form": form}, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, template: int) -> HttpResponse:
    found = selectors.template_get(template)
    form = TemplateForm(request.POST or None, instance=found)
    if request.method == "POST" and form.is_valid():
        try:
            services.template_update(actor=_actor(request), template=found, **form.cleaned_data)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("Template saved."))
            return redirect("email:templates")
    status = 422 if request.method == "POST" else 200
    return render(request, "email/template_form.html", {"form": form, "template": found}, status=status)


@manager_required
@require_POST
def template_delete(request: HttpRequest, template: int) -> HttpResponse:
    found = selectors.template_get(template)
    services.template_delete(actor=_actor(request), template=found)
    messages.success(request, _("Template deleted."))
    return redirect("email:templates")


# --- writing from a card ------------------------------------------------------------------------------------------


def card_action_url(user: User, record: Model) -> str | None:
    """The "Email" action of a contact's card: offered to someone who may log activities, sees the contact's
    addresses and has a mailbox to send from."""
    emails = getattr(record, "emails", None)
    if not emails or not policy.can(user, policy.Action.CREATE, RecordType.ACTIVITY):
        return None
    if policy.hides(user, RecordType.CONTACT, "emails") or not selectors.mailboxes_for(user):
        return None
    return reverse("email:compose", kwargs={"contact_id": record.pk})


@login_required
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = _actor(request)
    policy.require(user, policy.Action.CREATE, RecordType.ACTIVITY)
    contact = contact_get(user, contact_id)
    hidden = policy.hides(user, RecordType.CONTACT, "emails")
    mailboxes = selectors.mailboxes_for(user)
    recipients = [] if hidden else list(contact.emails)
    templates_found = list(selectors.templates())
    initial = {}
    chosen = request.GET.get("template", "")
    if request.method == "GET" and chosen.isdigit():
        picked = next((t for t in templates_found if t.pk == int(chosen)), None)
        if picked is not None:
            initial = {"template": picked.pk, "subject": picked.subject, "body": picked.body}
    form = ComposeForm(
        request.POST or None, initial=initial, mailboxes=mailboxes, recipients=recipients, templates=templates_found
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        conn = next(m for m in mailboxes if m.pk == data["mailbox"])
        try:
            services.message_compose(
                actor=user, connection=conn, contact=contact, to=data["to"], subject=data["subject"], body=data["body"]
            )
        except ValidationError as exc:
            _errors_to(form, exc)
        except PermissionDenied:
            form.add_error("mailbox", _("You may not send from this mailbox."))
        else:
            messages.success(request, _("The email is on its way."))
            return redirect(contact)
    context = {"form": form, "contact": contact, "hidden": hidden, "mailboxes": mailboxes, "example": EXAMPLE}
    return render(request, "email/compose.html", context, status=422 if request.method == "POST" else 200)
