"""A workspace's connections to other systems and the log of everything exchanged through them."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.accounts.models import User


class Connection(models.Model):
    """One configured link to a website, a PBX, an accounting system, a mailbox or a webhook receiver.

    It acts in the CRM as `identity`, a user of kind integration, through the CRM's own services. Credentials are
    sealed (secrets.py) and never shown again; an inbound URL's secret is kept only as a hash."""

    # Binds the sealed credentials to this connection (secrets.py); never looked up, so not indexed.
    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=32)
    name = models.CharField(_("name"), max_length=120)
    # What the kind's form holds apart from secrets (a form's fields, a PBX's host, a mailbox's address).
    settings = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # The sealed credentials (secrets.seal) and the names of those set, shown as "set" and never in clear.
    secrets_sealed = models.TextField(blank=True)
    secret_names = models.JSONField(default=list, blank=True)
    # sha256 of the secret in the inbound URL (None: the kind takes no inbound calls); the last characters help
    # an administrator tell two URLs apart.
    token_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - unique where set (the constraint below)
    token_hint = models.CharField(max_length=8, blank=True)
    identity = models.OneToOneField(User, on_delete=models.PROTECT, related_name="integration_connection")
    is_active = models.BooleanField(_("active"), default=True)
    # Why the connection was turned off, when it was not by a person (e.g. a receiver that kept failing).
    disabled_reason = models.CharField(max_length=255, blank=True)
    # People are deactivated, never deleted: no index for a cascade that does not happen.
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            # Every inbound call finds its connection by the hash of the secret in its path.
            models.UniqueConstraint(fields=["token_hash"], name="integrations_conn_token"),
        ]

    def __str__(self) -> str:
        return self.name


class Exchange(models.Model):
    """One inbound call, outbound delivery or exchange run of a connection, as its administrators see it."""

    class Direction(models.TextChoices):
        INBOUND = "in", _("inbound")
        OUTBOUND = "out", _("outbound")
        RUN = "run", _("exchange run")

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        OK = "ok", _("done")
        PARTIAL = "partial", _("done with errors")
        FAILED = "failed", _("failed")
        REFUSED = "refused", _("refused")
        RETRIED = "retried", _("retried")

    # Indexed with -id below (the log page, newest first; the prune; a connection's delete).
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="exchanges", db_index=False)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    # What was done, named by the kind ("webform.submit", "webhook.deliver", "accounting.import").
    operation = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Records created, updated, skipped, failed...
    counts = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    # Per-record problems of a run: [{"record": "...", "error": "..."}], capped.
    problems = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    # What was asked and answered, without credentials: method, address or path, size; status, an excerpt.
    request = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    response = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    attempts = models.PositiveIntegerField(default=0)
    # What a retry from the log runs again (the operation's retry handler reads it); None: nothing to retry.
    replay = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    # A pointer within the log, shown as a link: no constraint or index (a pruned entry leaves it dangling).
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="retries",
    )
    # Makes an operation idempotent where it has a natural key (an event delivered to a subscription once).
    key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 - unique where set

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=["connection", "-id"], name="integrations_exch_conn_idx")]
        constraints = [models.UniqueConstraint(fields=["key"], name="integrations_exch_key")]

    def __str__(self) -> str:
        return f"{self.operation} {self.status}"

    @property
    def retryable(self) -> bool:
        return self.replay is not None and self.status in (self.Status.FAILED, self.Status.PARTIAL)
