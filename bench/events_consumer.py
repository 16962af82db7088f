"""The consumer bench/events.py measures, loaded into its Celery worker (`celery worker --include`): it notes
when each `bench.tick` event reached it, by event id, in Redis."""

from __future__ import annotations

import time
from functools import cache

import redis
from django.conf import settings

from platform_core.celery import app as celery_app
from tenants.events.models import Event
from tenants.events.outbox import consumer_register

QUEUE = "kontor-bench-events"
RECEIVED = "bench:events:received"
TICK = "bench.tick"


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _received(event: Event) -> None:
    # HSETNX: a second delivery of one event keeps the first arrival time (and counts once).
    _client().hsetnx(RECEIVED, str(event.uuid), time.time())


consumer_register("bench.latency", _received, types=[TICK])
celery_app.conf.task_default_queue = QUEUE
