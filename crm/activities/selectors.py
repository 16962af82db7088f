from __future__ import annotations

from django.db.models import QuerySet

from crm.activities.models import Activity
from crm.core.types import RecordType
from tenants.accounts import policy
from tenants.accounts.models import User


def activities_visible_to(user: User) -> QuerySet[Activity]:
    return policy.visible(user, Activity.objects.all(), RecordType.ACTIVITY)


def activity_get(user: User, pk: object) -> Activity:
    return policy.get_visible_or_404(
        user,
        Activity.objects.select_related("assignee", "company", "contact", "deal", "lead"),
        RecordType.ACTIVITY,
        pk,
    )
