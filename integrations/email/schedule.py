"""When each mailbox is read next: one Redis sorted set of "<schema>:<connection id>" by due time. Beat's
`sync_due` queues the mailboxes whose time has come; each run plans the next. The cost follows the number of
mailboxes, never the number of workspaces (`manage.py email_sync --plan` puts them all back after a Redis loss)."""

from __future__ import annotations

import time

import redis
from django.conf import settings

KEY = "kontor:email:sync-due"
LOCK = "kontor:email:sync-lock:{member}"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def member(schema: str, connection_id: int) -> str:
    return f"{schema}:{connection_id}"


def plan(schema: str, connection_id: int, *, delay: float) -> None:
    _redis().zadd(KEY, {member(schema, connection_id): time.time() + delay})


def forget(schema: str, connection_id: int) -> None:
    _redis().zrem(KEY, member(schema, connection_id))


def due(*, limit: int = 1000) -> list[tuple[str, int]]:
    """The mailboxes due now, each pushed back a little so that a lost run is tried again later."""
    client = _redis()
    now = time.time()
    found: list[bytes] = client.zrangebyscore(KEY, "-inf", now, start=0, num=limit)  # type: ignore[assignment]
    result = []
    if found:
        client.zadd(KEY, {m: now + settings.EMAIL_SYNC_SECONDS * 5 for m in found})
    for raw in found:
        schema, _sep, pk = raw.decode().rpartition(":")
        if schema and pk.isdigit():
            result.append((schema, int(pk)))
    return result


def lock(schema: str, connection_id: int, *, seconds: int) -> bool:
    """One run of a mailbox at a time: True when this run may go."""
    return bool(_redis().set(LOCK.format(member=member(schema, connection_id)), 1, nx=True, ex=seconds))


def unlock(schema: str, connection_id: int) -> None:
    _redis().delete(LOCK.format(member=member(schema, connection_id)))
