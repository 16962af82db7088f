"""Outgoing webhooks: the events a receiver subscribed to become deliveries (in the outbox consumer's
transaction, once per event and connection), and each delivery is POSTed, signed, one attempt per task run,
until the receiver answers 2xx or every attempt failed.

Order: the events of one record go to one receiver in the order they happened; a delivery waits while an
earlier one of the same record is still waiting for a retry, and goes once that one is delivered or given up.
Events of different records are sent side by side and may arrive in any order. A receiver may get an event
twice (it answered after the timeout, a worker died after the POST): it keeps the `Kontor-Webhook-Id`s it has
seen.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import secrets as token_source
import time
import uuid
from collections.abc import Iterable
from functools import cache, partial
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection as db
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.core import http
from integrations.core import services as core
from integrations.core.inbound import signature_expected
from integrations.core.models import Connection, Exchange
from integrations.core.secrets import SecretsUnreadable, seal
from integrations.webhooks.models import Delivery, Receiver
from tenants.access import WorkspaceReadOnly
from tenants.accounts import kinds, policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, Scope, User
from tenants.events.models import Event

log = logging.getLogger(__name__)

KIND = "webhooks"
OPERATION = "webhook.deliver"
PING = "ping"
SECRET = "signing_secret"
CONSUMER = "integrations.webhooks"
DUE_KEY = "kontor:webhooks:due"
# Seconds after which a queued attempt that did not run is queued again by the sweep (a lost task).
LOST_AFTER = 120.0
_KNOWN_KINDS = ("user", "invitation")


# --- the receiver's secret -------------------------------------------------------------------------------------


def _new_secret() -> str:
    return "whsec_" + token_source.token_urlsafe(32)


def _seal_secret(conn: Connection, secret: str) -> None:
    values = {**core.connection_secrets(conn), SECRET: secret}
    conn.secrets_sealed = seal(values, workspace_uid=str(db.tenant.uid), connection_uid=str(conn.uid))  # type: ignore[attr-defined]
    conn.secret_names = sorted(values)


def receiver_of(conn: Connection) -> Receiver:
    receiver, _created = Receiver.objects.get_or_create(connection=conn)
    return receiver


def receiver_state(conn: Connection) -> Receiver:
    """For a page: the receiver's state, a blank one (unsaved) for a connection that has none yet."""
    return Receiver.objects.filter(connection=conn).first() or Receiver(connection=conn)


def receiver_set_up(conn: Connection) -> None:
    """The kind's on_create: a signing secret made by Kontor (shown once, when asked for) and the receiver's
    state, in the creating transaction."""
    _seal_secret(conn, _new_secret())
    conn.save(update_fields=["secrets_sealed", "secret_names"])
    Receiver.objects.create(connection=conn)


@transaction.atomic
def signing_secret_reveal(*, actor: User, connection: Connection) -> str:
    """The secret made with the connection, once; after that only `signing_secret_rotate` shows one."""
    core.require_manager(actor)
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    receiver = receiver_of(conn)
    secret = core.connection_secrets(conn).get(SECRET)
    if receiver.secret_shown or not secret:
        raise ValidationError(_("The signing secret was shown already; make a new one if it is lost."))
    receiver.secret_shown = True
    receiver.save(update_fields=["secret_shown"])
    audit_record(
        actor=actor, action=AuditEvent.Action.INTEGRATION_CHANGED, target=conn, details={"what": ["secret shown"]}
    )
    return secret


@transaction.atomic
def signing_secret_rotate(*, actor: User, connection: Connection) -> str:
    """A new signing secret, returned once; deliveries are signed with it from now on."""
    core.require_manager(actor)
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    secret = _new_secret()
    _seal_secret(conn, secret)
    conn.updated_at = timezone.now()
    conn.save(update_fields=["secrets_sealed", "secret_names", "updated_at"])
    receiver = receiver_of(conn)
    receiver.secret_shown = True
    receiver.save(update_fields=["secret_shown"])
    audit_record(
        actor=actor, action=AuditEvent.Action.INTEGRATION_CHANGED, target=conn, details={"what": ["signing secret"]}
    )
    return secret


# --- from the outbox -------------------------------------------------------------------------------------------


def _subscribed(conn: Connection, event: Event) -> bool:
    wanted = conn.settings
    if event.type not in (wanted.get("types") or ()):
        return False
    if wanted.get("kinds") and event.kind not in wanted["kinds"]:
        return False
    # Nothing from before the receiver was connected (a consumer catching up after a pause).
    if event.created_at < conn.created_at:
        return False
    if kinds.is_registered(event.kind):
        # What its identity may see of every record: a receiver gets no kind its identity sees only some of.
        return policy.scope_of(conn.identity, policy.Action.VIEW, event.kind) == Scope.ALL
    return event.kind in _KNOWN_KINDS


def _visible(conn: Connection, event: Event) -> tuple[dict[str, Any], list[str]]:
    """The snapshot and changed fields without what the identity's role hides."""
    data, fields = dict(event.snapshot), list(event.fields)
    if not kinds.is_registered(event.kind):
        return data, fields
    hidden = policy.concealed(policy.hidden_fields(conn.identity, event.kind), event.kind)
    if not hidden:
        return data, fields
    custom = data.get("custom_fields")
    if isinstance(custom, dict):
        data["custom_fields"] = {k: v for k, v in custom.items() if f"cf:{k}" not in hidden}
    data = {k: v for k, v in data.items() if k not in hidden and k.removesuffix("_id") not in hidden}
    fields = [f for f in fields if not policy.is_hidden(hidden, event.kind, f)]
    return data, fields


def payload(
    *,
    event_uuid: uuid.UUID,
    type: str,
    kind: str,
    record_id: int | None,
    occurred_at: datetime.datetime,
    data: dict[str, Any],
    fields: list[str],
) -> str:
    """The body of a delivery (JSON, UTF-8)."""
    body = {
        "id": str(event_uuid),
        "type": type,
        "kind": kind,
        "record_id": record_id,
        "occurred_at": occurred_at,
        "data": data,
        "fields": fields,
    }
    return json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def events_follow(event: Event) -> None:
    """The outbox consumer: a delivery for each active receiver subscribed to the event, written in the
    consumer's transaction (so once, however often the event is handed over), queued after its commit."""
    receivers = [
        c
        for c in Connection.objects.select_related("identity", "identity__role").filter(kind=KIND, is_active=True)
        if _subscribed(c, event)
    ]
    if not receivers:
        return
    rows = []
    for conn in receivers:
        deliveries_prune_sometimes(conn)
        data, fields = _visible(conn, event)
        body = payload(
            event_uuid=event.uuid,
            type=event.type,
            kind=event.kind,
            record_id=event.record_id,
            occurred_at=event.created_at,
            data=data,
            fields=fields,
        )
        rows.append(
            Delivery(
                connection=conn,
                event_uuid=event.uuid,
                event_id=event.id,
                type=event.type,
                kind=event.kind,
                record_id=event.record_id,
                body=body,
            )
        )
    # One statement; an event handed over again finds its deliveries there and leaves them as they are (their
    # ids come back all the same, and an attempt queued for one that is done or not due does nothing).
    Delivery.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["connection", "event_uuid"], update_fields=["event_id"]
    )
    queue_after_commit([row.pk for row in rows if row.pk is not None])


def deliveries_prune(conn: Connection, *, before: datetime.datetime, limit: int = 1000) -> int:
    """Drop up to `limit` of the connection's finished deliveries made before `before` (their log entries go
    with the exchange log's own pruning)."""
    old = (
        Delivery.objects.filter(connection=conn, created_at__lt=before)
        .exclude(status=Delivery.Status.PENDING)
        .values_list("id", flat=True)[:limit]
    )
    deleted, _rows = Delivery.objects.filter(pk__in=list(old)).delete()
    return deleted


def deliveries_prune_sometimes(conn: Connection) -> None:
    """Keep INTEGRATIONS_LOG_DAYS of deliveries, as the exchange log: pruned by the events that make new ones
    (one in core.PRUNE_EVERY), so the cost follows the traffic, never the number of workspaces."""
    if random.randrange(core.PRUNE_EVERY) == 0:  # noqa: S311 - sampling, not a secret
        deliveries_prune(conn, before=timezone.now() - datetime.timedelta(days=settings.INTEGRATIONS_LOG_DAYS))


# --- queueing ------------------------------------------------------------------------------------------------


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _member(schema: str, delivery_id: int) -> str:
    return f"{schema}:{delivery_id}"


def _schedule(schema: str, due: dict[int, float]) -> None:
    """Mark deliveries as due at these times (epoch seconds); the sweep queues those past their time."""
    if due:
        _redis().zadd(DUE_KEY, {_member(schema, pk): at for pk, at in due.items()})


def _unschedule(schema: str, delivery_id: int) -> None:
    _redis().zrem(DUE_KEY, _member(schema, delivery_id))


# Deliveries attempted one after the other by one task (what one outbox batch made, in event order): a task's
# own cost is paid once for them, and a batch that takes longer than BATCH_SECONDS leaves the rest to another.
BATCH = 20
BATCH_SECONDS = 10.0


def queue_now(schema: str, ids: Iterable[int]) -> None:
    """Attempts for these deliveries now, BATCH to a task (the sweep queues them again should a task be lost)."""
    from integrations.webhooks.tasks import deliver_batch

    ids = list(dict.fromkeys(ids))
    _schedule(schema, dict.fromkeys(ids, time.time() + LOST_AFTER))
    for start in range(0, len(ids), BATCH):
        deliver_batch.apply_async(args=[ids[start : start + BATCH]], headers={"_schema_name": schema})


class _Queue:
    """The on-commit callback that queues the deliveries a transaction made (one per transaction and schema,
    however many events it handled). Ids of a savepoint rolled back since may be among them: their task finds
    nothing to send."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.ids: list[int] = []
        self.called = False

    def __call__(self) -> None:
        self.called = True
        queue_now(self.schema, self.ids)


def queue_after_commit(ids: list[int]) -> None:
    if not ids:
        return
    schema = db.schema_name  # type: ignore[attr-defined]
    for registered in db.run_on_commit:
        func = registered[1]
        if isinstance(func, _Queue) and func.schema == schema and not func.called:
            func.ids.extend(ids)
            return
    queued = _Queue(schema)
    queued.ids.extend(ids)
    transaction.on_commit(queued, robust=True)


def deliver_batch(delivery_ids: list[int]) -> int:
    """The deliveries' attempts in order; what is left after BATCH_SECONDS goes to a task of its own."""
    deadline = time.monotonic() + BATCH_SECONDS
    sent = 0
    for n, pk in enumerate(delivery_ids):
        if time.monotonic() > deadline:
            queue_now(db.schema_name, delivery_ids[n:])  # type: ignore[attr-defined]
            break
        if delivery_attempt(delivery_id=pk) is not None:
            sent += 1
    return sent


def backoff(attempts: int) -> float:
    """Seconds after attempt number `attempts` failed: 30 s, 2 min, 8 min, 32 min, ~2 h, then the cap (6 h),
    each within ±20% so that a fleet's retries after an outage do not arrive together."""
    base = settings.WEBHOOKS_RETRY_BASE_SECONDS * 4 ** (attempts - 1)
    return min(base, settings.WEBHOOKS_RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter


# --- an attempt ------------------------------------------------------------------------------------------------


def _earlier_waiting(delivery: Delivery) -> Delivery | None:
    if delivery.record_id is None or delivery.event_id is None:
        return None
    return (
        Delivery.objects.filter(
            connection_id=delivery.connection_id,
            kind=delivery.kind,
            record_id=delivery.record_id,
            event_id__lt=delivery.event_id,
            status=Delivery.Status.PENDING,
        )
        .order_by("event_id")
        .first()
    )


def _next_of_record(delivery: Delivery) -> list[int]:
    """The next waiting delivery of the same record, if it is due (it waited for this one)."""
    if delivery.record_id is None or delivery.event_id is None:
        return []
    found = (
        Delivery.objects.filter(
            connection_id=delivery.connection_id,
            kind=delivery.kind,
            record_id=delivery.record_id,
            event_id__gt=delivery.event_id,
            status=Delivery.Status.PENDING,
            next_at__lte=timezone.now(),
        )
        .order_by("event_id")
        .values_list("id", flat=True)
        .first()
    )
    return [found] if found is not None else []


def signed_headers(secret: str, *, delivery_uuid: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Kontor-Webhook-Id": delivery_uuid,
        "Kontor-Webhook-Timestamp": stamp,
        "Kontor-Signature": "v1=" + signature_expected(secret, timestamp=stamp, body=body),
    }


def _lease() -> datetime.timedelta:
    seconds = settings.INTEGRATIONS_HTTP_CONNECT_TIMEOUT + settings.INTEGRATIONS_HTTP_READ_TIMEOUT + 30
    return datetime.timedelta(seconds=seconds)


def _claim_at_once(delivery_id: int, now: datetime.datetime) -> Delivery | None:
    """The usual case in one UPDATE: due, not being sent, its connection on, nothing earlier of its record
    waiting. None: something to look at (`_claim`)."""
    earlier = Delivery.objects.filter(
        connection_id=OuterRef("connection_id"),
        kind=OuterRef("kind"),
        record_id=OuterRef("record_id"),
        event_id__lt=OuterRef("event_id"),
        status=Delivery.Status.PENDING,
    )
    taken = (
        Delivery.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now),
            pk=delivery_id,
            status=Delivery.Status.PENDING,
            next_at__lte=now,
            connection__is_active=True,
        )
        .filter(~Exists(earlier))
        .update(claimed_until=now + _lease())
    )
    if not taken:
        return None
    return Delivery.objects.select_related("connection", "connection__webhook").get(pk=delivery_id)


def _claim(delivery_id: int, *, manual: bool) -> Delivery | None:
    """Take the delivery for one attempt, or None when it is not for now (done, not due, being sent, waiting
    behind an earlier event of its record: that one queues it when it is done)."""
    schema = db.schema_name  # type: ignore[attr-defined]
    now = timezone.now()
    if not manual and (taken := _claim_at_once(delivery_id, now)) is not None:
        return taken
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("connection").filter(pk=delivery_id).first()
        if delivery is None:
            _unschedule(schema, delivery_id)
            return None
        if delivery.claimed_until is not None and delivery.claimed_until > now:
            if manual:
                raise ValidationError(_("This event is being sent right now."))
            return None
        if not manual:
            if delivery.status != Delivery.Status.PENDING:
                _unschedule(schema, delivery_id)
                return None
            if delivery.next_at > now:
                _schedule(schema, {delivery.pk: delivery.next_at.timestamp()})
                return None
            if not delivery.connection.is_active:
                _close_off(delivery)
                return None
            earlier = _earlier_waiting(delivery)
            if earlier is not None:
                _schedule(schema, {delivery.pk: max(earlier.next_at.timestamp(), time.time()) + LOST_AFTER})
                return None
        delivery.claimed_until = now + _lease()
        delivery.save(update_fields=["claimed_until"])
    return delivery


def _close_off(delivery: Delivery) -> None:
    """A delivery of a connection turned off: failed, in the log, retried from there once it is on again."""
    entry = core.exchange_open(
        delivery.connection,
        direction=Exchange.Direction.OUTBOUND,
        operation=OPERATION,
        request={"event": str(delivery.event_uuid), "type": delivery.type},
        replay={"delivery": delivery.pk},
    )
    core.exchange_close(entry, status=Exchange.Status.FAILED, error="the connection is off")
    delivery.status = Delivery.Status.FAILED
    delivery.exchange_ids = [*delivery.exchange_ids, entry.pk]
    delivery.last_exchange = entry
    delivery.save(update_fields=["status", "exchange_ids", "last_exchange"])
    _unschedule(db.schema_name, delivery.pk)  # type: ignore[attr-defined]


def _send(delivery: Delivery) -> tuple[http.Response, Exchange]:
    conn = delivery.connection
    body = delivery.body.encode()
    try:
        secret = core.connection_secrets(conn).get(SECRET, "")
    except SecretsUnreadable as exc:
        secret, error = "", str(exc)
    else:
        error = "" if secret else "no signing secret"
    if error:
        entry = core.exchange_open(
            conn, direction=Exchange.Direction.OUTBOUND, operation=OPERATION, replay={"delivery": delivery.pk}
        )
        core.exchange_close(entry, status=Exchange.Status.FAILED, error=error)
        return http.Response(status=None, error=error, attempts=1), entry
    return http.call(
        conn,
        operation=OPERATION,
        method="POST",
        url=str(conn.settings.get("url", "")),
        body=body,
        headers=signed_headers(secret, delivery_uuid=str(delivery.event_uuid), body=body),
        replay={"delivery": delivery.pk},
        attempts=1,
    )


def delivery_attempt(*, delivery_id: int, retry_of: Exchange | None = None) -> Exchange | None:
    """One attempt of the delivery (the task's, or an administrator's retry from the log when `retry_of`): the
    POST outside any transaction, then its outcome: delivered, retried later, or given up (which may turn the
    receiver off). Returns the attempt's log entry, None when there was nothing to send now."""
    manual = retry_of is not None
    delivery = _claim(delivery_id, manual=manual)
    if delivery is None:
        return None
    response, entry = _send(delivery)
    entry.request = {**entry.request, "event": str(delivery.event_uuid), "type": delivery.type}
    entry.retry_of = retry_of
    if response.ok:
        entry.replay = None  # nothing left to retry
    entry.save(update_fields=["request", "retry_of", "replay"])
    if response.ok:
        _delivered(delivery, entry=entry)
    else:
        _failed(delivery.pk, entry=entry)
    return entry


def _delivered(delivery: Delivery, *, entry: Exchange) -> None:
    """The usual outcome, in as few round trips as can be (no lock, no transaction of its own: the claim keeps
    the delivery to this attempt, and a next event of the record not queued here is queued by the sweep)."""
    now = timezone.now()
    earlier = list(delivery.exchange_ids)
    delivery.status, delivery.delivered_at, delivery.claimed_until = Delivery.Status.DELIVERED, now, None
    delivery.attempts += 1
    delivery.exchange_ids, delivery.last_exchange = [*earlier, entry.pk], entry
    delivery.save(
        update_fields=["status", "delivered_at", "claimed_until", "attempts", "exchange_ids", "last_exchange"]
    )
    if earlier:
        Exchange.objects.filter(pk__in=earlier).update(replay=None)
    try:
        receiver: Receiver | None = delivery.connection.webhook
    except Receiver.DoesNotExist:
        receiver = None
    # The receiver's last success is kept to the minute: not one more write per delivery.
    stale = now - datetime.timedelta(minutes=1)
    if receiver is None or receiver.failed_in_row or not receiver.last_success_at or receiver.last_success_at < stale:
        Receiver.objects.update_or_create(
            connection_id=delivery.connection_id, defaults={"failed_in_row": 0, "last_success_at": now}
        )
    queue_after_commit(_next_of_record(delivery))
    _unschedule(db.schema_name, delivery.pk)  # type: ignore[attr-defined]


def _failed(delivery_id: int, *, entry: Exchange) -> None:
    schema = db.schema_name  # type: ignore[attr-defined]
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("connection").get(pk=delivery_id)
        receiver = Receiver.objects.select_for_update().filter(connection_id=delivery.connection_id).first()
        receiver = receiver or Receiver.objects.create(connection_id=delivery.connection_id)
        delivery.attempts += 1
        delivery.claimed_until = None
        delivery.exchange_ids = [*delivery.exchange_ids, entry.pk]
        delivery.last_exchange = entry
        done = True
        if delivery.status == Delivery.Status.FAILED or delivery.type == PING:
            # A given-up event retried by hand, or a test: failed, and counted against the receiver no more.
            delivery.status = Delivery.Status.FAILED
        elif delivery.attempts < settings.WEBHOOKS_MAX_ATTEMPTS:
            delivery.next_at = now + datetime.timedelta(seconds=backoff(delivery.attempts))
            done = False
        else:
            delivery.status = Delivery.Status.FAILED
            receiver.failed_in_row += 1
            receiver.save(update_fields=["failed_in_row"])
            if receiver.failed_in_row >= settings.WEBHOOKS_DISABLE_AFTER:
                _turn_off(delivery.connection, failed=receiver.failed_in_row)
        delivery.save()
        if done:
            transaction.on_commit(partial(_unschedule, schema, delivery.pk))
            queue_after_commit(_next_of_record(delivery))
        else:
            next_at = delivery.next_at.timestamp()
            transaction.on_commit(lambda: _schedule(schema, {delivery_id: next_at}))


def _turn_off(conn: Connection, *, failed: int) -> None:
    if not Connection.objects.filter(pk=conn.pk, is_active=True).exists():
        return
    reason = ngettext(
        "Turned off by Kontor: %(count)s event failed every attempt.",
        "Turned off by Kontor: %(count)s events in a row failed every attempt.",
        failed,
    ) % {"count": failed}
    try:
        core.connection_set_active(actor=None, connection=conn, active=False, reason=reason)
    except WorkspaceReadOnly:
        log.warning("webhooks: connection %s not turned off: the workspace is read-only", conn.pk)
        return
    from integrations.webhooks.mails import connection_disabled

    schema = db.schema_name  # type: ignore[attr-defined]
    transaction.on_commit(partial(connection_disabled, schema=schema, connection_id=conn.pk), robust=True)
    log.warning("webhooks: connection %s turned off after %d failed deliveries", conn.pk, failed)


# --- an administrator's actions ---------------------------------------------------------------------------------


def delivery_retry(exchange: Exchange, actor: User) -> Exchange:
    """The retry handler of "webhook.deliver" (core.exchange_retry checked the right and the state): the
    delivery is attempted again now, whatever its schedule."""
    core.require_manager(actor)
    replay = exchange.replay or {}
    delivery = Delivery.objects.filter(connection=exchange.connection, pk=replay.get("delivery") or 0).first()
    if delivery is None:
        raise ValidationError(_("This event is no longer kept."))
    if delivery.status == Delivery.Status.DELIVERED:
        raise ValidationError(_("This event was delivered already."))
    entry = delivery_attempt(delivery_id=delivery.pk, retry_of=exchange)
    if entry is None:  # pragma: no cover - a manual attempt always sends or raises
        raise ValidationError(_("This exchange cannot be retried."))
    return entry


def ping_send(*, actor: User, connection: Connection) -> Exchange | None:
    """A test event ("ping") to the receiver, sent now; the result is in the log like any delivery's."""
    core.require_manager(actor)
    if not connection.is_active:
        raise ValidationError(_("Turn the connection on first."))
    now = timezone.now()
    event_uuid = uuid.uuid4()
    delivery = Delivery.objects.create(
        connection=connection,
        event_uuid=event_uuid,
        type=PING,
        kind="webhook",
        body=payload(
            event_uuid=event_uuid,
            type=PING,
            kind="webhook",
            record_id=None,
            occurred_at=now,
            data={"connection": connection.name, "by": actor.email},
            fields=[],
        ),
    )
    return delivery_attempt(delivery_id=delivery.pk)


def due_queue(*, now: float | None = None, limit: int = 1000) -> int:
    """The sweep: queue every delivery past its due time (retries, and attempts whose task was lost), of live
    workspaces only; each is given LOST_AFTER before it is queued again."""
    from tenants.models import Tenant

    now = now if now is not None else time.time()
    members: list[bytes] = _redis().zrangebyscore(DUE_KEY, "-inf", now, start=0, num=limit)  # type: ignore[assignment]
    by_schema: dict[str, list[int]] = {}
    for raw in members:
        schema, _sep, pk = raw.decode().rpartition(":")
        if pk.isdigit():
            by_schema.setdefault(schema, []).append(int(pk))
        else:
            _redis().zrem(DUE_KEY, raw)
    live = set(Tenant.objects.filter(schema_name__in=list(by_schema)).values_list("schema_name", flat=True))
    queued = 0
    for schema, ids in by_schema.items():
        if schema not in live:
            _redis().zrem(DUE_KEY, *[_member(schema, pk) for pk in ids])
            continue
        queue_now(schema, ids)
        queued += len(ids)
    return queued
