"""Billing in the background: seat changes pushed to Stripe (retried with backoff until Stripe has them), the
reconciliation that finds a push lost with its worker, and the states that change with time."""

from __future__ import annotations

import logging
import random

import stripe
from celery import shared_task
from django.conf import settings
from django_tenants.utils import schema_context

from billing import services
from billing.stripe_api import transient

log = logging.getLogger(__name__)


def backoff(retries: int) -> float:
    """Seconds before retry number `retries + 1`: doubling from 1 s, capped, with jitter so a fleet's retries
    after a Stripe outage do not arrive together."""
    ceiling = min(2.0**retries, float(settings.BILLING_RETRY_MAX_SECONDS))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


@shared_task(name="billing.tasks.seats_push", bind=True, ignore_result=True, acks_late=True, max_retries=None)
def seats_push(self, account_id: int) -> int:
    """Push the account's pending seat changes; a failure is retried with the same idempotency keys, never lost
    (the reconciliation below queues it again should the retry itself be lost)."""
    try:
        return services.seats_push(account_id=account_id)
    except services.SeatsBusy as exc:
        raise self.retry(exc=exc, countdown=1.0 + random.uniform(0, 1)) from exc  # noqa: S311
    except stripe.StripeError as exc:
        if not transient(exc):
            log.error("billing: Stripe refused the seats of account %s: %r", account_id, exc)
            raise
        log.warning("billing: seats of account %s not pushed (attempt %d): %r", account_id, self.request.retries, exc)
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name="billing.tasks.seats_reconcile", ignore_result=True)
def seats_reconcile() -> int:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        behind = services.seats_behind()
    for account_id in behind:
        seats_push.delay(account_id)
    return len(behind)


@shared_task(name="billing.tasks.states_advance", ignore_result=True)
def states_advance() -> dict[str, int]:
    if not settings.BILLING_ENABLED:
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            return {"reopened": services.workspaces_reopen()}
    return services.states_advance()
