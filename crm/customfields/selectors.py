from __future__ import annotations

from django.db.models import QuerySet

from crm.core.types import RecordType
from crm.customfields.models import CustomField


def custom_fields_for(record_type: RecordType) -> list[CustomField]:
    """The workspace's custom fields of one record type, in display order. Definitions are workspace-wide."""
    return list(CustomField.objects.filter(record_type=record_type))


def custom_fields_all() -> QuerySet[CustomField]:
    return CustomField.objects.all()
