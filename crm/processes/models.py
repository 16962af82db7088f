"""Business processes: definitions an administrator describes (versioned), and their running instances.

A definition is edited as a draft (trigger + steps, JSON checked by `crm.processes.spec`); publishing it freezes
the draft into a new `ProcessVersion`. Instances keep the version they started with, so editing a process never
changes the steps of work already under way. Every step of an instance is a `StepRun` row with its state; every
timer (a wait, a deadline, an approval's timeout, a date or schedule trigger) is a `Timer` row, so a restart of
workers or beat loses nothing, and a timer fires in the transaction that deletes it, so nothing fires twice.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


def _default_work_days() -> list[int]:
    return [0, 1, 2, 3, 4]  # Monday to Friday (date.weekday())


class WorkCalendar(models.Model):
    """The workspace's working time (one row): deadlines "in working hours" are counted in it."""

    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)  # blank: the workspace's
    work_days = ArrayField(
        models.PositiveSmallIntegerField(), verbose_name=_("working days"), default=_default_work_days
    )
    day_start = models.TimeField(_("working day starts"), default=datetime.time(9, 0))
    day_end = models.TimeField(_("working day ends"), default=datetime.time(18, 0))
    holidays = ArrayField(models.DateField(), verbose_name=_("holidays"), default=list, blank=True)
    # Weekend days that are worked (a moved working day).
    extra_work_days = ArrayField(models.DateField(), verbose_name=_("extra working days"), default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("working calendar")

    def __str__(self) -> str:
        return str(_("working calendar"))


class ProcessDefinition(models.Model):
    """A process as administrators edit it: the draft, and which published version new instances start on."""

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    # The shipped template it was made from ("new_web_lead"), blank for one made from scratch.
    template = models.CharField(max_length=64, blank=True, editable=False)
    # {"trigger": {...}, "steps": [...]} as being edited; checked by spec.definition_errors.
    draft = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # The version new instances start on (None until first published).
    current = models.ForeignKey(
        "processes.ProcessVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("process")
        verbose_name_plural = _("processes")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ProcessVersion(models.Model):
    """A published, frozen definition: what its instances run. Never changed after it is written."""

    # Not indexed alone: processes_version_number (definition, number) serves "the versions of a definition".
    definition = models.ForeignKey(ProcessDefinition, on_delete=models.CASCADE, related_name="versions", db_index=False)
    number = models.PositiveIntegerField()
    # Trigger fields copied out for the consumer's lookup (which definitions listen to this event).
    trigger_type = models.CharField(max_length=32)
    record_type = models.CharField(max_length=16, blank=True)
    trigger = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    steps = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    published_at = models.DateTimeField(default=timezone.now, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["definition", "-number"]
        constraints = [models.UniqueConstraint(fields=["definition", "number"], name="processes_version_number")]

    def __str__(self) -> str:
        return f"{self.definition_id} v{self.number}"


class Instance(models.Model):
    """One run of a process version, usually about one record."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", pgettext_lazy("process", "Cancelled")
        FAILED = "failed", _("Stopped on an error")

    definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.CASCADE, related_name="instances", db_index=False
    )
    version = models.ForeignKey(ProcessVersion, on_delete=models.PROTECT, related_name="instances", db_index=False)
    record_type = models.CharField(max_length=16, blank=True)
    record_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    # Why it started once: "<event uuid>", "date:<record>:<date>", "schedule:<due>", "manual:<uuid>".
    start_key = models.CharField(max_length=120)
    # Values the steps share: the outcome of approvals, the round-robin pick, the reason it failed.
    variables = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # An approval step that holds the record (a deal may not change stage while it waits).
    holds_record = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("running process")
        verbose_name_plural = _("running processes")
        ordering = ["-started_at", "-id"]
        constraints = [
            # A trigger delivered twice (the outbox is at least once) starts one instance.
            models.UniqueConstraint(fields=["definition", "start_key"], name="processes_instance_once"),
        ]
        indexes = [
            # The card's running and recently finished processes; the hold check on a deal's stage move.
            models.Index(fields=["record_type", "record_id"], name="processes_instance_record"),
            # The administrators' list of a definition's instances, newest first (and the cascade).
            models.Index(fields=["definition", "-started_at"], name="processes_instance_def"),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id}#{self.pk}"


class StepRun(models.Model):
    """One step of an instance as it ran or runs: who holds it, since when, until when."""

    class State(models.TextChoices):
        ACTIVE = "active", _("In progress")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", pgettext_lazy("process", "Cancelled")
        FAILED = "failed", _("Failed")

    # Not indexed alone: processes_step_instance (instance, id) serves the instance's steps and the cascade.
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="steps", db_index=False)
    step_id = models.CharField(max_length=32)
    step_type = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    # The person who holds the step (a task's assignee, an approval's approvers).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    approvers = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # The task it created (a task step), so the task's completion moves the instance on.
    task_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # "approved" / "rejected" / "timeout" / "done" / "skipped"; the approver's comment.
    outcome = models.CharField(max_length=16, blank=True)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    escalations = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["instance", "id"]
        indexes = [
            models.Index(fields=["instance", "id"], name="processes_step_instance"),
            # A task done finds the step waiting on it (activity.done events).
            models.Index(fields=["task_id"], name="processes_step_task", condition=models.Q(state="active")),
            # My day: the approvals waiting for me (approvers @> [me]).
            GinIndex(fields=["approvers"], name="processes_step_approvers", condition=models.Q(state="active")),
        ]

    def __str__(self) -> str:
        return f"{self.instance_id}/{self.step_id}"

    @property
    def is_overdue(self) -> bool:
        return self.state == self.State.ACTIVE and self.due_at is not None and self.due_at < timezone.now()

    @property
    def outcome_label(self) -> str:
        return str(STEP_OUTCOMES.get(self.outcome, self.outcome))


class Timer(models.Model):
    """Something to do at a time: wake an instance's step, a deadline, or start a definition (date, schedule)."""

    class Kind(models.TextChoices):
        WAKE = "wake"  # a wait step ends
        DEADLINE = "deadline"  # a task or approval is due: escalate, or the approval's timeout branch
        DATE = "date"  # a date trigger: start the definition for a record
        SCHEDULE = "schedule"  # a schedule trigger: start the definition, then the next run

    kind = models.CharField(max_length=16, choices=Kind.choices)
    due_at = models.DateTimeField()
    # Either a step of an instance (wake, deadline) or a definition (date, schedule).
    step = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    definition = models.ForeignKey(
        ProcessDefinition, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    record_id = models.BigIntegerField(null=True, blank=True)
    # What it is, once: a second timer with the same key is not written (e.g. "date:<def>:<record>").
    key = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key"], name="processes_timer_key")]
        indexes = [
            # The runner: the pending timers that are due, soonest first (and the next one, for the schedule).
            models.Index(fields=["due_at"], name="processes_timer_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} at {self.due_at:%Y-%m-%d %H:%M}"


# How the history of an instance names what happened, and a step's outcome (the codes stay in the rows).
LOG_ACTIONS = {
    "started": _("Started"),
    "step_waiting": _("Waiting"),
    "step_done": _("Step done"),
    "step_failed": _("Step failed"),
    "task_created": _("Task created"),
    "approved": _("Approved"),
    "rejected": _("Rejected"),
    "timeout": _("No decision in time"),
    "overdue": _("Overdue"),
    "escalated": _("Handed on, overdue"),
    "branch": _("Branch taken"),
    "email_queued": _("Email queued"),
    "email_sent": _("Email sent"),
    "email_skipped": _("Email not sent: no address"),
    "completed": _("Completed"),
    "cancelled": pgettext_lazy("process", "Cancelled"),
    "failed": _("Stopped on an error"),
}
STEP_OUTCOMES = {
    "done": _("done"),
    "approved": _("approved"),
    "rejected": _("rejected"),
    "timeout": _("no decision in time"),
    "skipped": _("skipped"),
    "cancelled": pgettext_lazy("step", "cancelled"),
    "failed": _("failed"),
    "yes": _("yes"),
    "no": _("no"),
    "task_deleted": _("task deleted"),
}


class LogEntry(models.Model):
    """The history of an instance: every transition, with who and why. Append-only by use."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="log", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    step_id = models.CharField(max_length=32, blank=True)
    # "started", "step_waiting", "step_done", "task_created", "approved", "rejected", "escalated", ...
    action = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    details = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["instance", "id"]
        indexes = [models.Index(fields=["instance", "id"], name="processes_log_instance")]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.action}"

    @property
    def action_label(self) -> str:
        return str(LOG_ACTIONS.get(self.action, self.action))


class Notification(models.Model):
    """A message in a person's in-app notifications (a step handed to them, an overdue step, a decision)."""

    # Not indexed alone: processes_notice_user (user, -id) serves the person's list and the unread count.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True)
    # Written once per cause (a consumer or a timer may run twice).
    key = models.CharField(max_length=160)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["key"], name="processes_notice_key")]
        indexes = [models.Index(fields=["user", "-id"], name="processes_notice_user")]

    def __str__(self) -> str:
        return self.text
