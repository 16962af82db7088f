"""What starts processes: the workspace's events (through the outbox), dates, schedules, and a person's hand.

The consumer `processes.triggers` reads each event once per workspace (the outbox delivers at least once; the
instance's `start_key` is the event's uuid, so a repeat starts nothing). It loads the active definitions that
listen to the event's kind of record, reads the record once, and starts those whose trigger and condition hold
and that are not running on the record already. A date trigger does not start anything on an event: it sets
the record's timer (moved when the date changes); the timer starts the process when the date comes.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.processes import calendar, conditions, engine, fields
from crm.processes.models import Instance, ProcessDefinition, ProcessVersion, Timer
from crm.processes.timers import timer_handler_register, timer_set, timers_cancel
from tenants.accounts.models import User
from tenants.context import current_schema
from tenants.events.models import Event
from tenants.events.outbox import Type, consumer_register
from tenants.generations import Generations

log = logging.getLogger(__name__)

CONSUMER = "processes.triggers"
EVENT_TYPES = (
    Type.RECORD_CREATED,
    Type.RECORD_UPDATED,
    Type.RECORD_DELETED,
    Type.DEAL_STAGE_CHANGED,
    Type.DEAL_WON,
    Type.DEAL_LOST,
    Type.ACTIVITY_DONE,
)
_STAGE_EVENTS = {Type.DEAL_STAGE_CHANGED: "", Type.DEAL_WON: "won", Type.DEAL_LOST: "lost"}
# A date already this far behind when it is set starts nothing (an old won deal does not call back now).
_DATE_GRACE = datetime.timedelta(days=1)

# Who tells where a record came from (the integration layer: "this lead came from website form X").
SourceResolver = Callable[[Event], Mapping[str, Any] | None]
_SOURCES: list[SourceResolver] = []


def trigger_source_register(resolver: SourceResolver) -> None:
    if resolver not in _SOURCES:
        _SOURCES.append(resolver)


def _source(event: Event) -> Mapping[str, Any]:
    for resolver in _SOURCES:
        if found := resolver(event):
            return found
    return {}


# The active definitions' triggers, per workspace, in the shared cache: every event reads them, a change of a
# definition (publish, on, off, delete) makes them stale in every worker at once.
_ACTIVE = Generations("process-triggers", entry_seconds=300)


def _active_rows() -> list[dict[str, Any]]:
    schema = current_schema()
    found, rows, generation = _ACTIVE.get(schema, "active")
    if found and isinstance(rows, list):
        return rows
    # The steps and the draft are not read to match an event (an instance reads its version's steps itself).
    versions = (
        ProcessVersion.objects.filter(
            pk__in=ProcessDefinition.objects.filter(is_active=True, current__isnull=False).values("current_id")
        )
        .select_related("definition")
        .only("number", "trigger_type", "record_type", "trigger", "definition__name")
    )
    rows = [
        {
            "definition": v.definition_id,
            "name": v.definition.name,
            "version": v.pk,
            "number": v.number,
            "trigger_type": v.trigger_type,
            "record_type": v.record_type,
            "trigger": v.trigger,
        }
        for v in versions
    ]
    _ACTIVE.put(schema, "active", generation, rows)
    return rows


def active_versions(record_type: str | None = None) -> list[tuple[ProcessDefinition, ProcessVersion]]:
    """The current versions of the active definitions (of one record type): their trigger, not their steps."""
    found = []
    for row in _active_rows():
        if record_type is not None and row["record_type"] != record_type:
            continue
        definition = ProcessDefinition(
            pk=row["definition"], name=row["name"], is_active=True, current_id=row["version"]
        )
        version = ProcessVersion(
            pk=row["version"],
            definition=definition,
            number=row["number"],
            trigger_type=row["trigger_type"],
            record_type=row["record_type"],
            trigger=row["trigger"],
        )
        found.append((definition, version))
    return found


def _needed(candidates: list[tuple[ProcessDefinition, ProcessVersion]]) -> set[str]:
    """The fields the candidates' conditions and dates read (the rest of the record's values is not computed)."""
    names: set[str] = set()
    for _definition, version in candidates:
        names |= conditions.fields_of(version.trigger.get("condition"))
        if version.trigger_type == "date":
            names.add(str(version.trigger.get("field", "")))
    return names


# --- the consumer ------------------------------------------------------------------------------------------


def events_follow(event: Event) -> None:
    if event.type == Type.ACTIVITY_DONE and event.record_id is not None:
        engine.task_done(task_id=event.record_id)
        return
    if event.kind == "activity":
        if event.type == Type.RECORD_CREATED and event.snapshot.get("kind") == "call":
            _call_logged(event)
        elif event.type == Type.RECORD_DELETED and event.record_id is not None:
            # Someone deleted a process's task: they decided it is not needed, so the process goes on.
            engine.task_done(task_id=event.record_id, outcome="task_deleted")
        return
    if event.kind not in engine.RECORD_TYPES or event.record_id is None:
        return
    if event.type == Type.RECORD_DELETED:
        engine.instances_cancel_for_record(
            record_type=event.kind, record_id=event.record_id, reason=_("The record was deleted.")
        )
        for definition, version in active_versions(event.kind):
            if version.trigger_type == "date":
                timers_cancel([_date_key(definition, event.record_id)])
        return
    listening = active_versions(event.kind)
    if not listening:
        return
    changed = fields.changed_names(event.fields or [])
    if "line_items" in changed:
        changed |= {"amount", "discount_percent", "line_max_discount_percent"}
    # Only the definitions this event may concern cost a look at the record (most updates concern none).
    candidates = [(d, v) for d, v in listening if _concerns(event, v, changed)]
    if not candidates:
        return
    record = engine.record_load(event.kind, event.record_id)
    if record is None:
        return
    values = fields.record_values(event.kind, record, only=_needed(candidates))
    values[conditions.CHANGED_KEY] = changed
    for definition, version in candidates:
        trigger = version.trigger
        if version.trigger_type == "date":
            _date_timer_update(definition, version, record, values)
            continue
        if not conditions.evaluate(trigger.get("condition"), values):
            continue
        if engine.running_for(definition, event.kind, event.record_id):
            continue
        _start(definition, version, record_type=event.kind, record_id=event.record_id, key=str(event.uuid), event=event)


def _changed(name: str, changed: set[str]) -> bool:
    # Record events name "custom_fields" for a change of any custom field.
    return name in changed or (name.startswith("cf:") and "custom_fields" in changed)


def _concerns(event: Event, version: ProcessVersion, changed: set[str]) -> bool:
    """May this event start the version (or move its date timer)? Decided from the event alone."""
    if version.trigger_type == "date":
        return event.type == Type.RECORD_CREATED or _changed(str(version.trigger.get("field", "")), changed)
    return _matches(event, version.trigger, changed)


def _matches(event: Event, trigger: Mapping[str, Any], changed: set[str]) -> bool:
    kind = trigger.get("type")
    if kind == "record_created":
        return event.type == Type.RECORD_CREATED
    if kind == "record_updated":
        if event.type not in (Type.RECORD_UPDATED, *_STAGE_EVENTS):
            return False
        wanted = [str(name) for name in trigger.get("fields") or []]
        return not wanted or any(_changed(name, changed) for name in wanted)
    if kind == "stage_entered":
        if event.type not in _STAGE_EVENTS:
            return False
        to_stage = (event.context or {}).get("to_stage_id")
        if trigger.get("stage") and trigger["stage"] != to_stage:
            return False
        if trigger.get("pipeline") and trigger["pipeline"] != event.snapshot.get("pipeline_id"):
            return False
        outcome = trigger.get("outcome")
        return not outcome or _STAGE_EVENTS[event.type] == outcome
    if kind == "form":
        if event.type != Type.RECORD_CREATED or event.kind != "lead":
            return False
        source = _source(event)
        return source.get("source") == "form" and (
            not trigger.get("connection") or str(trigger["connection"]) == str(source.get("connection"))
        )
    return False


def _start(
    definition: ProcessDefinition,
    version: ProcessVersion,
    *,
    record_type: str,
    record_id: int | None,
    key: str,
    event: Event | None = None,
) -> Instance | None:
    """Start one instance; a step that breaks on something unexpected leaves a failed instance to see, and the
    other definitions (and the consumer) go on."""
    try:
        with transaction.atomic():
            return engine.instance_start(
                definition=definition,
                version=version,
                record_type=record_type,
                record_id=record_id,
                start_key=key,
                variables={"trigger": event.type} if event is not None else {},
            )
    except Exception as exc:
        log.exception("process %s could not start on %s#%s", definition.pk, record_type, record_id)
        with transaction.atomic():
            instance, created = Instance.objects.get_or_create(
                definition=definition,
                start_key=key[:120],
                defaults={
                    "version": version,
                    "record_type": record_type,
                    "record_id": record_id,
                    "state": Instance.State.FAILED,
                    "finished_at": timezone.now(),
                    "error": _("It could not start: %(error)s") % {"error": type(exc).__name__},
                },
            )
        return instance if created else None


def _call_logged(event: Event) -> None:
    """A call activity logged by a connection (telephony): processes with a call trigger start about the call's
    contact, lead, company or deal."""
    actor_kind = User.objects.filter(pk=event.actor_id or 0).values_list("kind", flat=True).first()
    if actor_kind != User.Kind.INTEGRATION:
        return
    snap = event.snapshot
    for definition, version in active_versions():
        if version.trigger_type != "call":
            continue
        trigger = version.trigger
        if trigger.get("direction") and trigger["direction"] != snap.get("call_direction"):
            continue
        missed = not snap.get("call_duration_seconds")
        if trigger.get("missed") is not None and bool(trigger["missed"]) != missed:
            continue
        wanted = [version.record_type] if version.record_type else ["contact", "lead", "company", "deal"]
        linked = [(t, snap.get(f"{t}_id")) for t in wanted if snap.get(f"{t}_id")]
        if not linked:
            continue
        record_type, record_id = linked[0]
        record = engine.record_load(record_type, record_id)
        if record is None or engine.running_for(definition, record_type, record_id):
            continue
        if trigger.get("condition") and not conditions.evaluate(
            trigger["condition"], fields.record_values(record_type, record)
        ):
            continue
        _start(definition, version, record_type=record_type, record_id=record_id, key=str(event.uuid), event=event)


# --- date triggers -----------------------------------------------------------------------------------------


def _date_key(definition: ProcessDefinition | int, record_id: int) -> str:
    return f"date:{getattr(definition, 'pk', definition)}:{record_id}"


def date_moment(trigger: Mapping[str, Any], value: Any) -> datetime.datetime | None:
    """When a date trigger fires for a record whose date field holds `value`."""
    cal = calendar.work_calendar()
    if isinstance(value, datetime.datetime):
        value = value.astimezone(calendar.calendar_zone(cal)).date()
    elif isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value[:10])
        except ValueError:
            return None
    if not isinstance(value, datetime.date):
        return None
    hour, minute = _at(trigger.get("at"), cal.day_start)
    moment = datetime.datetime.combine(value, datetime.time(hour, minute), tzinfo=calendar.calendar_zone(cal))
    offset = trigger.get("offset") or {}
    if offset:
        moment = calendar.add_duration(moment, {**offset, "working": False})
    return moment


def _at(text: Any, default: datetime.time) -> tuple[int, int]:
    try:
        parsed = datetime.time.fromisoformat(str(text)) if text else default
    except ValueError:
        parsed = default
    return parsed.hour, parsed.minute


def _date_timer_update(
    definition: ProcessDefinition, version: ProcessVersion, record: Any, values: Mapping[str, Any]
) -> None:
    trigger = version.trigger
    key = _date_key(definition, record.pk)
    moment = date_moment(trigger, values.get(trigger.get("field", "")))
    if moment is None or moment < timezone.now() - _DATE_GRACE:
        timers_cancel([key])
        return
    timer_set(kind=Timer.Kind.DATE, due_at=moment, key=key, definition_id=definition.pk, record_id=record.pk)


def _timer_definition(timer: Timer, trigger_type: str) -> ProcessVersion | None:
    """The version a date or schedule timer starts, if its definition is still on with such a trigger. The fired
    timer gives its name up, so that the next date or run can have a timer under that name again."""
    Timer.objects.filter(pk=timer.pk).update(key=f"{timer.key}@{timer.due_at:%Y%m%d%H%M}"[:120])
    definition = ProcessDefinition.objects.filter(pk=timer.definition_id or 0).select_related("current").first()
    if definition is None or not definition.is_active or definition.current is None:
        return None
    version = definition.current
    version.definition = definition
    return version if version.trigger_type == trigger_type else None


def date_fire(timer: Timer) -> None:
    """A record's date came: start the definition if it still listens and the date still holds."""
    version = _timer_definition(timer, "date")
    if version is None or timer.record_id is None:
        return
    definition = version.definition
    record = engine.record_load(version.record_type, timer.record_id)
    if record is None:
        return
    values = fields.record_values(version.record_type, record)
    moment = date_moment(version.trigger, values.get(version.trigger.get("field", "")))
    if moment is None or abs((moment - timer.due_at).total_seconds()) > 60:
        return  # the date moved: its own timer was set
    if not conditions.evaluate(version.trigger.get("condition"), values):
        return
    if engine.running_for(definition, version.record_type, record.pk):
        return
    _start(
        definition,
        version,
        record_type=version.record_type,
        record_id=record.pk,
        key=f"date:{record.pk}:{moment:%Y-%m-%d}",
    )


def date_backfill(definition: ProcessDefinition) -> int:
    """Set the timers of every record that already has the date (a date trigger just activated)."""
    version = definition.current
    if version is None or version.trigger_type != "date" or not definition.is_active:
        return 0
    from tenants.accounts import kinds

    model = kinds.get(version.record_type).model
    name = version.trigger.get("field", "")
    records = (
        model._default_manager.filter(custom_fields__has_key=name[3:])
        if name.startswith("cf:")
        else model._default_manager.filter(**{f"{name}__isnull": False})
    )
    count = 0
    for record in records.iterator(chunk_size=500):
        values = fields.record_values(version.record_type, record)
        _date_timer_update(definition, version, record, values)
        count += 1
    return count


# --- schedules ---------------------------------------------------------------------------------------------


def _schedule_key(definition: ProcessDefinition | int) -> str:
    return f"schedule:{getattr(definition, 'pk', definition)}"


def _schedule_next(trigger: Mapping[str, Any], after: datetime.datetime) -> datetime.datetime:
    cal = calendar.work_calendar()
    hour, minute = _at(trigger.get("at"), cal.day_start)
    return calendar.next_occurrence(
        after,
        trigger.get("every", "day"),
        datetime.time(hour, minute),
        weekday=trigger.get("weekday"),
        day=trigger.get("day"),
        cal=cal,
    )


def schedule_fire(timer: Timer) -> None:
    """A scheduled run is due: start one instance (no record), then set the next run."""
    version = _timer_definition(timer, "schedule")
    if version is None:
        return
    definition = version.definition
    _start(definition, version, record_type="", record_id=None, key=f"schedule:{timer.due_at:%Y-%m-%dT%H:%M}")
    upcoming = _schedule_next(version.trigger, max(timer.due_at, timezone.now()))
    timer_set(kind=Timer.Kind.SCHEDULE, due_at=upcoming, key=_schedule_key(definition), definition_id=definition.pk)


def definition_changed(definition: ProcessDefinition) -> None:
    """A definition was published, activated, deactivated or deleted: the triggers every event reads are read
    again, and its date and schedule timers follow."""
    _ACTIVE.invalidate(current_schema())
    version = definition.current
    active = definition.is_active and version is not None
    if not active or version is None or version.trigger_type != "schedule":
        timers_cancel([_schedule_key(definition)])
    if not active or version is None or version.trigger_type != "date":
        Timer.objects.filter(definition_id=definition.pk, kind=Timer.Kind.DATE).delete()
    if not active or version is None:
        return
    if version.trigger_type == "schedule":
        upcoming = _schedule_next(version.trigger, timezone.now())
        timer_set(kind=Timer.Kind.SCHEDULE, due_at=upcoming, key=_schedule_key(definition), definition_id=definition.pk)
    elif version.trigger_type == "date":
        from crm.processes import tasks

        pk = definition.pk
        transaction.on_commit(lambda: tasks.date_backfill.delay(pk), robust=True)


def connect() -> None:
    consumer_register(CONSUMER, events_follow, types=EVENT_TYPES)
    timer_handler_register(Timer.Kind.DATE, date_fire)
    timer_handler_register(Timer.Kind.SCHEDULE, schedule_fire)
    timer_handler_register(Timer.Kind.WAKE, engine.timer_fire)
    timer_handler_register(Timer.Kind.DEADLINE, engine.timer_fire)
