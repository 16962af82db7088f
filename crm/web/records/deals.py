"""The deal card, its form (contacts, pipeline and stage, line items) and the line-item editor."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.companies.selectors import companies_visible_to
from crm.contacts.selectors import contacts_visible_to
from crm.core import formats
from crm.core.money import workspace_currency
from crm.core.types import RecordType
from crm.customfields.selectors import custom_fields_for
from crm.deals.models import Deal, DealLineItem
from crm.deals.selectors import deal_get
from crm.deals.services import deal_create, deal_delete, deal_set_line_items, deal_update
from crm.products.selectors import products_visible_to
from crm.web.access import conceal_related, hidden_fields
from crm.web.records.cards import CARDS, card_context, confirm_delete, edit_page, run_service
from crm.web.records.common import actor_of
from crm.web.records.forms import (
    PICKER_CAP,
    DealForm,
    LineItemFormSet,
    deal_initial,
    line_item_initial,
    user_choices,
)
from tenants.accounts import policy
from tenants.accounts.models import User

CONTACTS_CAP = 50


@dataclass(frozen=True)
class LineTotals:
    subtotal: Decimal
    discount: Decimal
    vat: Decimal
    total: Decimal


def line_totals(items: list[DealLineItem]) -> LineTotals:
    zero = Decimal("0.00")
    return LineTotals(
        subtotal=sum((i.subtotal for i in items), zero),
        discount=sum((i.discount for i in items), zero),
        vat=sum((i.vat for i in items), zero),
        total=sum((i.total for i in items), zero),
    )


def _product_choices(user: User, deal: Deal | None = None, sent: Any = None) -> list[tuple[str, str]]:
    """Options of the line items' product pickers: the first active products, the deal's own, and those just
    sent (found by searching), each only if the user may see it."""
    visible = products_visible_to(user)
    current = Q(line_items__deal=deal) if deal is not None else Q(pk__in=[])
    ids = [
        int(v)
        for k, v in (sent or {}).items()
        if k.endswith("-product") and isinstance(v, str) and v.isdigit() and len(v) < 12
    ]
    products = list(visible.filter(is_active=True).order_by("name")[:PICKER_CAP])
    known = {p.pk for p in products}
    extra = visible.filter(current | Q(pk__in=ids, is_active=True)).exclude(pk__in=known).distinct()
    products += list(extra.order_by("name")[:PICKER_CAP])
    if policy.hides(user, RecordType.PRODUCT, "price"):
        return [(str(p.pk), f"{p.name} ({p.sku})") for p in products]
    return [(str(p.pk), f"{p.name} ({p.sku}) — {formats.money(p.price, p.currency)}") for p in products]


def _amount_hidden(user: User) -> bool:
    # Line items are the parts of the deal's amount: hidden with it (as the deal kind registers).
    return policy.hides(user, RecordType.DEAL, "line_items")


def _items_of(formset: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """The line items to send, and for each the index of the form it came from (for error placement)."""
    items, rows = [], []
    for index, row in enumerate(formset.forms):
        item = row.item()
        if item is not None:
            items.append(item)
            rows.append(index)
    return items, rows


@login_required
@require_GET
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = deal_get(actor_of(request), pk)
    conceal_related(actor_of(request), [deal], {"company": RecordType.COMPANY})
    context = card_context(request, CARDS["deals"], deal)
    items = [] if _amount_hidden(actor_of(request)) else list(deal.line_items.select_related("product"))
    contacts = list(contacts_visible_to(actor_of(request)).filter(deals=deal).order_by("last_name")[: CONTACTS_CAP + 1])
    context.update(
        line_items=items,
        totals=line_totals(items),
        contacts=contacts[:CONTACTS_CAP],
        contacts_more=len(contacts) > CONTACTS_CAP,
    )
    return render(request, "crm/records/deal_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def deal_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    companies = companies_visible_to(user)
    preset = companies.filter(pk=request.GET["company"]).first() if request.GET.get("company", "").isdigit() else None
    form = DealForm(
        request.POST or None,
        initial={
            "company": preset.pk if preset else None,
            "currency": workspace_currency(),
            "owner": user.pk,
            # "New deal" on the board opens the form in the board's pipeline.
            "pipeline": request.GET["pipeline"] if request.GET.get("pipeline", "").isdigit() else None,
        },
        companies=companies,
        contacts=contacts_visible_to(user),
        company=preset,
        custom_fields=custom_fields_for(RecordType.DEAL),
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.DEAL),
    )
    formset = (
        None
        if _amount_hidden(user)
        else LineItemFormSet(
            request.POST or None, prefix="items", form_kwargs={"products": _product_choices(user, sent=request.POST)}
        )
    )
    if request.method == "POST" and form.is_valid() and (formset is None or formset.is_valid()):
        items, rows = _items_of(formset) if formset is not None else ([], [])
        deal = run_service(
            form,
            lambda: deal_create(
                actor=user,
                data=form.record_data(drop_empty=True),
                contacts=form.contact_ids(),
                line_items=items or None,
            ),
            formset=formset,
            formset_rows=rows,
        )
        if deal is not None:
            messages.success(request, _("Deal “%(title)s” was created.") % {"title": deal.title})
            return redirect(deal)
    return render(
        request,
        "crm/records/form.html",
        {
            "form": form,
            "formset": formset,
            "title": _("New deal"),
            "cancel_url": preset.get_absolute_url() if preset else reverse("deals:list"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    deal = deal_get(user, pk)
    form = DealForm(
        request.POST or None,
        initial=deal_initial(deal),
        companies=companies_visible_to(user),
        contacts=contacts_visible_to(user),
        deal=deal,
        custom_fields=custom_fields_for(RecordType.DEAL),
        custom_values=deal.custom_fields,
        users=user_choices(),
        hidden=hidden_fields(user, RecordType.DEAL),
    )
    return edit_page(
        request,
        form=form,
        record=deal,
        write=lambda: deal_update(
            actor=user,
            deal=copy.copy(deal),
            data=form.record_data(),
            contacts=form.contact_ids(),
            expected_version=form.cleaned_data["version"],
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def deal_line_items(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace the deal's line items; the deal's amount becomes their total."""
    user = actor_of(request)
    deal = deal_get(user, pk)
    if _amount_hidden(user):
        raise PermissionDenied
    formset = LineItemFormSet(
        request.POST or None,
        prefix="items",
        initial=line_item_initial(deal),
        form_kwargs={"products": _product_choices(user, deal, request.POST)},
    )
    errors_form = forms.Form()  # holds the errors that name no line
    if request.method == "POST" and formset.is_valid():
        items, rows = _items_of(formset)
        updated = run_service(
            errors_form,
            lambda: deal_set_line_items(actor=user, deal=deal, items=items),
            formset=formset,
            formset_rows=rows,
        )
        if updated is not None:
            messages.success(request, _("Line items saved."))
            return redirect(updated)
    return render(
        request,
        "crm/records/deal_line_items.html",
        {"record": deal, "formset": formset, "errors_form": errors_form},
    )


@login_required
@require_http_methods(["GET", "POST"])
def deal_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    deal = deal_get(user, pk)
    return confirm_delete(
        request,
        record=deal,
        what=_("Deal"),
        delete=lambda: deal_delete(actor=user, deal=deal),
        done_url=reverse("deals:list"),
        cancel_url=deal.get_absolute_url(),
    )
