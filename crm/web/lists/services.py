"""Writes of the list pages' own state: a user's chosen columns and sort."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from crm.core.types import RecordType
from crm.web.models import ListPreference
from tenants.accounts.models import User


@transaction.atomic
def list_preference_save(
    *, user: User, record_type: RecordType, columns: Sequence[str], sort: str = ""
) -> ListPreference:
    """Remember the columns (in order) and the default sort; the caller has checked them against the list."""
    preference, _created = ListPreference.objects.update_or_create(
        user=user,
        record_type=record_type,
        defaults={"columns": list(dict.fromkeys(columns)), "sort": sort, "updated_at": timezone.now()},
    )
    return preference


@transaction.atomic
def list_preference_reset(*, user: User, record_type: RecordType) -> None:
    ListPreference.objects.filter(user=user, record_type=record_type).delete()
