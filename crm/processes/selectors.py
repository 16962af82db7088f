"""Reads of running processes for the people who work with them: a record's processes on its card, the approvals
waiting for a person, the process behind a task, a person's notifications. Records are shown only as far as the
access policy lets the reader see them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, Prefetch, QuerySet
from django.http import Http404

from crm.processes import spec
from crm.processes.models import Instance, Notification, ProcessDefinition, StepRun
from tenants.accounts import kinds, policy
from tenants.accounts.models import User

FINISHED_ON_CARD = 5
NOTIFICATIONS_PAGE = 50
# Ids beyond a bigint are no row of ours (the database would refuse to compare them).
MAX_ID = 2**63 - 1


def parse_id(raw: object) -> int | None:
    """A positive database id from user input, or None (text, NUL bytes, huge numbers)."""
    text = str(raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


# --- a record's processes (the card) -----------------------------------------------------------------------


@dataclass
class StepView:
    """The step an instance is at, as the card shows it."""

    run: StepRun
    name: str
    description: str
    holders: list[User] = field(default_factory=list)

    @property
    def is_approval(self) -> bool:
        return self.run.step_type == "approval"


@dataclass
class InstanceView:
    instance: Instance
    steps: list[StepView]
    # The administrators' page of the instance (set for those who manage processes).
    admin_url: str = ""


def _step_spec(instance: Instance, step_id: str) -> Mapping[str, Any]:
    for step in instance.version.steps or []:
        if isinstance(step, Mapping) and step.get("id") == step_id:
            return step
    return {"id": step_id}


def _step_view(instance: Instance, run: StepRun, people: Mapping[int, User]) -> StepView:
    step = _step_spec(instance, run.step_id)
    description = spec.step_describe(step, instance.record_type)
    holders = (
        [people[pk] for pk in run.approvers if pk in people]
        if run.step_type == "approval"
        else [run.assignee]
        if run.assignee is not None
        else []
    )
    return StepView(run=run, name=str(step.get("name") or description), description=description, holders=holders)


def _with_active_steps(queryset: QuerySet[Instance]) -> QuerySet[Instance]:
    active = StepRun.objects.filter(state=StepRun.State.ACTIVE).select_related("assignee").order_by("id")
    return queryset.select_related("definition", "version").prefetch_related(
        Prefetch("steps", queryset=active, to_attr="active_steps")
    )


def record_processes(*, record_type: str, record_id: int) -> tuple[list[InstanceView], list[Instance]]:
    """The record's running processes with the steps they are at, and the last ones that finished.

    The caller has found the record visible to the reader (the card's own selector)."""
    running = list(
        _with_active_steps(
            Instance.objects.filter(record_type=record_type, record_id=record_id, state=Instance.State.RUNNING)
        ).order_by("-started_at", "-id")
    )
    approver_ids = {pk for i in running for run in i.active_steps for pk in run.approvers}  # type: ignore[attr-defined]
    people = User.objects.in_bulk(approver_ids) if approver_ids else {}
    views = [
        InstanceView(instance=i, steps=[_step_view(i, run, people) for run in i.active_steps])  # type: ignore[attr-defined]
        for i in running
    ]
    finished = list(
        Instance.objects.filter(record_type=record_type, record_id=record_id)
        .exclude(state=Instance.State.RUNNING)
        .select_related("definition")
        .order_by("-finished_at", "-id")[:FINISHED_ON_CARD]
    )
    return views, finished


def manual_definitions(*, record_type: str, exclude: Iterable[int] = ()) -> list[ProcessDefinition]:
    """Active definitions whose current version is started by hand on this kind of record."""
    return list(
        ProcessDefinition.objects.filter(
            is_active=True, current__trigger_type="manual", current__record_type=record_type
        )
        .exclude(pk__in=list(exclude))
        .order_by("name", "id")
    )


def manual_definition_get(*, record_type: str, pk: object) -> ProcessDefinition:
    """A definition that may be started by hand on this kind of record, or 404."""
    found = parse_id(pk)
    definition = (
        ProcessDefinition.objects.filter(
            pk=found, is_active=True, current__trigger_type="manual", current__record_type=record_type
        )
        .select_related("current")
        .first()
        if found is not None
        else None
    )
    if definition is None:
        raise Http404
    return definition


def record_step_get(*, record_type: str, record_id: int, pk: object) -> StepRun:
    """A step of one of the record's processes, or 404 (a step of another record is not found here)."""
    found = parse_id(pk)
    run = (
        StepRun.objects.filter(pk=found, instance__record_type=record_type, instance__record_id=record_id)
        .select_related("instance")
        .first()
        if found is not None
        else None
    )
    if run is None:
        raise Http404
    return run


def record_instance_get(*, record_type: str, record_id: int, pk: object) -> Instance:
    """One of the record's processes, or 404."""
    found = parse_id(pk)
    instance = (
        Instance.objects.filter(pk=found, record_type=record_type, record_id=record_id).first()
        if found is not None
        else None
    )
    if instance is None:
        raise Http404
    return instance


# --- My day ------------------------------------------------------------------------------------------------


@dataclass
class ApprovalView:
    """An approval waiting for the reader, with its record when the reader may see it."""

    run: StepRun
    name: str
    record: Model | None
    record_url: str


def approvals_waiting_for(user: User, *, limit: int = 30) -> list[ApprovalView]:
    """The active approval steps that name `user` (the GIN index processes_step_approvers), oldest first."""
    runs = list(
        StepRun.objects.filter(
            state=StepRun.State.ACTIVE,
            step_type="approval",
            approvers__contains=[user.pk],
            instance__state=Instance.State.RUNNING,
        )
        .select_related("instance__definition", "instance__version")
        .order_by("started_at", "id")[:limit]
    )
    # The records, one query per kind, only those the reader may see.
    wanted: dict[str, set[int]] = {}
    for run in runs:
        if run.instance.record_id is not None and kinds.is_registered(run.instance.record_type):
            wanted.setdefault(run.instance.record_type, set()).add(run.instance.record_id)
    records: dict[tuple[str, int], Model] = {}
    for record_type, ids in wanted.items():
        model = kinds.get(record_type).model
        for found in policy.visible(user, model._default_manager.filter(pk__in=ids), record_type):
            records[(record_type, found.pk)] = found
    views = []
    for run in runs:
        record = records.get((run.instance.record_type, run.instance.record_id or 0))
        url = str(record.get_absolute_url()) if record is not None and hasattr(record, "get_absolute_url") else ""
        step = _step_spec(run.instance, run.step_id)
        name = str(step.get("name") or spec.step_describe(step, run.instance.record_type))
        views.append(ApprovalView(run=run, name=name, record=record, record_url=url))
    return views


def task_process_names(task_ids: Iterable[int]) -> dict[int, str]:
    """The name of the process each task belongs to (tasks an active step waits on), in one query."""
    ids = [pk for pk in task_ids if pk is not None]
    if not ids:
        return {}
    rows = StepRun.objects.filter(task_id__in=ids, state=StepRun.State.ACTIVE).values_list(
        "task_id", "instance__definition__name"
    )
    return {task_id: name for task_id, name in rows if task_id is not None}


# --- notifications -----------------------------------------------------------------------------------------


def notifications_of(user: User) -> QuerySet[Notification]:
    """The person's own notifications, newest first (processes_notice_user)."""
    return Notification.objects.filter(user=user).order_by("-id")


def notifications_unread_count(user: User) -> int:
    return Notification.objects.filter(user=user, read_at=None).count()


def notification_get(user: User, pk: object) -> Notification:
    """One of the person's own notifications, or 404 (another person's is not found)."""
    found = parse_id(pk)
    notice = Notification.objects.filter(pk=found, user=user).first() if found is not None else None
    if notice is None:
        raise Http404
    return notice
