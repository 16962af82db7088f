"""The transactional outbox: services record events in their own transaction; after commit a dispatcher hands
them to the consumers that apps register, at least once, in order, each consumer at its own pace.

- `event_record(...)` is one INSERT in the caller's transaction (no commit, no event) and, on commit, a nudge:
  the workspace joins a Redis set of schemas with pending events and a delivery task is queued (once, however
  many events commit before it starts).
- `consumer_register(name, handler)` in an app's `AppConfig.ready()`. The handler gets the `Event` inside a
  transaction (a savepoint) in the workspace's schema; what it writes commits with the consumer's progress, so
  database effects happen once. Effects outside the database (an email) may repeat after a crash: a consumer
  keys them on `event.uuid`.
- Each consumer has a cursor per workspace. One that raises stays at that event and is retried with
  exponential backoff; the other consumers go on.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from tenants.events.models import ConsumerCursor, Event

log = logging.getLogger(__name__)

PENDING_KEY = "kontor:events:pending"
_QUEUED_KEY = "kontor:events:queued:{schema}"
_RETRY_KEY = "kontor:events:retry:{schema}"
# A queued delivery is trusted to run within this time; after it, the next commit queues another.
_QUEUED_TTL = 30
_PUBLIC = "public"


class Type:
    """Event types. A consumer may narrow what it receives to some of them."""

    RECORD_CREATED = "record.created"
    RECORD_UPDATED = "record.updated"
    RECORD_DELETED = "record.deleted"
    RECORD_MERGED = "record.merged"
    DEAL_STAGE_CHANGED = "deal.stage_changed"
    DEAL_WON = "deal.won"
    DEAL_LOST = "deal.lost"
    ACTIVITY_DONE = "activity.done"
    LEAD_CONVERTED = "lead.converted"
    USER_INVITED = "user.invited"
    USER_ACTIVATED = "user.activated"
    USER_DEACTIVATED = "user.deactivated"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_PASSWORD_RESET_REQUESTED = "user.password_reset_requested"


# --- consumers ---------------------------------------------------------------------------------------------

Handler = Callable[[Event], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: Handler
    types: frozenset[str] | None = None


_consumers: dict[str, Consumer] = {}


def consumer_register(name: str, handler: Handler, *, types: Iterable[str] | None = None) -> None:
    """Register (or replace) a consumer under a stable name: its progress is kept under that name."""
    _consumers[name] = Consumer(name=name, handler=handler, types=frozenset(types) if types is not None else None)


def consumer_unregister(name: str) -> None:
    _consumers.pop(name, None)


def consumers() -> list[Consumer]:
    return list(_consumers.values())


# --- recording ---------------------------------------------------------------------------------------------

_EXCLUDED = {"password", "custom_fields", "search_vector"}


def public_snapshot(record: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The record's concrete fields by column name (links as `<name>_id`), without secrets."""
    skip = _EXCLUDED | set(exclude)
    snapshot = {f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields if f.name not in skip}
    custom = getattr(record, "custom_fields", None)
    if isinstance(custom, dict) and custom:
        snapshot["custom_fields"] = custom
    return snapshot


def event_record(
    *,
    type: str,
    kind: str,
    record: models.Model | None = None,
    record_id: int | None = None,
    actor: Any = None,
    fields: Iterable[str] = (),
    snapshot: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Event | None:
    """Write one event in the current transaction of the current workspace (nothing in the public schema or
    with EVENTS_ENABLED off). `snapshot` defaults to the record's public fields."""
    schema = connection.schema_name  # type: ignore[attr-defined]
    if not settings.EVENTS_ENABLED or schema == _PUBLIC:
        return None
    if snapshot is None and record is not None:
        snapshot = public_snapshot(record)
    event = Event.objects.create(
        type=type,
        kind=kind,
        record_id=record_id if record_id is not None else (record.pk if record is not None else None),
        actor_id=getattr(actor, "pk", None),
        version=getattr(record, "version", None),
        fields=list(dict.fromkeys(fields)),
        snapshot=dict(snapshot or {}),
        context=dict(context or {}),
    )
    _nudge_on_commit(schema)
    return event


class _Nudge:
    """The on-commit callback of a transaction that wrote events of `schema` (one per transaction)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    def __call__(self) -> None:
        dispatch_soon(self.schema)


def _nudge_on_commit(schema: str) -> None:
    # A nudge registered at this savepoint level or an enclosing one commits whenever this event does.
    current = set(connection.savepoint_ids)
    for sids, func, *_ in connection.run_on_commit:
        if isinstance(func, _Nudge) and func.schema == schema and sids <= current:
            return
    transaction.on_commit(_Nudge(schema), robust=True)


# --- dispatching -------------------------------------------------------------------------------------------


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def dispatch_soon(schema: str, *, countdown: float | None = None) -> None:
    """Make sure a delivery for `schema` runs after now: in this process when EVENTS_DISPATCH_EAGER, else a
    Celery task, queued only if none is waiting already."""
    if settings.EVENTS_DISPATCH_EAGER:
        from django_tenants.utils import tenant_context

        from tenants.models import Tenant

        with tenant_context(Tenant.objects.get(schema_name=schema)):
            deliver_pending()
        return
    from tenants.events.tasks import dispatch

    pipe = _redis().pipeline(transaction=False)  # one round trip
    pipe.sadd(PENDING_KEY, schema)
    if countdown is None:
        pipe.set(_QUEUED_KEY.format(schema=schema), 1, nx=True, ex=_QUEUED_TTL)
    else:
        pipe.set(_RETRY_KEY.format(schema=schema), 1, nx=True, ex=int(countdown) + 1)
    if not pipe.execute()[1]:
        return  # a delivery (or a retry) is queued already
    dispatch.apply_async(countdown=countdown, headers={"_schema_name": schema})


def dispatch_started(schema: str) -> None:
    """Called first by the delivery task: a commit from now on queues another one."""
    _redis().delete(_QUEUED_KEY.format(schema=schema))


# Ids are taken at INSERT, so a transaction may commit an event after a later id is already visible. A gap in
# the ids is waited for this long (from the event after it): a rolled-back transaction leaves it for good, a
# slower one fills it; either way the missing ids become the cursor's holes and are delivered if they appear.
GAP_WAIT = datetime.timedelta(seconds=2)
_HOLE_KEEP_SECONDS = 3600.0
_MAX_HOLES = 1000


@dataclass
class _Batch:
    events: list[Event]  # in the order to deliver: holes that have appeared since, then the next run of ids
    holes: set[int]  # which of `events` are such holes
    new_holes: list[tuple[int, float]]  # gaps given up on in this batch
    full: bool
    wait_until: datetime.datetime | None  # a recent gap stopped the batch


def _next_batch(cursor: ConsumerCursor, *, batch: int, now: datetime.datetime) -> _Batch:
    stamp = now.timestamp()
    cursor.holes = [h for h in cursor.holes if h[1] > stamp - _HOLE_KEEP_SECONDS]
    appeared = list(Event.objects.filter(id__in=[h[0] for h in cursor.holes]).order_by("id")) if cursor.holes else []
    following = list(Event.objects.filter(id__gt=cursor.position).order_by("id")[:batch])
    # Delivery in the writer's process (tests) sees no concurrent writers: a gap there is a rollback.
    wait = datetime.timedelta(0) if settings.EVENTS_DISPATCH_EAGER else GAP_WAIT
    run: list[Event] = []
    new_holes: list[tuple[int, float]] = []
    expected = cursor.position + 1
    wait_until = None
    for event in following:
        if event.id != expected:
            fresh_cursor = cursor.position == 0 and not run
            if not fresh_cursor and event.created_at > now - wait:
                wait_until = event.created_at + wait
                break
            if event.id - expected <= _MAX_HOLES:
                new_holes += [(i, stamp) for i in range(expected, event.id)]
        run.append(event)
        expected = event.id + 1
    return _Batch(
        events=[*appeared, *run],
        holes={e.id for e in appeared},
        new_holes=new_holes,
        full=len(following) == batch and wait_until is None,
        wait_until=wait_until,
    )


def _backoff(attempts: int) -> datetime.timedelta:
    seconds = min(settings.EVENTS_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.EVENTS_RETRY_MAX_SECONDS)
    return datetime.timedelta(seconds=seconds)


@dataclass
class Progress:
    delivered: int = 0
    # More events are waiting now (a full batch), or a consumer waits for its retry at `retry_at`.
    more: bool = False
    retry_at: datetime.datetime | None = None


def _deliver_to(consumer: Consumer, *, batch: int, progress: Progress) -> None:
    with transaction.atomic():
        # The row lock makes two deliveries of one workspace take turns per consumer.
        cursor = ConsumerCursor.objects.select_for_update().get(consumer=consumer.name)
        now = timezone.now()
        if cursor.retry_at is not None and cursor.retry_at > now:
            progress.retry_at = min(filter(None, (progress.retry_at, cursor.retry_at)))
            return
        work = _next_batch(cursor, batch=batch, now=now)
        delivered_holes: set[int] = set()
        failed: Event | None = None
        for event in work.events:
            if consumer.types is None or event.type in consumer.types:
                try:
                    with transaction.atomic():
                        consumer.handler(event)
                except Exception as exc:
                    failed = event
                    cursor.attempts += 1
                    cursor.retry_at = now + _backoff(cursor.attempts)
                    cursor.last_error = f"event {event.uuid}: {exc!r}"[:2000]
                    log.warning("consumer %s failed on %s (attempt %d)", consumer.name, event.uuid, cursor.attempts)
                    progress.retry_at = min(filter(None, (progress.retry_at, cursor.retry_at)))
                    break
                progress.delivered += 1
            if event.id in work.holes:
                delivered_holes.add(event.id)
            else:
                cursor.position = event.id
            cursor.attempts, cursor.retry_at, cursor.last_error = 0, None, ""
        # The gaps passed become holes; past a failure, the next attempt finds them again.
        passed = [h for h in work.new_holes if h[0] < cursor.position]
        cursor.holes = [h for h in cursor.holes if h[0] not in delivered_holes] + [list(h) for h in passed]
        if work.events or failed is not None:
            cursor.save(update_fields=["position", "holes", "attempts", "retry_at", "last_error"])
        if failed is None and work.wait_until is not None:
            progress.retry_at = min(filter(None, (progress.retry_at, work.wait_until)))
        progress.more = progress.more or (work.full and failed is None)


def deliver_pending(*, batch: int = 200) -> Progress:
    """Deliver what the current workspace's consumers have not had yet, one batch per consumer."""
    progress = Progress()
    registered = consumers()
    cursors = {c.consumer: c for c in ConsumerCursor.objects.filter(consumer__in=[c.name for c in registered])}
    if missing := [ConsumerCursor(consumer=c.name) for c in registered if c.name not in cursors]:
        ConsumerCursor.objects.bulk_create(missing, ignore_conflicts=True)
    top = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for consumer in registered:
        known = cursors.get(consumer.name)
        if known is not None and known.position >= top and not known.holes and known.retry_at is None:
            continue  # nothing new for it (read without the lock: a stale read only costs a look)
        _deliver_to(consumer, batch=batch, progress=progress)
    return progress


def has_pending() -> bool:
    """Whether some registered consumer of the current workspace has events still to receive."""
    names = [c.name for c in consumers()]
    if not names:
        return False
    known = dict(ConsumerCursor.objects.filter(consumer__in=names).values_list("consumer", "position"))
    lowest = min(known.get(name, 0) for name in names)
    return Event.objects.filter(id__gt=lowest).exists()


def pending_forget(schema: str) -> None:
    _redis().srem(PENDING_KEY, schema)


def pending_schemas() -> list[str]:
    members: set[bytes] = _redis().smembers(PENDING_KEY)  # type: ignore[assignment]
    return sorted(s.decode() for s in members)


def events_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete the current workspace's events every consumer has had, once older than EVENTS_RETENTION_DAYS."""
    names = [c.name for c in consumers()]
    positions = dict(ConsumerCursor.objects.filter(consumer__in=names).values_list("consumer", "position"))
    delivered_up_to = min((positions.get(name, 0) for name in names), default=None)
    if delivered_up_to is None:
        delivered_up_to = Event.objects.aggregate(top=models.Max("id"))["top"] or 0
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.EVENTS_RETENTION_DAYS)
    deleted, _ = Event.objects.filter(id__lte=delivered_up_to, created_at__lt=cutoff).delete()
    return deleted
