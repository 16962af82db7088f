"""Running processes: an instance walks its version's steps until one waits; what it waits for (a task done, a
timer, an approval) moves it on later, through the functions here.

Every transition locks the instance's row, checks the state it expects and records itself in the instance's log,
so a trigger, timer or decision delivered twice acts once. Effects outside the database (email, webhooks) are
queued after commit and keyed by the step run, so a retry does not repeat them.

Processes act in the CRM as the workspace's process identity (a `User` of kind integration, not a seat), through
the same services people use: history shows what a process did and the access policy applies.
"""

from __future__ import annotations

import datetime
import logging
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, Subquery
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.processes import calendar, conditions, fields
from crm.processes.models import Instance, LogEntry, Notification, ProcessDefinition, ProcessVersion, StepRun, Timer
from crm.processes.timers import timer_set, timers_cancel_for_step
from tenants.access import workspace_write
from tenants.accounts import kinds, policy
from tenants.accounts.models import Team, User
from tenants.events.models import Counter

log = logging.getLogger(__name__)

END = "end"
# Steps one call may run without waiting: a branch looping back on itself stops here, not in an endless loop.
MAX_STEPS_PER_RUN = 200
MAX_ESCALATIONS = 3
PROCESS_IDENTITY_EMAIL = "processes@processes.invalid"
RECORD_TYPES = ("company", "contact", "lead", "deal")


# --- the identity processes act as -------------------------------------------------------------------------


def process_identity() -> User:
    """The user every process of this workspace acts as (created once)."""
    user = User.objects.filter(email=PROCESS_IDENTITY_EMAIL).first()
    if user is None:
        from tenants.accounts.services import integration_identity_create

        user = integration_identity_create(name=_("Business processes"), email=PROCESS_IDENTITY_EMAIL)
    return user


# --- step types --------------------------------------------------------------------------------------------


@dataclass
class StepContext:
    """What a step's handler works with."""

    instance: Instance
    step: dict[str, Any]
    run: StepRun
    record: Model | None
    # The process identity, read when a step first acts through a service (most steps never do).
    known_actor: User | None = None

    @property
    def actor(self) -> User:
        if self.known_actor is None:
            self.known_actor = process_identity()
        return self.known_actor

    @property
    def record_type(self) -> str:
        return self.instance.record_type


@dataclass(frozen=True)
class Result:
    """A handler's answer: the step waits (for a task, a timer, a decision), or goes on (to `goto` when set)."""

    wait: bool = False
    goto: str | None = None
    outcome: str = "done"


StepHandler = Callable[[StepContext], Result]
_HANDLERS: dict[str, StepHandler] = {}


def step_type_register(step_type: str, handler: StepHandler) -> None:
    """Register how a step type runs (upper layers add theirs: the integration layer's webhook step)."""
    _HANDLERS[step_type] = handler


def step_type_registered(step_type: str) -> bool:
    return step_type in _HANDLERS


def step_handler(step_type: str) -> StepHandler:
    try:
        return _HANDLERS[step_type]
    except KeyError:
        raise ValidationError(_("This step type is not available: %(type)s") % {"type": step_type}) from None


# --- records ----------------------------------------------------------------------------------------------


def record_load(record_type: str, record_id: int | None) -> Model | None:
    if not record_type or record_id is None or not kinds.is_registered(record_type):
        return None
    return kinds.get(record_type).model._default_manager.filter(pk=record_id).first()


def record_url(record: Model | None) -> str:
    if record is None or not hasattr(record, "get_absolute_url"):
        return ""
    try:
        return str(record.get_absolute_url())
    except NoReverseMatch:
        return ""


def _record_label(record: Model | None) -> str:
    return str(record)[:200] if record is not None else ""


# --- who: owners, team heads, round-robin, approvers -------------------------------------------------------


def _active(user_id: int | None) -> User | None:
    if user_id is None:
        return None
    return User.objects.filter(pk=user_id, is_active=True, kind=User.Kind.PERSON).first()


def _owner(record: Model | None) -> User | None:
    return _active(getattr(record, "owner_id", None)) if record is not None else None


def _team_head(team_id: int | None) -> User | None:
    """The head of the team, or of the nearest team above it that has one."""
    seen: set[int] = set()
    while team_id is not None and team_id not in seen:
        seen.add(team_id)
        team = Team.objects.filter(pk=team_id).only("head_id", "parent_id").first()
        if team is None:
            return None
        if head := _active(team.head_id):
            return head
        team_id = team.parent_id
    return None


def _owners_head(record: Model | None) -> User | None:
    owner = _owner(record)
    if owner is None or owner.team_id is None:
        return None
    head = _team_head(owner.team_id)
    if head is not None and head.pk == owner.pk and owner.team is not None and owner.team.parent_id:
        # The owner heads their team: their own head is the next team up.
        head = _team_head(owner.team.parent_id)
    return head


def _round_robin(team_id: int | None) -> User | None:
    """The next active person of the team after the last one picked (the pick is kept in a counter row)."""
    if team_id is None:
        return None
    members = list(
        User.objects.filter(team_id=team_id, is_active=True, kind=User.Kind.PERSON)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not members:
        return None
    name = f"processes.round_robin.{team_id}"
    Counter.objects.get_or_create(name=name)
    counter = Counter.objects.select_for_update().get(name=name)
    after = [m for m in members if m > counter.value]
    pick = after[0] if after else members[0]
    counter.value, counter.updated_at = pick, timezone.now()
    counter.save(update_fields=["value", "updated_at"])
    return User.objects.get(pk=pick)


def assignee_resolve(ctx: StepContext, assign: Mapping[str, Any]) -> User | None:
    """The person a step's `assign` names; falls back to the record's owner, then the one who started it."""
    to = assign.get("to", "owner")
    user: User | None = None
    if to == "user":
        user = _active(assign.get("user"))
    elif to == "team_head":
        user = _team_head(assign["team"]) if assign.get("team") else _owners_head(ctx.record)
    elif to == "round_robin":
        user = _round_robin(assign.get("team"))
    elif to == "starter":
        user = _active(ctx.instance.started_by_id)
    return user or _owner(ctx.record) or _active(ctx.instance.started_by_id)


def approvers_resolve(ctx: StepContext, spec: Mapping[str, Any]) -> list[User]:
    to = spec.get("to", "team_head")
    people: list[User] = []
    if to == "users":
        people = list(User.objects.filter(pk__in=spec.get("users") or [], is_active=True, kind=User.Kind.PERSON))
    elif to == "role" and spec.get("role"):
        people = list(User.objects.filter(role_id=spec["role"], is_active=True, kind=User.Kind.PERSON))
    elif to == "team_head":
        head = _team_head(spec["team"]) if spec.get("team") else _owners_head(ctx.record)
        people = [head] if head is not None else []
    if not people:
        # Nobody to ask: the workspace's administrators decide rather than the step waiting forever.
        people = list(
            User.objects.filter(
                role__permissions__contains=[policy.WorkspacePermission.MANAGE_PROCESSES.value],
                is_active=True,
                kind=User.Kind.PERSON,
            )
        )
    return people


# --- texts with placeholders -------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(record|owner|contact|process)\.([a-z0-9_:]{1,60})\}")


def _contact_of(record: Model | None) -> Model | None:
    if record is None:
        return None
    if record._meta.model_name == "contact":
        return record
    if record._meta.model_name == "deal":
        return record.contacts.order_by("id").first()  # type: ignore[attr-defined]
    return getattr(record, "contact", None)


def text_render(text: str, ctx: StepContext) -> str:
    """`{record.title}`, `{owner.name}`, `{contact.email}`, `{process.name}`: our own substitution, so a
    text an administrator typed can read values and nothing else."""

    if "{" not in text:
        return text
    found: dict[str, Any] = {"record": ctx.record}

    def value(match: re.Match[str]) -> str:
        scope, name = match.group(1), match.group(2)
        if scope == "process":
            return ctx.instance.definition.name if name == "name" else match.group(0)
        if scope not in found:  # the owner and the contact are read once, and only when a text names them
            found[scope] = _owner(ctx.record) if scope == "owner" else _contact_of(ctx.record)
        target: Any = found[scope]
        if target is None:
            return ""
        if name == "name":
            return str(target)
        if name == "url" and scope == "record":
            return record_url(target)
        if name.startswith("cf:"):
            return str((getattr(target, "custom_fields", None) or {}).get(name[3:], ""))
        if name in {"password", "custom_fields", "search_vector"} or name.startswith("_"):
            return match.group(0)
        got = getattr(target, name, None)
        return "" if got is None or callable(got) else str(got)

    return _PLACEHOLDER.sub(value, text)


# --- notifications -----------------------------------------------------------------------------------------


def notify(users: Iterable[User | None], *, text: str, url: str = "", key: str) -> int:
    """One in-app notification per person and cause (`key`), written once however often it is asked for."""
    rows = [
        Notification(user=u, text=text[:500], url=url[:500], key=f"{key}:{u.pk}"[:160])
        for u in {u.pk: u for u in users if u is not None}.values()
    ]
    written = len(Notification.objects.bulk_create(rows, ignore_conflicts=True))
    if rows and random.randrange(NOTIFICATIONS_PRUNE_EVERY) == 0:  # noqa: S311 - sampling, not a secret
        notifications_prune(user_ids=[row.user_id for row in rows])
    return written


# Read notifications are kept this long; the writers prune them now and then (no sweep over the workspaces),
# so a person's list, and the unread count every page shows, stay small.
NOTIFICATIONS_PRUNE_EVERY = 200


def notifications_prune(*, user_ids: Iterable[int], now: datetime.datetime | None = None) -> int:
    """Delete these people's notifications read more than PROCESSES_NOTIFICATIONS_DAYS ago."""
    before = (now or timezone.now()) - datetime.timedelta(days=settings.PROCESSES_NOTIFICATIONS_DAYS)
    deleted, _ = Notification.objects.filter(user_id__in=list(user_ids), read_at__lt=before).delete()
    return deleted


def notifications_mark_read(*, actor: User, notification: Notification | None = None) -> int:
    """Mark the person's notifications read (one, or all). Reading is not a change of the workspace's data:
    allowed in a read-only workspace too, and only ever on the person's own."""
    mine = Notification.objects.filter(user=actor, read_at=None)
    if notification is not None:
        return int(mine.filter(pk=notification.pk).update(read_at=timezone.now()))
    marked = int(mine.update(read_at=timezone.now()))
    notifications_prune(user_ids=[actor.pk])
    return marked


# --- the run loop ------------------------------------------------------------------------------------------


def _log(instance: Instance, action: str, *, step_id: str = "", actor: User | None = None, **details: Any) -> None:
    LogEntry.objects.create(instance=instance, action=action, step_id=step_id, actor=actor, details=details)


def _steps(instance: Instance) -> list[dict[str, Any]]:
    return list(instance.version.steps or [])


def _following(steps: list[dict[str, Any]], step_id: str) -> str:
    """Where a step goes on to: where it says (`next`), else the step after it in the list."""
    ids = [s["id"] for s in steps]
    at = ids.index(step_id) if step_id in ids else len(ids)
    if at < len(ids) and steps[at].get("next"):
        return str(steps[at]["next"])
    return ids[at + 1] if at + 1 < len(ids) else END


# Steps that refuse (if at all) before writing anything: no savepoint needed around them.
_WRITE_NOTHING_BEFORE_FAILING = frozenset({"wait", "notify", "branch"})
# Steps that do not write the record: the steps after them work on the record as it was read.
_LEAVE_RECORD_AS_IS = frozenset({"wait", "notify", "approval", "branch", "task", "email", "webhook"})


def _run_from(instance: Instance, step_id: str) -> None:
    """Run steps from `step_id` until one waits or the process ends (the instance's row is locked)."""
    steps = _steps(instance)
    by_id = {s["id"]: s for s in steps}
    record = record_load(instance.record_type, instance.record_id)
    if instance.record_id is not None and record is None:
        _finish(instance, Instance.State.CANCELLED, reason=_("The record was deleted."))
        return
    for _n in range(MAX_STEPS_PER_RUN):
        if step_id == END or step_id not in by_id:
            _finish(instance, Instance.State.COMPLETED)
            return
        step = by_id[step_id]
        run = StepRun.objects.create(instance=instance, step_id=step_id, step_type=step["type"])
        ctx = StepContext(instance=instance, step=step, run=run, record=record)
        try:
            if step["type"] in _WRITE_NOTHING_BEFORE_FAILING:
                result = step_handler(step["type"])(ctx)
            else:
                # A step that fails half-way leaves nothing of what it did.
                with transaction.atomic():
                    result = step_handler(step["type"])(ctx)
        except (ValidationError, PermissionDenied) as exc:
            _step_failed(instance, run, exc)
            return
        if result.wait:
            _log(instance, "step_waiting", step_id=step_id, type=step["type"], assignee=run.assignee_id, due=run.due_at)
            return
        _step_close(run, outcome=result.outcome)
        _log(instance, "step_done", step_id=step_id, type=step["type"], outcome=result.outcome)
        step_id = result.goto or _following(steps, step_id)
        if step["type"] in _LEAVE_RECORD_AS_IS:
            continue
        # The step may have changed the record (or deleted it): the next one reads it as it is now.
        record = record_load(instance.record_type, instance.record_id) if instance.record_id else None
        if instance.record_id is not None and record is None:
            _finish(instance, Instance.State.CANCELLED, reason=_("The record was deleted."))
            return
    _finish(
        instance,
        Instance.State.FAILED,
        reason=_("The process ran more than %(n)s steps without waiting.") % {"n": MAX_STEPS_PER_RUN},
    )


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return (
            "; ".join(
                f"{k}: {' '.join(map(str, v))}" if k != "__all__" else " ".join(map(str, v))
                for k, v in exc.message_dict.items()
            )
            if hasattr(exc, "error_dict")
            else " ".join(map(str, exc.messages))
        )
    return _("The process may not do this.")


def _step_failed(instance: Instance, run: StepRun, exc: Exception) -> None:
    error = _error_text(exc)[:2000]
    _step_close(run, outcome="failed", state=StepRun.State.FAILED)
    _log(instance, "step_failed", step_id=run.step_id, error=error)
    _finish(instance, Instance.State.FAILED, reason=error)
    owner = _owner(record_load(instance.record_type, instance.record_id))
    notify(
        [owner, *_process_managers()],
        text=_("Process “%(name)s” stopped: %(error)s") % {"name": instance.definition.name, "error": error},
        url=_instance_url(instance),
        key=f"failed:{instance.pk}",
    )


def _process_managers() -> list[User]:
    return list(
        User.objects.filter(
            role__permissions__contains=[policy.WorkspacePermission.MANAGE_PROCESSES.value],
            is_active=True,
            kind=User.Kind.PERSON,
        )[:20]
    )


def _instance_url(instance: Instance) -> str:
    from django.urls import reverse

    try:
        return reverse("processes:instance", args=[instance.definition_id, instance.pk])
    except NoReverseMatch:
        return ""


def _step_close(
    run: StepRun, *, outcome: str, state: str = StepRun.State.DONE, by: User | None = None, timers_left: bool = True
) -> None:
    run.state, run.outcome, run.finished_at = state, outcome, timezone.now()
    run.decided_by = by if by is not None else run.decided_by
    run.save(update_fields=["state", "outcome", "finished_at", "decided_by", "comment"])
    if timers_left and run.due_at is not None:  # only a step with a time has timers
        timers_cancel_for_step(run)


def _finish(instance: Instance, state: str, *, reason: str = "", actor: User | None = None) -> None:
    # A completed instance closed its last step on the way; a stopped one may leave steps waiting.
    if state != Instance.State.COMPLETED:
        for run in instance.steps.filter(state=StepRun.State.ACTIVE):
            _step_close(run, outcome="cancelled", state=StepRun.State.CANCELLED)
    instance.state, instance.finished_at, instance.holds_record = state, timezone.now(), False
    instance.error = reason[:2000] if state == Instance.State.FAILED else instance.error
    instance.save(update_fields=["state", "finished_at", "holds_record", "error"])
    _log(instance, state, actor=actor, reason=reason)


def _locked(instance_id: int) -> Instance:
    # Only the instance's row: its version and definition are shared by every instance of the process.
    return Instance.objects.select_for_update(of=("self",)).select_related("version", "definition").get(pk=instance_id)


# --- starting ----------------------------------------------------------------------------------------------


def instance_start(
    *,
    definition: ProcessDefinition,
    record_type: str = "",
    record_id: int | None = None,
    start_key: str,
    actor: User | None = None,
    variables: Mapping[str, Any] | None = None,
    version: ProcessVersion | None = None,
) -> Instance | None:
    """Start the definition's current version (or `version`) about a record; None when `start_key` already
    started one. Runs the steps until one waits, in the caller's transaction."""
    version = version or definition.current
    if version is None:
        return None
    try:
        with transaction.atomic():
            instance = Instance.objects.create(
                definition=definition,
                version=version,
                record_type=record_type,
                record_id=record_id,
                start_key=start_key[:120],
                started_by=actor if actor is not None and actor.kind == User.Kind.PERSON else None,
                variables=dict(variables or {}),
            )
    except IntegrityError:
        return None  # started already by this trigger
    instance = _locked(instance.pk)
    _log(instance, "started", actor=actor, version=version.number, key=start_key[:120])
    steps = _steps(instance)
    if not steps:
        _finish(instance, Instance.State.COMPLETED)
        return instance
    _run_from(instance, steps[0]["id"])
    return instance


def running_for(definition: ProcessDefinition, record_type: str, record_id: int) -> bool:
    return Instance.objects.filter(
        record_type=record_type, record_id=record_id, state=Instance.State.RUNNING, definition=definition
    ).exists()


@workspace_write
def manual_start(*, actor: User, definition: ProcessDefinition, record: Model, record_type: str) -> Instance:
    """Start a process by hand from a record's card: the person must be allowed to edit the record."""
    policy.require_on(actor, policy.Action.EDIT, record_type, record)
    version = definition.current
    if (
        not definition.is_active
        or version is None
        or version.trigger_type != "manual"
        or version.record_type != record_type
    ):
        raise ValidationError(_("This process cannot be started on this record."))
    if running_for(definition, record_type, record.pk):
        raise ValidationError(_("This process is already running on this record."))
    started = instance_start(
        definition=definition,
        record_type=record_type,
        record_id=record.pk,
        start_key=f"manual:{record_type}:{record.pk}:{timezone.now().timestamp()}",
        actor=actor,
    )
    assert started is not None
    return started


# --- moving on ---------------------------------------------------------------------------------------------


def _continue(
    instance: Instance,
    run: StepRun,
    *,
    outcome: str,
    goto: str | None = None,
    by: User | None = None,
    timers_left: bool = True,
) -> None:
    _step_close(run, outcome=outcome, by=by, timers_left=timers_left)
    _log(instance, "step_done", step_id=run.step_id, outcome=outcome, actor=by)
    if instance.holds_record and not instance.steps.filter(state=StepRun.State.ACTIVE, step_type="approval").exists():
        instance.holds_record = False
        instance.save(update_fields=["holds_record"])
    _run_from(instance, goto or _following(_steps(instance), run.step_id))


def task_done(*, task_id: int, outcome: str = "done") -> int:
    """The task `task_id` was completed (or deleted): the steps waiting on it go on. Returns how many moved."""
    moved = 0
    for run_id, instance_id in StepRun.objects.filter(task_id=task_id, state=StepRun.State.ACTIVE).values_list(
        "id", "instance_id"
    ):
        instance = _locked(instance_id)
        run = StepRun.objects.get(pk=run_id)
        if run.state != StepRun.State.ACTIVE or instance.state != Instance.State.RUNNING:
            continue
        _continue(instance, run, outcome=outcome)
        moved += 1
    return moved


def timer_fire(timer: Timer) -> None:
    """A step's timer is due (called with the timer locked; the runner deletes it in the same transaction)."""
    if timer.step_id is None:
        return
    instance = (
        Instance.objects.select_for_update(of=("self",))
        .select_related("version", "definition")
        .filter(pk=Subquery(StepRun.objects.filter(pk=timer.step_id).values("instance_id")[:1]))
        .first()
    )
    run = StepRun.objects.filter(pk=timer.step_id).first()  # read after the lock: as the last transition left it
    if instance is None or run is None:
        return
    if run.state != StepRun.State.ACTIVE or instance.state != Instance.State.RUNNING:
        return
    steps = {s["id"]: s for s in _steps(instance)}
    step = steps.get(run.step_id, {})
    if timer.kind == Timer.Kind.WAKE:
        # A wait's one timer is this one: the runner deletes it, nothing else to remove.
        _continue(instance, run, outcome="done", timers_left=False)
    elif run.step_type == "approval":
        _log(instance, "timeout", step_id=run.step_id)
        _notify_decision(instance, run, _("no decision in time"))
        _continue(instance, run, outcome="timeout", goto=step.get("on_timeout") or END)
    else:
        _overdue(instance, run, step, since=timer.due_at)


def _overdue(instance: Instance, run: StepRun, step: Mapping[str, Any], *, since: datetime.datetime) -> None:
    """A task step passed its deadline: tell the people the rule names and hand the task on."""
    record = record_load(instance.record_type, instance.record_id)
    actor = process_identity()
    ctx = StepContext(instance=instance, step=dict(step), run=run, record=record, known_actor=actor)
    escalate = step.get("escalate") or {}
    previous = run.assignee
    url = record_url(record) or _instance_url(instance)
    title = _("Overdue: “%(task)s” (%(process)s)") % {
        "task": step.get("title", ""),
        "process": instance.definition.name,
    }
    watchers = {"owner": _owner(record), "assignee": previous, "team_head": _owners_head(record)}
    told = [watchers[w] for w in escalate.get("notify", ["assignee"]) if w in watchers]
    if not escalate or run.escalations >= MAX_ESCALATIONS:
        notify([*told, previous], text=title, url=url, key=f"overdue:{run.pk}:{run.escalations}")
        _log(instance, "overdue", step_id=run.step_id, assignee=run.assignee_id)
        return
    to = assignee_resolve(ctx, {"to": escalate.get("to", "team_head"), "user": escalate.get("user")})
    if to is None or (previous is not None and to.pk == previous.pk):
        to = _owners_head(record) or to
    run.escalations += 1
    run.assignee = to
    # The new deadline runs from the missed one (the runner fires it at about that moment).
    run.due_at = (
        calendar.add_duration(max(since, run.due_at or since), step["deadline"]) if step.get("deadline") else None
    )
    run.save(update_fields=["escalations", "assignee", "due_at"])
    if run.task_id:
        from crm.activities.models import Activity
        from crm.activities.services import activity_update

        task = Activity.objects.filter(pk=run.task_id).first()
        if task is not None and not task.is_done:
            activity_update(actor=actor, activity=task, data={"assignee": to.pk if to else None, "due_at": run.due_at})
    notify(
        [*told, to],
        text=_("“%(task)s” was not done in time by %(who)s and was handed to %(to)s.")
        % {"task": step.get("title", ""), "who": previous or "—", "to": to or "—"},
        url=url,
        key=f"escalated:{run.pk}:{run.escalations}",
    )
    _log(
        instance,
        "escalated",
        step_id=run.step_id,
        **{"from": getattr(previous, "pk", None), "to": getattr(to, "pk", None)},
    )
    if run.due_at is not None:
        timer_set(kind=Timer.Kind.DEADLINE, due_at=run.due_at, key=f"deadline:{run.pk}:{run.escalations}", step=run)


def _notify_decision(instance: Instance, run: StepRun, what: str) -> None:
    record = record_load(instance.record_type, instance.record_id)
    notify(
        [_owner(record), _active(instance.started_by_id)],
        text=_("%(process)s, %(record)s: %(what)s")
        % {"process": instance.definition.name, "record": _record_label(record) or "—", "what": what},
        url=record_url(record) or _instance_url(instance),
        key=f"decision:{run.pk}",
    )


@workspace_write
def approval_decide(*, actor: User, step: StepRun, approve: bool, comment: str = "") -> StepRun:
    """An approver's decision. Only the step's approvers decide; a second decision on a closed step is refused."""
    if "\x00" in comment:
        raise ValidationError({"comment": [_("Null characters are not allowed.")]})
    comment = comment.strip()[:2000]
    instance = _locked(step.instance_id)
    run = StepRun.objects.select_for_update().get(pk=step.pk)
    if run.step_type != "approval" or actor.pk not in run.approvers:
        raise PermissionDenied
    if run.state != StepRun.State.ACTIVE or instance.state != Instance.State.RUNNING:
        raise ValidationError(_("This approval was already decided."))
    if not approve and not comment:
        raise ValidationError({"comment": [_("Say why you reject it.")]})
    spec = {s["id"]: s for s in _steps(instance)}.get(run.step_id, {})
    votes = instance.variables.setdefault("votes", {}).setdefault(str(run.pk), {})
    votes[str(actor.pk)] = {"approve": approve, "comment": comment, "at": timezone.now().isoformat()}
    instance.save(update_fields=["variables"])
    _log(instance, "approved" if approve else "rejected", step_id=run.step_id, actor=actor, comment=comment)
    run.comment = "\n".join(filter(None, (run.comment, f"{actor}: {comment}" if comment else "")))[:4000]
    if approve and spec.get("mode") == "all" and not all(votes.get(str(a), {}).get("approve") for a in run.approvers):
        run.save(update_fields=["comment"])
        return run  # others still have to approve
    _notify_decision(
        instance,
        run,
        _("approved by %(who)s") % {"who": actor}
        if approve
        else _("rejected by %(who)s: %(comment)s") % {"who": actor, "comment": comment},
    )
    if approve:
        _continue(instance, run, outcome="approved", by=actor)
    else:
        _continue(instance, run, outcome="rejected", goto=spec.get("on_reject") or END, by=actor)
    run.refresh_from_db()
    return run


@workspace_write
def instance_cancel(*, actor: User, instance: Instance, reason: str = "") -> Instance:
    """Stop a running instance (administrators): its waiting steps are closed, its tasks stay as they are."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PROCESSES)
    if "\x00" in reason:
        raise ValidationError({"reason": [_("Null characters are not allowed.")]})
    instance = _locked(instance.pk)
    if instance.state != Instance.State.RUNNING:
        raise ValidationError(_("This process is not running."))
    _finish(instance, Instance.State.CANCELLED, reason=reason.strip()[:2000], actor=actor)
    return instance


def instances_cancel_for_record(*, record_type: str, record_id: int, reason: str) -> int:
    """The record is gone: its running processes stop (called by the trigger consumer)."""
    cancelled = 0
    for pk in Instance.objects.filter(
        record_type=record_type, record_id=record_id, state=Instance.State.RUNNING
    ).values_list("id", flat=True):
        instance = _locked(pk)
        if instance.state == Instance.State.RUNNING:
            _finish(instance, Instance.State.CANCELLED, reason=reason)
            cancelled += 1
    return cancelled


def record_held(*, record_type: str, record_id: int) -> Instance | None:
    """The running instance that holds the record (an approval with hold), if any."""
    return (
        Instance.objects.filter(
            record_type=record_type, record_id=record_id, state=Instance.State.RUNNING, holds_record=True
        )
        .select_related("definition")
        .first()
    )


# --- the built-in step types -------------------------------------------------------------------------------


def _links(ctx: StepContext) -> dict[str, int]:
    if ctx.record is None or ctx.record_type not in RECORD_TYPES:
        return {}
    return {ctx.record_type: ctx.record.pk}


def _deadline(ctx: StepContext, start: datetime.datetime) -> datetime.datetime | None:
    deadline = ctx.step.get("deadline")
    return calendar.add_duration(start, deadline) if deadline else None


def _task(ctx: StepContext) -> Result:
    from crm.activities.services import activity_create

    assignee = assignee_resolve(ctx, ctx.step.get("assign") or {})
    now = timezone.now()
    due = _deadline(ctx, now)
    task = activity_create(
        actor=ctx.actor,
        data={
            "kind": "task",
            "subject": text_render(ctx.step.get("title", ""), ctx)[:255] or ctx.instance.definition.name[:255],
            "body": text_render(ctx.step.get("body", ""), ctx),
            "due_at": due,
            "assignee": assignee.pk if assignee else None,
            **_links(ctx),
        },
    )
    ctx.run.task_id, ctx.run.assignee, ctx.run.due_at = task.pk, assignee, due
    ctx.run.save(update_fields=["task_id", "assignee", "due_at"])
    _log(ctx.instance, "task_created", step_id=ctx.run.step_id, task=task.pk, assignee=getattr(assignee, "pk", None))
    notify(
        [assignee],
        text=_("New task from “%(process)s”: %(task)s")
        % {"process": ctx.instance.definition.name, "task": task.subject},
        url=record_url(ctx.record),
        key=f"task:{ctx.run.pk}",
    )
    waits = bool(ctx.step.get("wait")) or bool(ctx.step.get("escalate"))
    if due is not None and waits:
        timer_set(kind=Timer.Kind.DEADLINE, due_at=due, key=f"deadline:{ctx.run.pk}:0", step=ctx.run)
    return Result(wait=waits)


def _service_for(record_type: str) -> Callable[..., Any]:
    from crm.companies.services import company_update
    from crm.contacts.services import contact_update
    from crm.deals.services import deal_update
    from crm.leads.services import lead_update

    updates: dict[str, Callable[..., Any]] = {
        "company": company_update,
        "contact": contact_update,
        "deal": deal_update,
        "lead": lead_update,
    }
    update = updates[record_type]
    return lambda *, actor, record, data: update(actor=actor, **{record_type: record}, data=data)


def _set_field(ctx: StepContext) -> Result:
    if ctx.record is None:
        raise ValidationError(_("This step needs a record."))
    name = ctx.step["field"]
    value = fields.coerce_value(ctx.record_type, name, text_render(str(ctx.step.get("value", "")), ctx))
    data = fields.set_field_data(ctx.record_type, name, value)
    _service_for(ctx.record_type)(actor=ctx.actor, record=ctx.record, data=data)
    return Result()


def _move_stage(ctx: StepContext) -> Result:
    from crm.deals.models import Deal, Stage
    from crm.deals.services import deal_move_to_stage

    if not isinstance(ctx.record, Deal):
        raise ValidationError(_("Only a deal's process can move a stage."))
    stage = Stage.objects.filter(pk=int(ctx.step.get("stage") or 0)).first()
    if stage is None:
        raise ValidationError(_("The stage of this step no longer exists."))
    deal_move_to_stage(actor=ctx.actor, deal=ctx.record, stage=stage, lost_reason=_("Moved by a process"))
    return Result()


def _email(ctx: StepContext) -> Result:
    to = ctx.step.get("to", "contact")
    address = ""
    if to == "address":
        address = ctx.step.get("address", "")
    elif to == "owner":
        owner = _owner(ctx.record)
        address = owner.email if owner else ""
    else:
        address = _address_of(_contact_of(ctx.record)) or _address_of(ctx.record)
    if not address:
        _log(ctx.instance, "email_skipped", step_id=ctx.run.step_id, reason="no address")
        return Result(outcome="skipped")
    subject = text_render(ctx.step.get("subject", ""), ctx)[:255]
    body = text_render(ctx.step.get("body", ""), ctx)
    _log(ctx.instance, "email_queued", step_id=ctx.run.step_id, to=address, subject=subject)
    from crm.processes import tasks

    run_id = ctx.run.pk
    transaction.on_commit(lambda: tasks.email_send.delay(run_id, address, subject, body), robust=True)
    return Result()


def _address_of(record: Model | None) -> str:
    """A record's email address: its own field, or the first of its list (contacts, companies)."""
    if record is None:
        return ""
    emails = getattr(record, "emails", None)
    return str(getattr(record, "email", "") or (emails[0] if emails else ""))


def _notify(ctx: StepContext) -> Result:
    spec = ctx.step.get("to") or {"to": "owner"}
    people: list[User | None]
    if isinstance(spec, Mapping) and spec.get("to") == "approvers":
        ids = [a for r in ctx.instance.steps.filter(step_type="approval") for a in r.approvers]
        people = list(User.objects.filter(pk__in=ids))
    else:
        people = [assignee_resolve(ctx, spec if isinstance(spec, Mapping) else {"to": "owner"})]
    notify(
        people, text=text_render(ctx.step.get("text", ""), ctx), url=record_url(ctx.record), key=f"notify:{ctx.run.pk}"
    )
    return Result()


def _wait(ctx: StepContext) -> Result:
    step = ctx.step
    due: datetime.datetime | None = None
    if step.get("until_task"):
        waited = ctx.instance.steps.filter(step_id=step["until_task"], task_id__isnull=False).order_by("-id").first()
        if waited is None or waited.task_id is None:
            return Result()
        from crm.activities.models import Activity

        if Activity.objects.filter(pk=waited.task_id, is_done=False).exists():
            ctx.run.task_id = waited.task_id
            ctx.run.save(update_fields=["task_id"])
            return Result(wait=True)
        return Result()
    if step.get("duration"):
        due = calendar.add_duration(timezone.now(), step["duration"])
    elif step.get("until"):
        due = _parse_when(step["until"])
    elif step.get("until_field"):
        values = fields.record_values(ctx.record_type, ctx.record) if ctx.record is not None else {}
        due = _as_moment(values.get(step["until_field"]))
        if due is not None and step.get("offset"):
            due = calendar.add_duration(due, step["offset"])
    if due is None or due <= timezone.now():
        return Result()
    ctx.run.due_at = due
    ctx.run.save(update_fields=["due_at"])
    timer_set(kind=Timer.Kind.WAKE, due_at=due, key=f"wake:{ctx.run.pk}", step=ctx.run)
    return Result(wait=True)


def _parse_when(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=calendar.calendar_zone(calendar.work_calendar()))
    return moment


def _as_moment(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        zone = calendar.calendar_zone(calendar.work_calendar())
        start = calendar.work_calendar().day_start
        return datetime.datetime.combine(value, start, tzinfo=zone)
    if isinstance(value, str):
        try:
            return _as_moment(datetime.date.fromisoformat(value[:10])) if len(value) == 10 else _parse_when(value)
        except ValueError:
            return None
    return None


def _approval(ctx: StepContext) -> Result:
    approvers = approvers_resolve(ctx, ctx.step.get("approvers") or {})
    if not approvers:
        raise ValidationError(_("Nobody can approve this step."))
    due = calendar.add_duration(timezone.now(), ctx.step["timeout"]) if ctx.step.get("timeout") else None
    ctx.run.approvers = [a.pk for a in approvers]
    ctx.run.assignee = approvers[0]
    ctx.run.due_at = due
    ctx.run.save(update_fields=["approvers", "assignee", "due_at"])
    if ctx.step.get("hold") and ctx.instance.record_id is not None:
        ctx.instance.holds_record = True
        ctx.instance.save(update_fields=["holds_record"])
    notify(
        approvers,
        text=_("Approval needed: %(process)s, %(record)s")
        % {"process": ctx.instance.definition.name, "record": _record_label(ctx.record) or "—"},
        url=record_url(ctx.record),
        key=f"approval:{ctx.run.pk}",
    )
    if due is not None:
        timer_set(kind=Timer.Kind.DEADLINE, due_at=due, key=f"deadline:{ctx.run.pk}:0", step=ctx.run)
    return Result(wait=True)


def _branch(ctx: StepContext) -> Result:
    values = fields.record_values(ctx.record_type, ctx.record) if ctx.record is not None else {}
    taken = conditions.evaluate(ctx.step.get("condition"), values)
    _log(ctx.instance, "branch", step_id=ctx.run.step_id, taken="then" if taken else "else")
    return Result(goto=ctx.step.get("then" if taken else "else") or None, outcome="yes" if taken else "no")


for _type, _fn in {
    "task": _task,
    "set_field": _set_field,
    "move_stage": _move_stage,
    "email": _email,
    "notify": _notify,
    "wait": _wait,
    "approval": _approval,
    "branch": _branch,
}.items():
    step_type_register(_type, _fn)


# --- dry run ----------------------------------------------------------------------------------------------


@dataclass
class DryRunLine:
    step_id: str
    text: str
    when: datetime.datetime | None = None
    who: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class DryRun:
    starts: bool
    reason: str
    lines: list[DryRunLine]


_DESCRIBE_WAIT = gettext_lazy("waits here until the task is done")


def dry_run(*, draft: Mapping[str, Any], record_type: str, record: Model | None) -> DryRun:
    """What the draft would do on `record` now: whether its trigger's condition holds, then each step with the
    people it would pick and the times it would set. Nothing is written (the transaction is rolled back)."""
    from crm.processes import spec

    trigger = draft.get("trigger") or {}
    values = fields.record_values(record_type, record) if record is not None else {}
    holds = conditions.evaluate(trigger.get("condition"), values)
    reason = (
        _("The trigger's condition holds for this record.")
        if holds
        else _("The trigger's condition does not hold for this record: it would not start.")
    )
    lines: list[DryRunLine] = []
    steps = list(draft.get("steps") or [])
    by_id = {s.get("id"): s for s in steps}
    instance = Instance(
        definition=ProcessDefinition(name=str(draft.get("name", ""))),
        record_type=record_type,
        record_id=getattr(record, "pk", None),
    )
    now = timezone.now()
    step_id = steps[0]["id"] if steps else END
    with transaction.atomic():
        sid = transaction.savepoint()
        try:
            for _n in range(min(MAX_STEPS_PER_RUN, 3 * len(steps) + 1)):
                if step_id == END or step_id not in by_id:
                    break
                step = by_id[step_id]
                ctx = StepContext(
                    instance=instance,
                    step=step,
                    run=StepRun(),
                    record=record,
                    known_actor=User(full_name=_("Business processes")),
                )
                line = DryRunLine(step_id=step_id, text=spec.step_describe(step, record_type))
                kind = step.get("type")
                goto: str | None = None
                if kind == "task":
                    who = assignee_resolve(ctx, step.get("assign") or {})
                    line.who = str(who or "—")
                    line.when = _deadline(ctx, now)
                    if step.get("wait") or step.get("escalate"):
                        line.notes.append(str(_DESCRIBE_WAIT))
                elif kind == "approval":
                    line.who = ", ".join(str(u) for u in approvers_resolve(ctx, step.get("approvers") or {}))
                    line.when = calendar.add_duration(now, step["timeout"]) if step.get("timeout") else None
                    line.notes.append(_("If approved, the process goes on with the next step."))
                elif kind == "branch":
                    taken = conditions.evaluate(step.get("condition"), values)
                    line.notes.append(
                        _("The condition holds: goes to “%(to)s”.") % {"to": step.get("then") or _("next step")}
                        if taken
                        else _("The condition does not hold: goes to “%(to)s”.")
                        % {"to": step.get("else") or _("next step")}
                    )
                    goto = step.get("then" if taken else "else") or None
                elif kind == "wait" and step.get("duration"):
                    line.when = calendar.add_duration(now, step["duration"])
                elif kind in ("notify",):
                    spec_to = step.get("to") or {"to": "owner"}
                    if isinstance(spec_to, Mapping) and spec_to.get("to") != "approvers":
                        line.who = str(assignee_resolve(ctx, spec_to) or "—")
                lines.append(line)
                step_id = goto or _following(steps, step_id)
        finally:
            # round-robin picks and created rows are undone: a dry run changes nothing.
            transaction.savepoint_rollback(sid)
    return DryRun(starts=holds, reason=reason, lines=lines)
