"""The calls a connection's PBX reported, with what they became in the CRM."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.core.models import Connection
from tenants.accounts.models import User


class Call(models.Model):
    """One call as the PBX reported it (by its own id: a repeated event never makes a second call), and the
    activity, call-back task and lead it was logged as once it ended."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class Result(models.TextChoices):
        ANSWERED = "answered", _("answered")
        MISSED = "missed", _("missed")
        BUSY = "busy", _("busy")
        FAILED = "failed", _("failed")

    # Indexed by the (connection, pbx_call_id) and (connection, -started_at) indexes below.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="calls", db_index=False)
    pbx_call_id = models.CharField(max_length=128)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    # E.164 when the number is valid in the connection's region, else as the PBX sent it (an extension, a
    # hidden number).
    from_number = models.CharField(max_length=40, blank=True)
    to_number = models.CharField(max_length=40, blank=True)
    # The other party's number in E.164 ("" when hidden or not a phone number): what the CRM was searched by.
    phone = models.CharField(max_length=20, blank=True)
    extension = models.CharField(max_length=32, blank=True)
    # People are deactivated, never deleted: no index for a cascade that does not happen.
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(default=0)
    # Blank while the call goes on.
    result = models.CharField(max_length=16, choices=Result.choices, blank=True)
    recording_url = models.URLField(max_length=1000, blank=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    activity = models.ForeignKey(
        "activities.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    task = models.ForeignKey(
        "activities.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # When the ended call was logged in the CRM (None: still going, or not ended yet).
    logged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-started_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["connection", "pbx_call_id"], name="telephony_call_pbx_id"),
        ]
        indexes = [models.Index(fields=["connection", "-started_at"], name="telephony_call_conn_started")]

    def __str__(self) -> str:
        return f"{self.direction} {self.from_number} → {self.to_number}"
