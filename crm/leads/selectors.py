from __future__ import annotations

from django.db.models import QuerySet

from crm.core.types import RecordType
from crm.leads.models import Lead
from tenants.accounts import policy
from tenants.accounts.models import User


def leads_visible_to(user: User) -> QuerySet[Lead]:
    return policy.visible(user, Lead.objects.all(), RecordType.LEAD)


def lead_get(user: User, pk: object) -> Lead:
    return policy.get_visible_or_404(user, Lead.objects.select_related("owner"), RecordType.LEAD, pk)
