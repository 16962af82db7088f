"""The local receiver (one per module, reset per test) and the settings that let Kontor reach it; deliveries
queued after commit run at once, in the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations.webhooks import services
from platform_core.celery import app as celery_app
from tests.fakes.webhook_server import FakeReceiver


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[FakeReceiver]:
    fake = FakeReceiver().start()
    yield fake
    fake.stop()


@pytest.fixture
def receiver(receiver_server: FakeReceiver, settings: Any) -> Iterator[FakeReceiver]:
    receiver_server.reset()
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True
    settings.INTEGRATIONS_HTTP_READ_TIMEOUT = 1.0
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    settings.WEBHOOKS_DISABLE_AFTER = 2
    services._redis().delete(services.DUE_KEY)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield receiver_server
    celery_app.conf.task_always_eager = eager
    services._redis().delete(services.DUE_KEY)
    receiver_server.reset()
