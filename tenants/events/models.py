"""The outbox of a workspace (one table per schema), each consumer's progress through it, and the figures that
consumers maintain for other apps (the active-seat count billing reads)."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class Event(models.Model):
    """Something that happened in the workspace, written in the transaction of the change."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    record_id = models.BigIntegerField(null=True)
    actor_id = models.BigIntegerField(null=True)
    version = models.IntegerField(null=True)
    # The fields an update changed; the public fields of the record after the change; anything else a
    # consumer needs (e.g. the address the invitation link is on).
    fields = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    snapshot = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    context = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The prune: delivered events older than the retention (id alone would scan every delivered event).
        indexes = [models.Index(fields=["created_at"], name="events_event_created_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.kind}#{self.record_id}"


class ConsumerCursor(models.Model):
    """How far one consumer got through this workspace's outbox; a failing consumer waits here alone."""

    # Read by exact name only: migration 0002 drops the varchar_pattern_ops twin Django adds to a varchar key.
    consumer = models.CharField(max_length=100, primary_key=True)
    # Every event up to `position` was delivered, except `holes`: [id, when given up on] of ids missing when
    # the cursor passed them (a rollback, or a transaction that had not committed yet).
    position = models.BigIntegerField(default=0)
    holes = models.JSONField(default=list)
    attempts = models.IntegerField(default=0)
    retry_at = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.consumer} at {self.position}"


class Counter(models.Model):
    """A figure a consumer keeps up to date from the events (e.g. `active_seats`)."""

    # Read by exact name only (see ConsumerCursor.consumer).
    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
