from __future__ import annotations

import datetime

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


def my_open_tasks_until(user: User, until: datetime.datetime) -> QuerySet[Activity]:
    """The user's open tasks, calls and meetings due before `until` (today's and overdue), soonest first."""
    return (
        activities_visible_to(user)
        .filter(assignee=user, is_done=False, due_at__lt=until)
        .exclude(kind=Activity.Kind.NOTE)
        .select_related("company", "contact", "deal", "lead")
        .order_by("due_at", "id")
    )
