from __future__ import annotations

from django.db.models import QuerySet

from crm.core.types import RecordType
from crm.history.models import ChangeRecord


def history_of(*, record_type: RecordType, record_id: int) -> QuerySet[ChangeRecord]:
    """Changes of one record, newest first. The caller has already checked the record is visible."""
    return ChangeRecord.objects.filter(record_type=record_type, record_id=record_id).select_related("actor")
