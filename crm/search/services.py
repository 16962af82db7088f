"""Keeps the search index in step with the records; called by the record services in their transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from crm.core.types import RecordType
from crm.search.models import SearchTerm
from crm.search.terms import record_terms


def terms_of(record_type: RecordType, record: models.Model) -> set[str]:
    r: Any = record
    if record_type == RecordType.COMPANY:
        return record_terms(
            texts=[r.name, r.legal_name], emails=r.emails, phones=r.phones, ids=[r.tax_id, r.registration_id]
        )
    if record_type == RecordType.CONTACT:
        return record_terms(texts=[r.first_name, r.middle_name, r.last_name], emails=r.emails, phones=r.phones)
    if record_type == RecordType.LEAD:
        return record_terms(
            texts=[r.title, r.contact_name, r.company_name], emails=[r.email], phones=[r.phone] if r.phone else []
        )
    if record_type == RecordType.DEAL:
        return record_terms(texts=[r.title])
    raise ValueError(f"{record_type} is not searchable")


def search_index_update(record_type: RecordType, record: models.Model, *, created: bool = False) -> None:
    wanted = terms_of(record_type, record)
    # A record saved just now has no terms yet: skip reading them.
    current: set[str] = (
        set()
        if created
        else set(SearchTerm.objects.filter(record_type=record_type, record_id=record.pk).values_list("term", flat=True))
    )
    if stale := current - wanted:
        SearchTerm.objects.filter(record_type=record_type, record_id=record.pk, term__in=stale).delete()
    if new := wanted - current:
        SearchTerm.objects.bulk_create(
            SearchTerm(record_type=record_type, record_id=record.pk, term=t) for t in sorted(new)
        )


def search_index_remove(record_type: RecordType, record_id: int) -> None:
    SearchTerm.objects.filter(record_type=record_type, record_id=record_id).delete()


def search_index_rebuild(record_type: RecordType, queryset: models.QuerySet, *, batch: int = 2000) -> int:
    """Rebuild the index of every record in `queryset` (maintenance; imports use it after bulk loads)."""
    SearchTerm.objects.filter(record_type=record_type).delete()
    count = 0
    rows: list[SearchTerm] = []
    for record in queryset.iterator(chunk_size=batch):
        rows.extend(
            SearchTerm(record_type=record_type, record_id=record.pk, term=t) for t in terms_of(record_type, record)
        )
        count += 1
        if len(rows) >= batch * 4:
            SearchTerm.objects.bulk_create(rows)
            rows = []
    SearchTerm.objects.bulk_create(rows)
    return count
