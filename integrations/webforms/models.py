"""A website form of a "webforms" connection: its fields, each mapped to a lead, contact or custom field, and
what a submission does (who gets it, the task, where the visitor goes next)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.core.models import Connection
from tenants.accounts.models import Team


class WebForm(models.Model):
    """One per connection (made with it). `assign_cursor` is the round-robin's place in the team: the id of the
    person who got the last submission, moved under a lock of this row."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="webform")
    # Submissions are shared in turn among the team's active people; none: the connection's creator.
    # A workspace has a handful of forms: a team's delete finds them without an index.
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    # Blank: "Website form: <connection name>".
    task_subject = models.CharField(max_length=255, blank=True)
    # The task is due this many minutes after the submission (0: no due time).
    task_due_minutes = models.PositiveIntegerField(default=60)
    # scheme://host[:port] of the sites allowed to post (empty: any).
    allowed_origins = models.JSONField(default=list, blank=True)
    success_message = models.TextField(blank=True)
    # Where the visitor goes after a successful HTML post (303); blank: Kontor's page with the success message.
    redirect_url = models.URLField(max_length=500, blank=True)
    # The name of the hidden input that people leave empty and bots fill.
    honeypot = models.SlugField(max_length=50, default="website", db_index=False)
    submit_label = models.CharField(max_length=100, blank=True)
    lead_source = models.CharField(max_length=100, blank=True, default="website")
    assign_cursor = models.PositiveBigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.connection.name


class FormField(models.Model):
    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        TEXTAREA = "textarea", _("Long text")
        SELECT = "select", _("Single choice")

    # Indexed by the (form, key) constraint below.
    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="fields", db_index=False)
    # The input's name on the website and in JSON.
    key = models.SlugField(max_length=50, db_index=False)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.TEXT)
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    choices = models.JSONField(default=list, blank=True)
    # Where the value goes: "lead.<field>", "contact.<field>", "custom.<key>" (a lead's custom field), or ""
    # (only into the task and the lead's message). See targets.py.
    target = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("position", "id")
        constraints = [models.UniqueConstraint(fields=["form", "key"], name="webforms_field_unique_key")]

    def __str__(self) -> str:
        return self.label
