"""Consumers for the event delivery tests, loaded into a real Celery worker process (`celery worker --include`).

They write what they receive into Redis, under the schema they ran in, so the test process can read it:
- `test.counter` counts effects by event id (a second delivery of one event adds nothing) and every delivery;
- `test.flaky` raises for the event of a company named "poison" until it has failed FLAKY_FAILURES times;
- `test.steady` records what it receives.
"""

from __future__ import annotations

import os
import time

import redis
from django.conf import settings
from django.db import connection

from platform_core.celery import app as celery_app
from tenants.events.models import Event
from tenants.events.outbox import consumer_register

FLAKY_FAILURES = 3
QUEUE = "kontor-tests"


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def key(run: str, schema: str, what: str) -> str:
    return f"events-test:{run}:{schema}:{what}"


def _run() -> str:
    return os.environ.get("EVENTS_TEST_RUN", "")


def counter(event: Event) -> None:
    schema = connection.schema_name  # type: ignore[attr-defined]
    r = client()
    r.incr(key(_run(), schema, "deliveries"))
    # Slow enough for the worker to be killed in the middle of a batch.
    time.sleep(float(os.environ.get("EVENTS_TEST_DELAY", "0")))
    if r.sadd(key(_run(), schema, "seen"), str(event.uuid)):
        r.incr(key(_run(), schema, "effects"))
        r.rpush(key(_run(), schema, "order"), event.id)
        r.rpush(key(_run(), schema, "names"), str(event.snapshot.get("name", "")))


def flaky(event: Event) -> None:
    schema = connection.schema_name  # type: ignore[attr-defined]
    r = client()
    if event.snapshot.get("name") == "poison":
        r.rpush(key(_run(), schema, "poison-attempts"), time.time())
        if r.llen(key(_run(), schema, "poison-attempts")) <= FLAKY_FAILURES:
            raise RuntimeError("the flaky consumer refuses this event")
    r.rpush(key(_run(), schema, "flaky"), event.id)


def steady(event: Event) -> None:
    schema = connection.schema_name  # type: ignore[attr-defined]
    client().rpush(key(_run(), schema, "steady"), event.id)


consumer_register("test.counter", counter, types=["record.created"])
consumer_register("test.flaky", flaky, types=["record.created"])
consumer_register("test.steady", steady, types=["record.created"])
celery_app.conf.task_default_queue = QUEUE
