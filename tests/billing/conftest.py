"""The local fake Stripe for the billing tests: one server per module, reset per test, and the settings that
point the client at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from platform_core.celery import app as celery_app
from tests.billing.stripe_support import API_KEY, WEBHOOK_SECRET
from tests.fakes.stripe_server import FakeStripe


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripe]:
    fake = FakeStripe(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(stripe_server: FakeStripe, settings: Any) -> Iterator[FakeStripe]:
    stripe_server.reset()
    settings.BILLING_ENABLED = True
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = stripe_server.url
    settings.STRIPE_TIMEOUT_SECONDS = 2.0
    # Seat pushes queued after commit run at once, in the test.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield stripe_server
    celery_app.conf.task_always_eager = eager
    stripe_server.reset()


@pytest.fixture
def billing_without_stripe(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Billing on, and any call to Stripe a failure of the test (not taken for Stripe being down)."""
    from billing import services

    settings.BILLING_ENABLED = True
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    def no_stripe() -> None:
        raise AssertionError("Stripe was called")

    monkeypatch.setattr(services, "client", no_stripe)
