"""A slow step for the killed-worker test, loaded into a real Celery worker (`celery worker --include`) and into
the test process (so its definition validates). It runs the real task step, counts its attempts in Redis, then
sleeps with the step's transaction open, so the test can kill the worker in the middle of an instance."""

from __future__ import annotations

import os
import time

import redis
from django.conf import settings
from django.db import connection

from crm.processes import engine, spec
from platform_core.celery import app as celery_app

QUEUE = "kontor-tests-processes"
STEP = "slow_task"


def attempts_key(run: str, schema: str) -> str:
    return f"processes-test:{run}:{schema}:attempts"


def _slow_task(ctx: engine.StepContext) -> engine.Result:
    result = engine.step_handler("task")(ctx)
    schema = str(connection.schema_name)  # type: ignore[attr-defined]
    redis.Redis.from_url(settings.REDIS_URL).incr(attempts_key(os.environ.get("PROCESSES_TEST_RUN", ""), schema))
    time.sleep(float(os.environ.get("PROCESSES_TEST_DELAY", "0")))
    return result


engine.step_type_register(STEP, _slow_task)
spec.step_validator_register(STEP, lambda step: [], label="Slow task", keys={"title", "assign"})
if os.environ.get("PROCESSES_TEST_RUN"):
    celery_app.conf.task_default_queue = QUEUE
