from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.types import RecordType


class ChangeRecord(models.Model):
    """One change to a company, contact, deal or lead: who, when, and each field's old and new value.

    Written only by the services, in the transaction of the change itself. Append-only.
    """

    class Action(models.TextChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")
        DELETED = "deleted", _("deleted")
        STAGE_MOVED = "stage_moved", _("moved to another stage")
        MERGED = "merged", _("merged")
        CONVERTED = "converted", _("converted")

    record_type = models.CharField(max_length=16, choices=RecordType.choices)
    record_id = models.BigIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    # [{"field": "stage", "label": "Stage", "old": "Qualification", "new": "Proposal"}, ...]
    changes = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    note = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # Nothing reads the history by actor, and people are deactivated, never deleted (no SET NULL to find).
        db_index=False,
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        # A card's history, newest first (history_of), and the merge moving a record's history (record_id update).
        indexes = [models.Index(fields=["record_type", "record_id", "-at"], name="change_record")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.record_type}#{self.record_id} {self.action}"
