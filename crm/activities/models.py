from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Activity(models.Model):
    """A task, call, meeting, note or email, linked to a company, contact, deal or lead (one or several)."""

    class Kind(models.TextChoices):
        TASK = "task", _("Task")
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        NOTE = "note", _("Note")
        # Logged by a mailbox connection (integrations.email): received or sent, never planned.
        EMAIL = "email", _("Email")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.TASK)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("details"), blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration, min"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # Kept (Django's one-column index): the activity list's assignee filter, open or done, and the
        # `assignee_id IN (...)` arm of the scoped visibility (activity_open_due holds open activities only).
    )
    is_done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True)
    # Each link is indexed by activity_<link> (link, -created_at), which serves every lookup by the link alone.
    company = models.ForeignKey(
        "companies.Company",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
    )
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    # Calls: which way, which number, how long (telephony fills these in). Emails use the direction too.
    call_direction = models.CharField(max_length=8, choices=Direction.choices, blank=True)
    call_phone = models.CharField(max_length=20, blank=True)
    call_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Emails: who wrote and to whom (addresses as in the message's From and To/Cc), shown on the card.
    email_from = models.CharField(max_length=320, blank=True, default="", db_default="")
    email_to = models.TextField(blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Kept (Django's one-column index): the `created_by_id IN (...)` arm of the scoped visibility.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            # My day: my_open_tasks_until (assignee = me, open, due before, soonest first); owner transfers.
            models.Index(fields=["assignee", "due_at"], name="activity_open_due", condition=models.Q(is_done=False)),
            # The activity list sorted by due (its default) and the calendar's date range.
            models.Index(fields=["due_at"], name="activity_due"),
            # "Next step" of a card: the soonest open activity of one record.
            *(
                models.Index(
                    fields=[link, "due_at", "id"], name=f"activity_{link}_next", condition=models.Q(is_done=False)
                )
                for link in ("company", "contact", "deal", "lead")
            ),
            # A card's timeline, newest first; cascades and merges by the link.
            models.Index(fields=["company", "-created_at"], name="activity_company"),
            models.Index(fields=["contact", "-created_at"], name="activity_contact"),
            models.Index(fields=["deal", "-created_at"], name="activity_deal"),
            models.Index(fields=["lead", "-created_at"], name="activity_lead"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_overdue(self) -> bool:
        return not self.is_done and self.due_at is not None and self.due_at < timezone.now()
