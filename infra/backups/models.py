"""What the platform knows of each workspace's backups, restores and exports. Shared tables (public schema): a
backup outlives its workspace's schema, and the weekly verification and the retention read the whole fleet's."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant


class Backup(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        MANUAL = "manual", _("Manual")

    class Verification(models.TextChoices):
        PENDING = "pending", _("Not verified yet")
        PASSED = "passed", _("Restored and verified")
        FAILED = "failed", _("Verification failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SET_NULL: the backups of a deleted workspace are kept until the retention drops them.
    tenant = models.ForeignKey(Tenant, null=True, on_delete=models.SET_NULL, related_name="backups")
    schema_name = models.CharField(max_length=63)
    workspace_uid = models.UUIDField()
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULED)
    # Where the artifacts are, relative to the storage's root: <prefix>.manifest.json, <prefix>.dump, <prefix>.files
    storage_prefix = models.CharField(max_length=255, blank=True, default="")
    key_id = models.CharField(max_length=64, blank=True, default="")
    size = models.BigIntegerField(default=0)  # bytes stored, all artifacts, encrypted
    plain_size = models.BigIntegerField(default=0)  # bytes before encryption
    rows = models.BigIntegerField(default=0)
    files = models.IntegerField(default=0)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    verification = models.CharField(max_length=16, choices=Verification.choices, default=Verification.PENDING)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_message = models.TextField(blank=True, default="")
    # True once the retention removed the artifacts; the row stays as history.
    pruned = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The Backups page, the latest backup of a workspace, the retention: a workspace's backups by time.
            models.Index(fields=["tenant", "-created_at"], name="backups_tenant_created"),
        ]

    def __str__(self) -> str:
        return f"{self.schema_name} {self.created_at:%Y-%m-%d %H:%M}"


class Restore(models.Model):
    class Mode(models.TextChoices):
        IN_PLACE = "in_place", _("Replace the workspace")
        COPY = "copy", _("Copy into a new workspace")
        VERIFY = "verify", _("Verification")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CONFIRMED = "confirmed", _("Confirmed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    backup = models.ForeignKey(Backup, null=True, on_delete=models.SET_NULL, related_name="restores")
    tenant = models.ForeignKey(Tenant, null=True, on_delete=models.SET_NULL, related_name="+")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    target_schema = models.CharField(max_length=63, blank=True, default="")
    # The schema the restore replaced, kept until an operator confirms (restore_workspace --confirm).
    replaced_schema = models.CharField(max_length=63, blank=True, default="")
    replaced_media = models.CharField(max_length=255, blank=True, default="")
    message = models.TextField(blank=True, default="")
    operator = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.mode} {self.target_schema} {self.started_at:%Y-%m-%d %H:%M}"


class Export(models.Model):
    """A full export of a workspace asked for by one of its administrators, built in the background."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Being built")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="exports")
    # The administrator in the workspace's schema (no foreign key across schemas).
    requested_by_id = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    step = models.CharField(max_length=200, blank=True, default="")
    size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="exports_tenant_created")]

    def __str__(self) -> str:
        return f"export {self.id}"
