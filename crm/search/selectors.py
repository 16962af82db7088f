"""Global search: companies, contacts, deals and leads by name, email, phone or tax id, as you type."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from crm.companies.selectors import companies_visible_to
from crm.contacts.selectors import contacts_visible_to
from crm.core import formats
from crm.core.types import RecordType
from crm.deals.selectors import deals_visible_to
from crm.leads.selectors import leads_visible_to
from crm.search.models import SearchTerm
from crm.search.terms import query_readings
from tenants.accounts import policy
from tenants.accounts.models import Scope, User

_VISIBLE = {
    RecordType.COMPANY: companies_visible_to,
    RecordType.CONTACT: contacts_visible_to,
    RecordType.DEAL: deals_visible_to,
    RecordType.LEAD: leads_visible_to,
}
# Search terms at least this long match few records (see global_search).
SELECTIVE = 7
# How many matching terms of each record type are considered; keeps the cost flat at any size.
CANDIDATES = 40
SEARCHABLE = (RecordType.COMPANY, RecordType.CONTACT, RecordType.DEAL, RecordType.LEAD)


@dataclass(frozen=True)
class SearchHit:
    record_type: RecordType
    record_id: int
    title: str
    subtitle: str
    url: str


def terms_visible(terms: QuerySet[SearchTerm], hidden: Collection[str]) -> QuerySet[SearchTerm]:
    """`terms` without those of the fields in `hidden` (a role's hidden fields of the terms' record type).
    A filter on the rows the prefix range scan reads: the index still serves the search."""
    return terms.exclude(field__in=list(hidden)) if hidden else terms


def starts_with_any(prefixes: Collection[str]) -> Q:
    """Terms that start with one of `prefixes` (a phone read several ways): one index range scan each."""
    condition = Q()
    for prefix in prefixes:
        condition |= Q(term__startswith=prefix)
    return condition


def _candidates(
    words: list[str],
    phones: list[str],
    hidden: dict[RecordType, frozenset[str]] | None = None,
    within: dict[RecordType, QuerySet[Any]] | None = None,
    only: set[RecordType] | None = None,
) -> dict[RecordType, list[int]]:
    """Ids of the records of each searchable type matching every word (or any of the phone prefixes), best
    first, through the terms of fields the user may see (`hidden`: the fields each type's terms must not come
    from).

    One query: a prefix range scan per record type (and phone prefix) on (record_type, term), each limited,
    glued with UNION ALL, so the cost does not grow with the number of records and one type cannot crowd out
    the others.
    """
    hidden, within = hidden or {}, within or {}
    others: list[str] = []
    if phones:
        drivers = [p for p in phones if len(p) >= 2]
    elif words:
        ordered = sorted(words, key=len, reverse=True)
        drivers, others = ordered[:1], ordered[1:]
        if len(drivers[0]) < 2:
            return {}
    else:
        return {}
    parts = []
    for record_type, driver in ((t, d) for t in SEARCHABLE if only is None or t in only for d in drivers):
        concealed = hidden.get(record_type, frozenset())
        qs = terms_visible(SearchTerm.objects.filter(record_type=record_type, term__startswith=driver), concealed)
        for other in others:
            qs = qs.filter(
                Exists(
                    terms_visible(
                        SearchTerm.objects.filter(
                            record_type=record_type, record_id=OuterRef("record_id"), term__startswith=other
                        ),
                        concealed,
                    )
                )
            )
        if record_type in within:
            # Only records the user may see are candidates, or a scoped user's few would be crowded out by
            # colleagues' matches: the prefix scan checks each term against their records (a hashed set).
            qs = qs.filter(record_id__in=within[record_type].values("pk"))
        parts.append(qs.order_by("term").values_list("record_type", "record_id")[:CANDIDATES])
    found: dict[RecordType, list[int]] = {}
    if not parts:
        return {}
    for type_value, record_id in parts[0].union(*parts[1:], all=True):
        ids = found.setdefault(RecordType(type_value), [])
        if record_id not in ids:
            ids.append(record_id)
    return found


def global_search(user: User, query: str, *, per_type: int = 5) -> list[SearchHit]:
    """Best matches of each kind the user may see; a fixed number of queries whatever the data size."""
    words, phones = query_readings(query)
    hidden = {t: policy.hidden_fields(user, t) for t in SEARCHABLE}
    scoped = {t for t in SEARCHABLE if policy.scope_of(user, policy.Action.VIEW, t) != Scope.ALL}
    # The least selective of the phone's readings decides (every one of them is scanned).
    selective = min(map(len, phones)) if phones else len(max(words, key=len, default=""))
    if selective >= SELECTIVE:
        # A long term (a phone number, an email) matches a handful of records: look first, and narrow to the
        # user's records only where the candidates ran out.
        candidates = _candidates(words, phones, hidden)
        scoped &= {t for t, ids in candidates.items() if len(ids) >= CANDIDATES}
        if scoped:
            candidates |= _candidates(words, phones, hidden, {t: _VISIBLE[t](user) for t in scoped}, only=scoped)
    else:
        candidates = _candidates(words, phones, hidden, {t: _VISIBLE[t](user) for t in scoped})
    hits: list[SearchHit] = []
    if ids := candidates.get(RecordType.COMPANY):
        show_tax_id = not policy.is_hidden(hidden[RecordType.COMPANY], RecordType.COMPANY, "tax_id")
        for c in companies_visible_to(user).filter(pk__in=ids).only("id", "name", "tax_id", "industry")[:per_type]:
            hits.append(
                SearchHit(
                    RecordType.COMPANY,
                    c.pk,
                    c.name,
                    " · ".join(x for x in (c.tax_id if show_tax_id else "", c.industry) if x),
                    c.get_absolute_url(),
                )
            )
    if ids := candidates.get(RecordType.CONTACT):
        contacts = (
            contacts_visible_to(user)
            .filter(pk__in=ids)
            .select_related("company")
            .only(
                "id",
                "first_name",
                "middle_name",
                "last_name",
                "emails",
                "phones",
                "position",
                "company__name",
                "company__owner_id",
            )[:per_type]
        )
        shown = list(contacts)
        # The name of a company the user may not see stays private (judged by its owner, loaded with it).
        companies = {
            c.company_id
            for c in shown
            if c.company and policy.can_on(user, policy.Action.VIEW, RecordType.COMPANY, c.company)
        }
        show_email = not policy.is_hidden(hidden[RecordType.CONTACT], RecordType.CONTACT, "emails")
        for p in shown:
            subtitle = " · ".join(
                x
                for x in (
                    p.position,
                    p.company.name if p.company and p.company_id in companies else "",
                    p.emails[0] if p.emails and show_email else "",
                )
                if x
            )
            hits.append(SearchHit(RecordType.CONTACT, p.pk, p.full_name, subtitle, p.get_absolute_url()))
    if ids := candidates.get(RecordType.DEAL):
        for d in (
            deals_visible_to(user)
            .filter(pk__in=ids)
            .select_related("stage")
            .only("id", "title", "amount", "currency", "stage__name")[:per_type]
        ):
            subtitle = d.stage.name
            if not policy.is_hidden(hidden[RecordType.DEAL], RecordType.DEAL, "amount"):
                subtitle += f" · {formats.money(d.amount, d.currency)}"
            hits.append(SearchHit(RecordType.DEAL, d.pk, d.title, subtitle, d.get_absolute_url()))
    if ids := candidates.get(RecordType.LEAD):
        for lead in leads_visible_to(user).filter(pk__in=ids).only("id", "title", "contact_name", "status")[:per_type]:
            hits.append(
                SearchHit(
                    RecordType.LEAD,
                    lead.pk,
                    lead.title,
                    " · ".join(x for x in (lead.contact_name, lead.get_status_display()) if x),
                    lead.get_absolute_url(),
                )
            )
    return hits
