"""An administrator subscribes: the billing page, Stripe Checkout (the local fake's payment page), back to the
page with the workspace active; Stripe's webhooks arrive meanwhile and change nothing twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from billing.models import Account, SeatEntry, State, StripeEvent
from platform_core.celery import app as celery_app
from tests.browser.conftest import log_in
from tests.fakes.stripe_server import FakeStripe

pytestmark = pytest.mark.browser


@pytest.fixture
def stripe_fake(settings: Any, live_url: str) -> Iterator[FakeStripe]:
    fake = FakeStripe(api_key="sk_test_browser", webhook_secret="whsec_browser")
    fake.start()
    port = live_url.rsplit(":", 1)[1]
    fake.webhook_url = f"http://{settings.BASE_DOMAIN}:{port}/billing/stripe/webhook/"
    settings.BILLING_ENABLED = True
    settings.STRIPE_SECRET_KEY = "sk_test_browser"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_browser"
    settings.STRIPE_API_BASE = fake.url
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield fake
    finally:
        celery_app.conf.task_always_eager = eager
        fake.stop()


def test_subscribe_through_checkout(page: Any, ws: Any, base: str, stripe_fake: FakeStripe) -> None:
    log_in(page, base, ws.owner.email)
    page.get_by_role("link", name="Billing").click()
    page.wait_for_url(f"{base}/settings/billing/")
    assert page.get_by_test_id("billing-state").get_attribute("data-state") == "trial"
    page.get_by_label("Price per user").select_option(label="12.00 EUR / monthly")
    page.get_by_test_id("billing-checkout").click()
    page.wait_for_url(re.compile(r".*/pay/cs_\w+$"))
    page.get_by_role("button", name="ok", exact=True).click()

    page.wait_for_url(f"{base}/settings/billing/")
    page.get_by_text("Thank you: the subscription is active.").wait_for()
    assert page.get_by_test_id("billing-state").get_attribute("data-state") == "active"
    stripe_fake.flush()
    account = Account.objects.get(tenant=ws.tenant)
    assert account.state == State.ACTIVE and account.seats_billed == 1
    assert StripeEvent.objects.filter(type="checkout.session.completed", account=account).exists()
    assert SeatEntry.objects.filter(account=account, reason=SeatEntry.Reason.SUBSCRIBED).count() == 1
    # The invoice came with the webhooks.
    page.reload()
    assert page.get_by_test_id("billing-invoice").first.get_attribute("data-status") == "paid"
