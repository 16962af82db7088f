"""Stored timers and the runner that fires them.

A timer is a row (`Timer`): it survives restarts of workers and beat. The runner fires due timers twenty to a
transaction, with the rows locked (`SKIP LOCKED`, so runners side by side share the work) and deleted in that
same transaction: the steps' effects and the deletion commit together or not at all, so a runner killed
half-way leaves the timers to fire again, and one that finished never fires them twice.

Which workspaces have timers due is kept in Redis, not found by visiting workspaces: a sorted set of schema ->
the workspace's earliest pending timer, lowered on commit by whoever writes an earlier timer and set by the
runner when it is done. A beat tick reads the due part of the set and queues a runner per workspace, so its cost
follows the workspaces with due timers, not their number. Redis keeps nothing on disk here: after a loss, the
next tick rebuilds the set once from every workspace (the only walk over the fleet).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from crm.processes.models import StepRun, Timer

log = logging.getLogger(__name__)

DUE_KEY = "kontor:processes:due"
_BUILT_KEY = "kontor:processes:due:built"
_QUEUED_KEY = "kontor:processes:queued:{schema}"
_QUEUED_TTL = 30
BATCH = 200
# Timers fired per transaction (one commit for them all; each still under its own savepoint).
TRANSACTION_BATCH = 20
# A timer whose handler raised (not a step's own error: those fail the instance) is tried again this much later.
RETRY_AFTER = datetime.timedelta(seconds=60)

TimerHandler = Callable[[Timer], None]
_HANDLERS: dict[str, TimerHandler] = {}


def timer_handler_register(kind: str, handler: TimerHandler) -> None:
    _HANDLERS[kind] = handler


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _schema() -> str:
    return str(connection.schema_name)  # type: ignore[attr-defined]


# --- writing timers ----------------------------------------------------------------------------------------


_UPSERT = (
    "INSERT INTO processes_timer (kind, due_at, step_id, definition_id, record_id, key, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (key) DO UPDATE SET due_at = EXCLUDED.due_at"
)


def timer_set(
    *,
    kind: str,
    due_at: datetime.datetime,
    key: str,
    step: StepRun | None = None,
    definition_id: int | None = None,
    record_id: int | None = None,
) -> None:
    """Set the pending timer named `key` to `due_at` (one row per key: setting it again moves it). One
    statement: the runner sets the next timer of every step it fires."""
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT,
            [kind, due_at, step.pk if step is not None else None, definition_id, record_id, key[:120], timezone.now()],
        )
        moved = cursor.rowcount
    if moved:
        _note_on_commit(_schema(), due_at)


def timers_cancel(keys: list[str]) -> int:
    deleted, _ = Timer.objects.filter(key__in=keys).delete()
    return deleted


def timers_cancel_for_step(run: StepRun) -> int:
    # A step's timers have names made from its id (no index by step is needed to find them).
    from crm.processes.engine import MAX_ESCALATIONS

    return timers_cancel([f"wake:{run.pk}", *(f"deadline:{run.pk}:{n}" for n in range(MAX_ESCALATIONS + 1))])


def _note_on_commit(schema: str, due_at: datetime.datetime) -> None:
    when = due_at.timestamp()
    transaction.on_commit(lambda: due_note(schema, when), robust=True)


def due_note(schema: str, when: float) -> None:
    """The workspace has a timer due at `when`: lower its entry, and queue a runner for a timer due soon."""
    _redis().zadd(DUE_KEY, {schema: when}, lt=True)
    wait = when - time.time()
    if wait <= settings.PROCESSES_TICK_SECONDS:
        runner_queue(schema, countdown=max(wait, 0.0))


def runner_queue(schema: str, *, countdown: float = 0.0, runners: int = 1) -> int:
    """Queue up to `runners` runners for the workspace, each in a free slot (one waiting per slot): many timers
    due at once are fired side by side, their rows shared out by SKIP LOCKED. Returns how many were queued."""
    from crm.processes.tasks import fire

    queued = 0
    for slot in range(max(1, min(runners, settings.PROCESSES_RUNNERS_PER_WORKSPACE))):
        key = _QUEUED_KEY.format(schema=schema) + f":{slot}"
        if _redis().set(key, 1, nx=True, ex=_QUEUED_TTL + int(countdown)):
            fire.apply_async(args=[slot], countdown=countdown or None, headers={"_schema_name": schema})
            queued += 1
    return queued


def runner_started(schema: str, slot: int = 0) -> None:
    _redis().delete(_QUEUED_KEY.format(schema=schema) + f":{slot}")


# --- firing ------------------------------------------------------------------------------------------------


@dataclass
class Fired:
    fired: int = 0
    failed: int = 0
    more: bool = False
    # (due, fired) of each timer, for the benchmark's delay figures
    delays: list[float] | None = None


def _fire_batch(timer_ids: list[int], now: datetime.datetime, fired: Fired) -> None:
    """Fire these timers in one transaction, each under its own savepoint: a timer whose handler raises is
    moved later alone. Killed half-way, the transaction rolls back whole, and the timers fire again."""
    with transaction.atomic():
        timers = list(
            Timer.objects.select_for_update(skip_locked=True)
            .filter(pk__in=timer_ids, due_at__lte=now)
            .order_by("due_at", "id")
        )
        done: list[Timer] = []
        for timer in timers:
            try:
                with transaction.atomic():
                    handler = _HANDLERS.get(timer.kind)
                    if handler is not None:
                        handler(timer)
            except Exception:
                log.exception("timer %s failed; tried again later", timer.key)
                Timer.objects.filter(pk=timer.pk).update(due_at=timezone.now() + RETRY_AFTER)
                fired.failed += 1
                continue
            done.append(timer)
        moment = timezone.now()
        # Fired, the rows go, in the transaction of what they set off: gone is fired (and the table stays the
        # size of what is pending).
        Timer.objects.filter(pk__in=[t.pk for t in done]).delete()
    fired.fired += len(done)
    if fired.delays is not None:
        fired.delays.extend((moment - t.due_at).total_seconds() for t in done)


def fire_due(*, now: datetime.datetime | None = None, budget_seconds: float = 5.0, delays: bool = False) -> Fired:
    """Fire the current workspace's due timers, soonest first, for at most `budget_seconds`."""
    fired = Fired(delays=[] if delays else None)
    deadline = time.monotonic() + budget_seconds
    while True:
        moment = now or timezone.now()
        ids = list(Timer.objects.filter(due_at__lte=moment).order_by("due_at").values_list("id", flat=True)[:BATCH])
        for start in range(0, len(ids), TRANSACTION_BATCH):
            _fire_batch(ids[start : start + TRANSACTION_BATCH], now or timezone.now(), fired)
            if time.monotonic() > deadline:
                fired.more = True
                return fired
        if len(ids) < BATCH:
            return fired


def next_due() -> datetime.datetime | None:
    return Timer.objects.aggregate(at=Min("due_at"))["at"]


def due_refresh(schema: str) -> datetime.datetime | None:
    """After a run: the workspace's entry becomes its next pending timer (or goes). A timer committed meanwhile
    either lowered the entry after this (ZADD LT) or is seen by the look that follows."""
    upcoming = next_due()
    if upcoming is None:
        _redis().zrem(DUE_KEY, schema)
    else:
        _redis().zadd(DUE_KEY, {schema: upcoming.timestamp()})
    again = next_due()
    if again is not None and (upcoming is None or again < upcoming):
        _redis().zadd(DUE_KEY, {schema: again.timestamp()}, lt=True)
        upcoming = again
    return upcoming


def due_schemas(now: float | None = None) -> list[str]:
    """The workspaces with a timer due by `now` (rebuilding the set first when Redis lost it)."""
    if not _redis().exists(_BUILT_KEY):
        due_rebuild()
    members: list[bytes] = _redis().zrangebyscore(DUE_KEY, "-inf", now or time.time())  # type: ignore[assignment]
    return [m.decode() for m in members]


def due_rebuild() -> int:
    """Rebuild the due set from every workspace (only after Redis lost it)."""
    from django_tenants.utils import schema_context

    from tenants.connections import connections_recycle
    from tenants.models import Tenant

    found = 0
    for schema in Tenant.objects.filter(kind=Tenant.Kind.WORKSPACE).values_list("schema_name", flat=True):
        with schema_context(schema):
            upcoming = next_due()
        if upcoming is not None:
            _redis().zadd(DUE_KEY, {schema: upcoming.timestamp()}, lt=True)
            found += 1
        connections_recycle()
    _redis().set(_BUILT_KEY, 1)
    return found
