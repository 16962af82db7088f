"""Per-user settings of the CRM pages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.types import RecordType


class ListPreference(models.Model):
    """The columns (in order) and the default sort a user chose for one kind of list.

    Column keys are checked against the list's declared columns when read, so a removed custom field or a
    renamed column simply drops out instead of breaking the page.
    """

    # listpreference_unique (user, record_type) serves every lookup by user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    record_type = models.CharField(_("record type"), max_length=16, choices=RecordType.choices)
    columns = models.JSONField(_("columns"), default=list, blank=True)
    sort = models.CharField(_("sort"), max_length=80, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("list preference")
        constraints = [models.UniqueConstraint(fields=["user", "record_type"], name="listpreference_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.record_type}"


class SampleRecord(models.Model):
    """A record made by "Add sample data" on a new workspace's guided start: exactly these are removed by
    "Remove sample data", whatever else was added meanwhile."""

    record_type = models.CharField(_("record type"), max_length=16, choices=RecordType.choices)
    record_id = models.BigIntegerField(_("record id"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sample record")
        constraints = [models.UniqueConstraint(fields=["record_type", "record_id"], name="samplerecord_unique")]

    def __str__(self) -> str:
        return f"{self.record_type} #{self.record_id}"
