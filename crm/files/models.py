from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _upload_to(instance: Attachment, filename: str) -> str:
    # The tenant storage puts this under MEDIA_ROOT/<schema>/; the uuid keeps names unguessable and unique.
    suffix = PurePath(filename).suffix.lower()[:16]
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    file = models.FileField(_("file"), upload_to=_upload_to, max_length=255)
    name = models.CharField(_("name"), max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    # Each link is indexed by attachment_<link> (link, -created_at), which serves every lookup by the link alone.
    company = models.ForeignKey(
        "companies.Company",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
        db_index=False,
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
        db_index=False,
    )
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="attachments", db_index=False
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="attachments", db_index=False
    )
    # Kept (Django's one-column index): the `uploaded_by_id IN (...)` arm of the scoped visibility.
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("file")
        indexes = [
            # A card's files, newest first; cascades and merges by the link.
            models.Index(fields=["company", "-created_at"], name="attachment_company"),
            models.Index(fields=["contact", "-created_at"], name="attachment_contact"),
            models.Index(fields=["deal", "-created_at"], name="attachment_deal"),
            models.Index(fields=["lead", "-created_at"], name="attachment_lead"),
        ]

    def __str__(self) -> str:
        return self.name
