"""Billing tests against the local fake Stripe (tests/billing/conftest.py starts it): webhook deliveries posted
to the public endpoint as Stripe would, forged and replayed ones, and the subscription through the page."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from billing.models import Account, Price
from tests.conftest import PASSWORD, Workspace
from tests.fakes.stripe_server import FakeStripe

API_KEY = "sk_test_kontor"
WEBHOOK_SECRET = "whsec_test_kontor"
WEBHOOK_PATH = "/billing/stripe/webhook/"


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def post_webhook(payload: bytes, signature: str) -> Any:
    response = Client(HTTP_HOST=settings.BASE_DOMAIN).post(
        WEBHOOK_PATH, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    connection.set_schema_to_public()
    return response


def deliver(fake: FakeStripe, capture: Callable[..., Any], *, types: list[str] | None = None) -> list[Any]:
    """Post the fake's pending webhooks to the endpoint, in order, running what they queue after commit."""
    responses = []
    for delivery in fake.take(types):
        with capture(execute=True):
            response = post_webhook(delivery.payload, delivery.signature)
        assert response.status_code == 200, response.content
        responses.append(response)
    return responses


def event_payload(event_id: str, type: str, obj: dict[str, Any], *, created: int | None = None) -> bytes:
    """An event as Stripe would send it (for forged, replayed and out-of-order deliveries)."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created or int(time.time()),
            "type": type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
    ).encode()


def account_of(ws: Workspace) -> Account:
    return Account.objects.get(workspace_uid=ws.tenant.uid)


def price(key: str = "kontor_standard_eur_month") -> Price:
    return Price.objects.get(lookup_key=key)


def subscribe(ws: Workspace, fake: FakeStripe, capture: Callable[..., Any], *, card: str = "ok", **form: Any) -> Any:
    """The owner subscribes through the page and Checkout, and the webhooks arrive."""
    client = ws.client(logged_in_as=ws.owner)
    data = {"price": price().pk, **form}
    response = client.post("/settings/billing/checkout/", data)
    connection.set_schema_to_public()
    assert response.status_code == 302, response.content
    session_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert session_id.startswith("cs_"), response["Location"]
    fake.complete_checkout(session_id, card=card)
    deliver(fake, capture)
    return session_id


def login(ws: Workspace) -> Client:
    client = Client(HTTP_HOST=ws.domain)
    response = client.post("/login/", {"username": ws.owner.email, "password": PASSWORD})
    assert response.status_code == 302
    connection.set_schema_to_public()
    return client


def in_schema(ws: Workspace) -> Any:
    return tenant_context(ws.tenant)
