"""Celery tasks run in the schema they were queued from, and are queued only after commit.

These tests run a real worker thread against the real Redis broker, so the data they read is committed.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.fixups.django import DjangoFixup
from celery.signals import worker_process_init
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django_tenants.utils import schema_context

from platform_core.celery import app as celery_app
from platform_core.tasks import enqueue_on_commit
from tenants.accounts.models import User


@celery_app.task(name="tests.record_workspace_users")
def record_workspace_users(key: str) -> None:
    # Writes through the tenant-prefixed cache, so the result is only visible from the same schema.
    cache.set(key, {"schema": connection.schema_name, "emails": sorted(User.objects.values_list("email", flat=True))})


def _queue_length() -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    return int(client.llen(celery_app.conf.task_default_queue))


def _wait_for(schema: str, key: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with schema_context(schema):
            value = cache.get(key)
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError(f"the task did not run within {timeout} s")


@pytest.fixture(autouse=True)
def _thread_worker_keeps_connections():
    # The Django fixup closes inherited database sockets when a worker *process* starts; this worker is a
    # thread of the test process, whose connections are its own and must stay open.
    fixups = [f.worker_fixup for f in celery_app._fixups if isinstance(f, DjangoFixup)]
    for fixup in fixups:
        worker_process_init.disconnect(fixup.on_worker_process_init)
    yield
    for fixup in fixups:
        worker_process_init.connect(fixup.on_worker_process_init)


def _start_worker():
    return start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10)


@pytest.fixture
def worker():
    redis.Redis.from_url(settings.REDIS_URL).delete(celery_app.conf.task_default_queue)
    with _start_worker() as w:
        yield w


def test_a_task_queued_from_workspace_a_reads_a_and_not_b(committed_db, worker) -> None:
    a, b = committed_db(), committed_db()
    key_a, key_b = f"t-{uuid.uuid4()}", f"t-{uuid.uuid4()}"

    with schema_context(a.schema):
        record_workspace_users.delay(key_a)
    with schema_context(b.schema):
        record_workspace_users.delay(key_b)

    assert _wait_for(a.schema, key_a) == {"schema": a.schema, "emails": [a.owner.email]}
    assert _wait_for(b.schema, key_b) == {"schema": b.schema, "emails": [b.owner.email]}
    with schema_context(b.schema):
        assert cache.get(key_a) is None  # A's result is not even visible under B's cache prefix


def test_enqueue_on_commit_sends_nothing_before_commit_and_keeps_the_schema(committed_db) -> None:
    a = committed_db()
    redis.Redis.from_url(settings.REDIS_URL).delete(celery_app.conf.task_default_queue)
    key = f"t-{uuid.uuid4()}"

    with transaction.atomic():
        with schema_context(a.schema):
            enqueue_on_commit(record_workspace_users, key)
        # The request has moved on to the public schema by the time the transaction commits.
        assert _queue_length() == 0
    assert _queue_length() == 1

    with _start_worker():
        assert _wait_for(a.schema, key)["schema"] == a.schema


def test_nothing_is_queued_when_the_transaction_rolls_back(committed_db) -> None:
    a = committed_db()
    redis.Redis.from_url(settings.REDIS_URL).delete(celery_app.conf.task_default_queue)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic(), schema_context(a.schema):
        enqueue_on_commit(record_workspace_users, "never")
        raise Abort
    assert _queue_length() == 0


def test_pool_refill_task_runs_in_the_public_schema(committed_db, worker) -> None:
    from tenants.models import Tenant
    from tenants.tasks import refill_schema_pool

    committed_db()  # takes one schema out of the pool
    assert Tenant.objects.filter(kind=Tenant.Kind.POOLED).count() == settings.SCHEMA_POOL_SIZE - 1
    refill_schema_pool.delay()
    deadline = time.monotonic() + 60
    while Tenant.objects.filter(kind=Tenant.Kind.POOLED).count() < settings.SCHEMA_POOL_SIZE:
        assert time.monotonic() < deadline, "the pool was not refilled"
        time.sleep(0.1)
