"""What Kontor keeps beside a webhook connection: each event it owes the receiver (a delivery, sent and retried
until answered with a 2xx or given up), and the receiver's state (its signing secret shown or not, the events
that failed every attempt since the last success)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.core.models import Connection, Exchange


class Receiver(models.Model):
    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, primary_key=True, related_name="webhook")
    # The signing secret made with the connection is shown once, when asked for; after that only a new one is.
    secret_shown = models.BooleanField(default=False)
    # Deliveries that failed every attempt since the receiver last answered with a 2xx.
    failed_in_row = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"receiver of {self.connection_id}"


class Delivery(models.Model):
    """One event owed to one receiver; at most one per event and connection."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    # Indexed by the (connection, event_uuid) and (connection, -id) indexes below.
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="webhook_deliveries", db_index=False
    )
    event_uuid = models.UUIDField()
    # The event's place in the outbox (the order of one record's events); None for a test event.
    event_id = models.BigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    record_id = models.BigIntegerField(null=True, blank=True)
    # The JSON sent, made once: every attempt sends the same bytes (only the timestamp and signature change).
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; an attempt under way holds the delivery until `claimed_until`.
    next_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The attempts' entries in the exchange log, oldest first.
    exchange_ids = models.JSONField(default=list)
    # A link into the log, pruned on the same schedule: no constraint or index (the log's prune never has to
    # look here; a link to a pruned entry is a 404 like any other).
    last_exchange = models.ForeignKey(
        Exchange,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        ordering = ("-id",)
        constraints = [models.UniqueConstraint(fields=["connection", "event_uuid"], name="webhooks_delivery_once")]
        indexes = [
            models.Index(fields=["connection", "-id"], name="webhooks_delivery_conn_idx"),
            # The earlier events of the same record still waiting (they go first).
            models.Index(
                fields=["connection", "kind", "record_id", "event_id"],
                name="webhooks_delivery_wait_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.kind}#{self.record_id} → {self.connection_id}: {self.status}"
