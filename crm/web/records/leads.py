"""The lead card, its form, deletion and the conversion into a company, contact and deal."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.companies.selectors import companies_visible_to
from crm.contacts.selectors import contacts_visible_to
from crm.core.types import RecordType
from crm.customfields.selectors import custom_fields_for
from crm.leads.models import Lead
from crm.leads.selectors import lead_get
from crm.leads.services import lead_convert, lead_create, lead_delete, lead_update
from crm.search.duplicates import company_duplicates, contact_duplicates
from crm.web.access import ACTIVITY_LINKS, conceal_related, hidden_fields
from crm.web.records.cards import CARDS, card_context, confirm_delete, edit_page, run_service
from crm.web.records.common import actor_of
from crm.web.records.forms import ConvertForm, LeadForm, lead_initial, user_choices
from tenants.accounts import policy


@login_required
@require_GET
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_get(actor_of(request), pk)
    conceal_related(actor_of(request), [lead], {n: ACTIVITY_LINKS[n] for n in ("company", "contact", "deal")})
    context = card_context(request, CARDS["leads"], lead)
    return render(request, "crm/records/lead_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def lead_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    form = LeadForm(
        request.POST or None,
        initial={"owner": user.pk},
        custom_fields=custom_fields_for(RecordType.LEAD),
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.LEAD),
    )
    if request.method == "POST" and form.is_valid():
        lead = run_service(form, lambda: lead_create(actor=user, data=form.record_data(drop_empty=True)))
        if lead is not None:
            messages.success(request, _("Lead “%(title)s” was created.") % {"title": lead.title})
            return redirect(lead)
    return render(
        request, "crm/records/form.html", {"form": form, "title": _("New lead"), "cancel_url": reverse("leads:list")}
    )


@login_required
@require_http_methods(["GET", "POST"])
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    lead = lead_get(user, pk)
    form = LeadForm(
        request.POST or None,
        initial=lead_initial(lead),
        custom_fields=custom_fields_for(RecordType.LEAD),
        custom_values=lead.custom_fields,
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.LEAD),
    )
    if lead.status == Lead.Status.CONVERTED:
        # What a converted lead said stays as it was; only its owner, tags and custom fields still change.
        for name in list(form.fields):
            if name not in {"owner", "tags", "version"} and not name.startswith("cf_"):
                del form.fields[name]
    return edit_page(
        request,
        form=form,
        record=lead,
        write=lambda: lead_update(
            actor=user,
            lead=copy.copy(lead),
            data=form.record_data(),
            expected_version=form.cleaned_data["version"],
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def lead_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    lead = lead_get(user, pk)
    return confirm_delete(
        request,
        record=lead,
        what=_("Lead"),
        delete=lambda: lead_delete(actor=user, lead=lead),
        done_url=reverse("leads:list"),
        cancel_url=lead.get_absolute_url(),
    )


@login_required
@require_http_methods(["GET", "POST"])
def lead_convert_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Link or create the company and the contact, create the deal: one step, all or nothing."""
    user = actor_of(request)
    lead = lead_get(user, pk)
    if lead.status == Lead.Status.CONVERTED:
        messages.info(request, _("This lead is already converted."))
        return redirect(lead)
    # What the role hides of the lead must not show through the records it matches either.
    hidden = hidden_fields(user, RecordType.LEAD)
    emails = [lead.email] if lead.email and "email" not in hidden else []
    phones = [lead.phone] if lead.phone and "phone" not in hidden else []
    suggested_companies = list(company_duplicates(user, name=lead.company_name, emails=emails, phones=phones))
    suggested_contacts = list(contact_duplicates(user, emails=emails, phones=phones))
    form = ConvertForm(
        request.POST or None,
        initial={
            "company_mode": "link" if suggested_companies else ("create" if lead.company_name else "none"),
            "company": suggested_companies[0].pk if suggested_companies else None,
            "contact_mode": "link"
            if suggested_contacts
            else ("create" if lead.contact_name or lead.email or lead.phone else "none"),
            "contact": suggested_contacts[0].pk if suggested_contacts else None,
            "deal_title": lead.title,
        },
        companies=companies_visible_to(user),
        contacts=contacts_visible_to(user),
        suggested_companies=suggested_companies,
        suggested_contacts=suggested_contacts,
    )
    if policy.hides(user, RecordType.DEAL, "amount"):
        del form.fields["deal_amount"]
    if request.method == "POST" and form.is_valid():
        typed = form.cleaned_data
        conversion = run_service(
            form,
            lambda: lead_convert(
                actor=user,
                lead=lead,
                company=typed["company"] if typed["company_mode"] == "link" else None,
                create_company=typed["company_mode"] == "create",
                contact=typed["contact"] if typed["contact_mode"] == "link" else None,
                create_contact=typed["contact_mode"] == "create",
                create_deal=typed["create_deal"],
                deal_data=form.deal_data(),
            ),
            renames={"title": "deal_title", "amount": "deal_amount", "currency": "deal_currency"},
        )
        if conversion is not None:
            messages.success(request, _("The lead was converted."))
            return redirect(conversion.deal or conversion.company or conversion.contact or conversion.lead)
    return render(
        request,
        "crm/records/lead_convert.html",
        {
            "record": lead,
            "form": form,
            "suggested_companies": suggested_companies,
            "suggested_contacts": suggested_contacts,
        },
    )
