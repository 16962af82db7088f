from __future__ import annotations

from django.db.models import QuerySet

from crm.core.types import CORE_RECORD_TYPES, RecordType
from crm.customfields.models import CustomField


def custom_fields_for(record_type: RecordType) -> list[CustomField]:
    """The workspace's custom fields of one record type, in display order. Definitions are workspace-wide."""
    return list(custom_fields_of(record_type))


def custom_fields_of(record_type: RecordType) -> QuerySet[CustomField]:
    """`custom_fields_for` as a queryset (crm.web.fragments caches its rows)."""
    return CustomField.objects.filter(record_type=record_type)


def custom_fields_all() -> QuerySet[CustomField]:
    return CustomField.objects.all()


def custom_field_hideable(record_type: str) -> dict[str, str]:
    """The custom fields a role may hide on records of `record_type` ("cf:<key>" -> label); only the kinds
    that carry custom fields have any."""
    if record_type not in CORE_RECORD_TYPES:
        return {}
    return {f"cf:{f.key}": str(f.label) for f in custom_fields_for(RecordType(record_type))}
