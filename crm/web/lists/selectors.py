"""Reads of the list pages: the members a list shows and filters by, and a user's remembered list settings."""

from __future__ import annotations

from crm.core.types import RecordType
from crm.web.models import ListPreference
from tenants.accounts.models import User
from tenants.accounts.selectors import active_users


def workspace_members() -> list[User]:
    """Active people of this workspace (the schema), for owner columns, filters and bulk assignment."""
    return list(active_users())


def list_preference_of(user: User, record_type: RecordType) -> ListPreference | None:
    return ListPreference.objects.filter(user=user, record_type=record_type).first()
