"""Pickers of records and people that search as you type.

A form's select of companies, contacts, deals, leads, products or people renders a few options (see
`forms.picker`) and names one of these endpoints in `data-picker`; the script `crm/picker.js` turns it into a
combobox that asks the endpoint for the options matching what is typed. The endpoint answers an htmx partial of
`<li role="option">`, read through the same `*_visible_to` selectors as every page: a record the user may not
see is never offered, and the form still validates the submitted value against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from crm.companies.selectors import companies_visible_to
from crm.contacts.selectors import contacts_visible_to
from crm.core.types import RecordType
from crm.deals.selectors import deals_visible_to
from crm.leads.selectors import leads_visible_to
from crm.products.selectors import products_visible_to
from crm.search.models import SearchTerm
from crm.search.selectors import terms_visible
from crm.search.terms import query_readings
from tenants.accounts import policy
from tenants.accounts.guards import guard
from tenants.accounts.models import User
from tenants.accounts.policy import Action
from tenants.accounts.selectors import active_users

# Options one answer offers: enough to find a record by a few letters, few enough to read.
PICK_LIMIT = 20
# What is typed is cut to this length: a name is never longer, and a long query costs nothing more.
MAX_QUERY = 100


@dataclass(frozen=True)
class PickerKind:
    record_type: RecordType | None
    visible: Callable[[User], QuerySet[Any]]
    order: tuple[str, ...]
    # Kinds without search terms (people, products) match these fields by substring.
    fields: tuple[str, ...] = ()


def _people(user: User) -> QuerySet[User]:
    return active_users()


KINDS: dict[str, PickerKind] = {
    "companies": PickerKind(RecordType.COMPANY, companies_visible_to, ("name", "id")),
    "contacts": PickerKind(RecordType.CONTACT, contacts_visible_to, ("last_name", "first_name", "id")),
    "deals": PickerKind(RecordType.DEAL, deals_visible_to, ("title", "id")),
    "leads": PickerKind(RecordType.LEAD, leads_visible_to, ("title", "id")),
    "products": PickerKind(RecordType.PRODUCT, products_visible_to, ("name", "id"), ("name", "sku")),
    "users": PickerKind(None, _people, ("full_name", "email", "id"), ("full_name", "email")),
}


def picker_url(kind: str) -> str:
    assert kind in KINDS, kind
    return reverse(f"pick:{kind}")


def picker_options(user: User, kind: str, query: str, *, limit: int = PICK_LIMIT) -> list[Any]:
    """The records (or people) of `kind` the user may see that match `query`, best first, at most `limit`.

    Companies, contacts, deals and leads are found through the search index: every typed word must start one
    of the record's words (name, title; email, phone or tax id unless the user's role hides them), any
    alphabet. Products and people match their name (or SKU, email) by substring."""
    spec = KINDS[kind]
    queryset = spec.visible(user)
    text = query.replace("\x00", "").strip()[:MAX_QUERY]
    if text and not spec.fields:
        assert spec.record_type is not None
        words, phones = query_readings(text)
        hidden = policy.hidden_fields(user, spec.record_type)
        # Every word must start a term; a phone matches when any one of its readings does.
        groups = [[word] for word in words if word] + ([phones] if phones else [])
        for readings in groups:
            starts = Q()
            for reading in readings:
                starts |= Q(term__startswith=reading)
            matching = SearchTerm.objects.filter(starts, record_type=spec.record_type)
            queryset = queryset.filter(pk__in=terms_visible(matching, hidden).values("record_id"))
    elif text:
        for word in text.split()[:5]:
            condition = Q()
            for name in spec.fields:
                condition |= Q(**{f"{name}__icontains": word})
            queryset = queryset.filter(condition)
    if kind == "products":
        queryset = queryset.filter(is_active=True)
    return list(queryset.order_by(*spec.order)[:limit])


def option_label(kind: str, record: Any) -> str:
    if kind == "users":
        return str(record.get_full_name())
    return str(record)


@login_required
@require_GET
def pick_options(request: HttpRequest, kind: str) -> HttpResponse:
    user = cast(User, request.user)
    query = request.GET.get("q", "")
    found = picker_options(user, kind, query)
    options = [(record.pk, option_label(kind, record)) for record in found]
    return render(
        request,
        "crm/records/_pick_options.html",
        {"options": options, "kind": kind, "query": query, "more": len(found) >= PICK_LIMIT},
    )


def _pick_view(kind: str) -> Callable[..., HttpResponseBase]:
    record_type = KINDS[kind].record_type
    if record_type is None:
        return pick_options
    return guard(pick_options, Action.VIEW, record_type)


urlpatterns = [path(f"{kind}/", _pick_view(kind), {"kind": kind}, name=kind) for kind in KINDS]
