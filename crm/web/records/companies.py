"""The client card (company page), its form with the duplicate warning, deletion and merge."""

from __future__ import annotations

import copy
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to, company_get
from crm.companies.services import company_create, company_delete, company_merge, company_update
from crm.core import formats
from crm.core.types import RecordType
from crm.customfields.selectors import custom_fields_for
from crm.search.duplicates import company_duplicates
from crm.web.access import hidden_fields
from crm.web.records.cards import CARDS, card_context, confirm_delete, edit_page, run_service
from crm.web.records.common import actor_of, show_errors
from crm.web.records.forms import CompanyForm, MergeForm, company_initial, user_choices
from crm.web.records.selectors import company_card, merge_counts


def split_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,;]+", text or "") if part.strip()]


def _joined(value: str | list[str], name: str = "") -> str:
    if isinstance(value, list):
        return ", ".join(formats.phone(v) if name == "phones" else v for v in value)
    return value


@login_required
@require_GET
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_get(actor_of(request), pk)
    context = card_context(request, CARDS["companies"], company)
    context["card"] = company_card(actor_of(request), company)
    return render(request, "crm/records/company_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def company_new(request: HttpRequest) -> HttpResponse:
    """Create a company; when it looks like one that exists, show the matches and ask for "create anyway"."""
    user = actor_of(request)
    form = CompanyForm(
        request.POST or None,
        initial={"owner": user.pk},
        custom_fields=custom_fields_for(RecordType.COMPANY),
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.COMPANY),
    )
    duplicates: list[Company] = []
    if request.method == "POST" and form.is_valid():
        typed = form.cleaned_data
        if not request.POST.get("create_anyway"):
            duplicates = list(
                company_duplicates(
                    user,
                    name=typed["name"],
                    tax_id=typed.get("tax_id", ""),
                    emails=split_list(typed.get("emails", "")),
                    phones=split_list(typed.get("phones", "")),
                )
            )
        if not duplicates:
            company = run_service(form, lambda: company_create(actor=user, data=form.record_data(drop_empty=True)))
            if company is not None:
                messages.success(request, _("Company “%(name)s” was created.") % {"name": company.name})
                return redirect(company)
    return render(
        request,
        "crm/records/form.html",
        {
            "form": form,
            "title": _("New company"),
            "duplicates": duplicates,
            "duplicate_type": RecordType.COMPANY.value,
            "cancel_url": reverse("companies:list"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    company = company_get(user, pk)
    form = CompanyForm(
        request.POST or None,
        initial=company_initial(company),
        custom_fields=custom_fields_for(RecordType.COMPANY),
        custom_values=company.custom_fields,
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.COMPANY),
    )
    # A copy goes to the service, so a refused edit leaves the page's record as it was.
    return edit_page(
        request,
        form=form,
        record=company,
        write=lambda: company_update(
            actor=user,
            company=copy.copy(company),
            data=form.record_data(),
            expected_version=form.cleaned_data["version"],
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def company_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    company = company_get(user, pk)
    return confirm_delete(
        request,
        record=company,
        what=_("Company"),
        delete=lambda: company_delete(actor=user, company=company),
        done_url=reverse("companies:list"),
        cancel_url=company.get_absolute_url(),
    )


@login_required
@require_http_methods(["GET", "POST"])
def company_merge_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick the other company (suggested duplicates or a name search), preview both side by side, confirm."""
    user = actor_of(request)
    company = company_get(user, pk)
    # NUL cannot be in any stored name (PostgreSQL refuses it in text): it separates words like a space.
    query = request.GET.get("q", "").replace("\x00", " ").strip()[:100]
    other_id = request.POST.get("other") or request.GET.get("other")
    other = company_get(user, other_id) if other_id else None
    form = MergeForm(request.POST or None, initial={"other": other.pk if other else None, "keep": "this"})
    if other is not None and other.pk == company.pk:
        form.add_error(None, _("Choose another company."))
        other = None
    if request.method == "POST" and other is not None and form.is_valid():
        survivor, duplicate = (company, other) if form.cleaned_data["keep"] == "this" else (other, company)
        try:
            survivor = company_merge(actor=user, survivor=survivor, duplicate=duplicate)
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("The companies were merged into “%(name)s”.") % {"name": survivor.name})
            return redirect(survivor)
    suggestions = list(
        company_duplicates(
            user,
            name=company.name,
            tax_id=company.tax_id,
            emails=company.emails,
            phones=company.phones,
            exclude_id=company.pk,
        )
    )
    found = (
        list(companies_visible_to(user).filter(name__icontains=query).exclude(pk=company.pk).order_by("name")[:20])
        if query
        else []
    )
    rows = []
    if other is not None:
        hidden = hidden_fields(user, RecordType.COMPANY)
        rows = [
            (_("Name"), company.name, other.name),
            (_("Legal name"), company.legal_name, other.legal_name),
            *(
                (label, _joined(getattr(company, name), name), _joined(getattr(other, name), name))
                for name, label in (("tax_id", _("Tax id")), ("phones", _("Phones")), ("emails", _("Emails")))
                if name not in hidden
            ),
            (_("Website"), company.website, other.website),
            (_("Owner"), company.owner or "", other.owner or ""),
            (_("Created"), company.created_at, other.created_at),
        ]
    return render(
        request,
        "crm/records/merge.html",
        {
            "record": company,
            "other": other,
            "form": form,
            "query": query,
            "suggestions": suggestions,
            "found": found,
            "rows": rows,
            "counts": (merge_counts(user, record=company), merge_counts(user, record=other)) if other else None,
            "what": _("companies"),
            "merge_url": reverse("companies:merge", args=[company.pk]),
        },
    )
