"""What a mailbox connection keeps beside the core's Connection: how far each folder was read, the messages it
logged (for threads, idempotency and bounces) and the templates people write emails from."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.activities.models import Activity
from integrations.core.models import Connection
from tenants.accounts.models import User


class FolderCursor(models.Model):
    """How far a folder of the mailbox was read: IMAP UIDs only grow within one UIDVALIDITY, so the next run asks
    for UIDs above `last_uid`; a new UIDVALIDITY starts the folder again (Message-IDs keep that idempotent)."""

    # Served by email_cursor_folder (connection, folder).
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="email_cursors", db_index=False)
    folder = models.CharField(max_length=255)
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "folder"], name="email_cursor_folder")]

    def __str__(self) -> str:
        return f"{self.folder} {self.uidvalidity}/{self.last_uid}"


class Message(models.Model):
    """A message the mailbox logged on the CRM (read from a folder, or sent from a card)."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class State(models.TextChoices):
        LOGGED = "logged", _("logged")  # read from the mailbox
        QUEUED = "queued", _("queued")  # written on a card, waiting for SMTP
        SENT = "sent", _("sent")
        FAILED = "failed", _("not sent")

    # Served by email_message_id_per_connection (connection, message_id): the lookups by id, the page by connection.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="email_messages", db_index=False)
    # Without the angle brackets; a message that has none gets one made from its content (see parse.message_id).
    message_id = models.CharField(max_length=998)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = ArrayField(models.CharField(max_length=998), default=list, blank=True)
    # The thread's root Message-ID: the parent's thread when the parent is known, else the first reference.
    thread = models.CharField(max_length=998)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.LOGGED)
    from_address = models.CharField(max_length=320, blank=True)
    to_addresses = ArrayField(models.CharField(max_length=320), default=list, blank=True)
    cc_addresses = ArrayField(models.CharField(max_length=320), default=list, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    date = models.DateTimeField(null=True, blank=True)
    # Where it is logged: the first contact's activity (indexed: an activity's delete sets it to null here), and
    # the contacts it was logged on (the first one first; ids, not links: a contact's delete leaves them behind).
    activity = models.ForeignKey(Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # A delivery status report about another message (is_report) / this message came back undelivered (bounced).
    is_report = models.BooleanField(default=False)
    bounced = models.BooleanField(default=False)
    # Written on a card: who wrote it, the body sent, the SMTP outcome.
    # Not indexed: people are deactivated, never deleted, and nothing reads messages by their writer.
    sender = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=["connection", "message_id"], name="email_message_id_per_connection")
        ]

    def __str__(self) -> str:
        return self.subject or self.message_id


class EmailTemplate(models.Model):
    """Subject and body with merge fields ({{ contact.first_name }}), offered when writing from a card."""

    name = models.CharField(_("name"), max_length=120)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("body"))
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        # A constraint rather than unique=True: no second (pattern) index nobody queries.
        constraints = [models.UniqueConstraint(fields=["name"], name="email_template_name")]

    def __str__(self) -> str:
        return self.name
