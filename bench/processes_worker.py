"""The baseline of bench/processes.py, loaded into its second Celery worker (`celery worker --include`): a no-op
task queued with an `eta` at a timer's due time, which notes how late it ran (seconds) in Redis."""

from __future__ import annotations

import time
from functools import cache

import redis
from django.conf import settings

from platform_core.celery import app as celery_app

BASELINE_QUEUE = "kontor-bench-processes-eta"
DELAYS = "bench:processes:eta_delays"
NOOP = "bench.processes.noop"


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@celery_app.task(name=NOOP, ignore_result=True)
def noop(n: int, due: float) -> None:
    # HSETNX: a message delivered twice keeps its first run (and counts once).
    _client().hsetnx(DELAYS, str(n), time.time() - due)
