"""Stripe's one endpoint, on the public site: verify, store once, apply (billing.services.webhook_receive)."""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.services import WebhookRefused, webhook_receive
from billing.stripe_api import transient

log = logging.getLogger(__name__)

# Stripe's events are a few KB; anything far larger is not one.
_MAX_BODY = 512 * 1024


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if not settings.BILLING_ENABLED or not settings.STRIPE_WEBHOOK_SECRET:
        return JsonResponse({"error": "billing_disabled"}, status=404)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "bad_length"}, status=400)
    if length > _MAX_BODY:
        return JsonResponse({"error": "too_large"}, status=413)
    signature = request.headers.get("Stripe-Signature", "")
    try:
        result = webhook_receive(payload=request.body, signature=signature)
    except WebhookRefused as exc:
        log.warning("billing: webhook refused: %s", exc)
        return JsonResponse({"error": "invalid_signature"}, status=400)
    except stripe.StripeError as exc:
        # Stripe unreachable while re-reading: answer an error so Stripe sends the event again later.
        if not transient(exc):
            raise
        log.warning("billing: webhook could not be applied now: %r", exc)
        return JsonResponse({"error": "retry_later"}, status=503)
    return JsonResponse({"received": result.event_id, "outcome": result.outcome, "duplicate": result.duplicate})
