"""Keeps the search index in step with the records; called by the record services in their transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from crm.core.types import RecordType
from crm.search.models import SearchTerm
from crm.search.terms import FieldTerms, company_terms, contact_terms, deal_terms, lead_terms


def terms_of(record_type: RecordType, record: Any) -> FieldTerms:
    """(field, term) pairs of a record: what it can be found by, and through which field."""
    r = record
    if record_type == RecordType.COMPANY:
        return company_terms(
            name=r.name,
            legal_name=r.legal_name,
            emails=r.emails,
            phones=r.phones,
            tax_id=r.tax_id,
            registration_id=r.registration_id,
        )
    if record_type == RecordType.CONTACT:
        return contact_terms(names=[r.first_name, r.middle_name, r.last_name], emails=r.emails, phones=r.phones)
    if record_type == RecordType.LEAD:
        return lead_terms(texts=[r.title, r.contact_name, r.company_name], email=r.email, phone=r.phone)
    if record_type == RecordType.DEAL:
        return deal_terms(title=r.title)
    raise ValueError(f"{record_type} is not searchable")


def search_index_update(record_type: RecordType, record: models.Model, *, created: bool = False) -> None:
    wanted = terms_of(record_type, record)
    # A record saved just now has no terms yet: skip reading them.
    current: dict[tuple[str, str], int] = (
        {}
        if created
        else {
            (field, term): pk
            for pk, field, term in SearchTerm.objects.filter(record_type=record_type, record_id=record.pk).values_list(
                "id", "field", "term"
            )
        }
    )
    if stale := [pk for pair, pk in current.items() if pair not in wanted]:
        SearchTerm.objects.filter(pk__in=stale).delete()
    if new := wanted - current.keys():
        SearchTerm.objects.bulk_create(
            SearchTerm(record_type=record_type, record_id=record.pk, field=f, term=t) for f, t in sorted(new)
        )


def search_index_remove(record_type: RecordType, record_id: int) -> None:
    SearchTerm.objects.filter(record_type=record_type, record_id=record_id).delete()
