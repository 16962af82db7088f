from __future__ import annotations

from django.db.models import QuerySet

from crm.core.types import RecordType
from crm.files.models import Attachment
from tenants.accounts import policy
from tenants.accounts.models import User


def attachments_visible_to(user: User) -> QuerySet[Attachment]:
    return policy.visible(user, Attachment.objects.all(), RecordType.FILE)


def attachment_get(user: User, pk: object) -> Attachment:
    return policy.get_visible_or_404(user, Attachment.objects.all(), RecordType.FILE, pk)
