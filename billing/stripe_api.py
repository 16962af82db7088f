"""The one Stripe client: its key, its address (a local fake in tests), its timeout. Nothing else in Kontor
talks to Stripe. Retries are ours (Celery, with the same idempotency key), not the library's."""

from __future__ import annotations

from functools import cache

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Errors after which the same request may succeed later: Stripe down or slow, the network, rate limits.
# Anything else (a bad parameter, a missing object) will fail the same way again.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
)


def transient(exc: Exception) -> bool:
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    # 409 (a concurrent request with the same idempotency key) and 5xx are worth another try.
    status = getattr(exc, "http_status", None)
    return isinstance(exc, stripe.StripeError) and status is not None and (status == 409 or status >= 500)


@cache
def _client(key: str, base: str, timeout: float) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": base} if base else {},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise ImproperlyConfigured("Billing needs STRIPE_SECRET_KEY.")
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_TIMEOUT_SECONDS)


def event_construct(payload: bytes, signature: str) -> stripe.Event:
    """The event, if `signature` is Stripe's for `payload` under our webhook secret and recent enough; else
    stripe.SignatureVerificationError (or ValueError for a body that is not an event)."""
    return stripe.Webhook.construct_event(
        payload,
        signature,
        settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    )
