"""The baseline of bench/integrations_webhooks.py, loaded into its Celery worker (`celery worker --include`): a
no-op outbox consumer that notes when each `record.created` event reached it, by event id, in Redis."""

from __future__ import annotations

import time
from functools import cache

import redis
from django.conf import settings

from tenants.events.models import Event
from tenants.events.outbox import Type, consumer_register

CONSUMED = "bench:webhooks:consumed"


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _received(event: Event) -> None:
    _client().hsetnx(CONSUMED, str(event.uuid), time.time())


consumer_register("bench.webhooks_baseline", _received, types=[Type.RECORD_CREATED])
