from __future__ import annotations

from django.db.models import QuerySet

from crm.companies.models import Company
from crm.core.types import RecordType
from tenants.accounts import policy
from tenants.accounts.models import User


def companies_visible_to(user: User) -> QuerySet[Company]:
    return policy.visible(user, Company.objects.all(), RecordType.COMPANY)


def company_get(user: User, pk: object) -> Company:
    return policy.get_visible_or_404(user, Company.objects.select_related("owner"), RecordType.COMPANY, pk)
