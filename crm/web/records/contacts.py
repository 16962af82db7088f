"""The contact card, its form with the duplicate warning, deletion and merge."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.companies.selectors import companies_visible_to
from crm.contacts.models import Contact
from crm.contacts.selectors import contact_get, contacts_visible_to
from crm.contacts.services import contact_create, contact_delete, contact_merge, contact_update
from crm.core import formats
from crm.core.types import RecordType
from crm.customfields.selectors import custom_fields_for
from crm.search.duplicates import contact_duplicates
from crm.web.access import ACTIVITY_LINKS, conceal_related, hidden_fields
from crm.web.records.cards import CARDS, card_context, confirm_delete, edit_page, run_service
from crm.web.records.common import actor_of, show_errors
from crm.web.records.companies import split_list
from crm.web.records.forms import ContactForm, MergeForm, contact_initial, user_choices
from crm.web.records.selectors import deals_of_contact, merge_counts


@login_required
@require_GET
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_get(actor_of(request), pk)
    conceal_related(actor_of(request), [contact], {"company": ACTIVITY_LINKS["company"]})
    context = card_context(request, CARDS["contacts"], contact)
    context["deals"], context["deals_more"] = deals_of_contact(actor_of(request), contact)
    return render(request, "crm/records/contact_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def contact_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    companies = companies_visible_to(user)
    preset = companies.filter(pk=request.GET["company"]).first() if request.GET.get("company", "").isdigit() else None
    form = ContactForm(
        request.POST or None,
        initial={"company": preset.pk if preset else None, "owner": user.pk},
        companies=companies,
        current=preset,
        custom_fields=custom_fields_for(RecordType.CONTACT),
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.CONTACT),
    )
    duplicates: list[Contact] = []
    if request.method == "POST" and form.is_valid():
        typed = form.cleaned_data
        if not request.POST.get("create_anyway"):
            duplicates = list(
                contact_duplicates(
                    user,
                    first_name=typed["first_name"],
                    last_name=typed["last_name"],
                    emails=split_list(typed.get("emails", "")),
                    phones=split_list(typed.get("phones", "")),
                    company_id=typed["company"].pk if typed.get("company") else None,
                )
            )
        conceal_related(user, duplicates, {"company": ACTIVITY_LINKS["company"]})
        if not duplicates:
            contact = run_service(form, lambda: contact_create(actor=user, data=form.record_data(drop_empty=True)))
            if contact is not None:
                messages.success(request, _("Contact “%(name)s” was created.") % {"name": contact.full_name})
                return redirect(contact)
    return render(
        request,
        "crm/records/form.html",
        {
            "form": form,
            "title": _("New contact"),
            "duplicates": duplicates,
            "duplicate_type": RecordType.CONTACT.value,
            "cancel_url": preset.get_absolute_url() if preset else reverse("contacts:list"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    contact = contact_get(user, pk)
    form = ContactForm(
        request.POST or None,
        initial=contact_initial(contact),
        companies=companies_visible_to(user),
        current=contact.company,
        custom_fields=custom_fields_for(RecordType.CONTACT),
        custom_values=contact.custom_fields,
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.CONTACT),
    )
    return edit_page(
        request,
        form=form,
        record=contact,
        write=lambda: contact_update(
            actor=user,
            contact=copy.copy(contact),
            data=form.record_data(),
            expected_version=form.cleaned_data["version"],
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    contact = contact_get(user, pk)
    return confirm_delete(
        request,
        record=contact,
        what=_("Contact"),
        delete=lambda: contact_delete(actor=user, contact=contact),
        done_url=reverse("contacts:list"),
        cancel_url=contact.get_absolute_url(),
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_merge_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    contact = contact_get(user, pk)
    # NUL cannot be in any stored name (PostgreSQL refuses it in text): it separates words like a space.
    query = request.GET.get("q", "").replace("\x00", " ").strip()[:100]
    other_id = request.POST.get("other") or request.GET.get("other")
    other = contact_get(user, other_id) if other_id else None
    form = MergeForm(request.POST or None, initial={"other": other.pk if other else None, "keep": "this"})
    if other is not None and other.pk == contact.pk:
        form.add_error(None, _("Choose another contact."))
        other = None
    if request.method == "POST" and other is not None and form.is_valid():
        survivor, duplicate = (contact, other) if form.cleaned_data["keep"] == "this" else (other, contact)
        try:
            survivor = contact_merge(actor=user, survivor=survivor, duplicate=duplicate)
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("The contacts were merged into “%(name)s”.") % {"name": survivor.full_name})
            return redirect(survivor)
    suggestions = list(
        contact_duplicates(
            user,
            first_name=contact.first_name,
            last_name=contact.last_name,
            emails=contact.emails,
            phones=contact.phones,
            company_id=contact.company_id,
            exclude_id=contact.pk,
        )
    )
    found: list[Contact] = []
    if query:
        words = query.split()
        qs = contacts_visible_to(user).exclude(pk=contact.pk)
        for word in words[:3]:
            qs = qs.filter(last_name__icontains=word) | qs.filter(first_name__icontains=word)
        found = list(qs.select_related("company").order_by("last_name", "first_name")[:20])
    rows = []
    if other is not None:
        hidden = hidden_fields(user, RecordType.CONTACT)
        conceal_related(user, [contact, other], {"company": ACTIVITY_LINKS["company"]})
        rows = [
            (_("Name"), contact.full_name, other.full_name),
            (_("Position"), contact.position, other.position),
            (_("Company"), contact.company or "", other.company or ""),
            *(
                (label, show(getattr(contact, name)), show(getattr(other, name)))
                for name, label, show in (
                    ("phones", _("Phones"), lambda phones: ", ".join(formats.phone(p) for p in phones)),
                    ("emails", _("Emails"), ", ".join),
                )
                if name not in hidden
            ),
            (_("Owner"), contact.owner or "", other.owner or ""),
            (_("Created"), contact.created_at, other.created_at),
        ]
    return render(
        request,
        "crm/records/merge.html",
        {
            "record": contact,
            "other": other,
            "form": form,
            "query": query,
            "suggestions": suggestions,
            "found": found,
            "rows": rows,
            "counts": (merge_counts(user, record=contact), merge_counts(user, record=other)) if other else None,
            "what": _("contacts"),
            "merge_url": reverse("contacts:merge", args=[contact.pk]),
        },
    )
