from __future__ import annotations

from django.db.models import QuerySet

from crm.contacts.models import Contact
from crm.core.types import RecordType
from tenants.accounts import policy
from tenants.accounts.models import User


def contacts_visible_to(user: User) -> QuerySet[Contact]:
    return policy.visible(user, Contact.objects.all(), RecordType.CONTACT)


def contact_get(user: User, pk: object) -> Contact:
    return policy.get_visible_or_404(user, Contact.objects.select_related("owner", "company"), RecordType.CONTACT, pk)
