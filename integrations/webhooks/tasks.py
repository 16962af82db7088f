"""Webhook deliveries in the background: one attempt per run (queued after the commit that made the delivery,
or by the sweep when a retry is due), and the sweep on the beat."""

from __future__ import annotations

from celery import shared_task

from integrations.webhooks import services


@shared_task(name="integrations.webhooks.tasks.deliver", ignore_result=True, acks_late=True)
def deliver(delivery_id: int) -> str:
    """One attempt of a delivery, in the workspace it was queued from; safe to run twice (the delivery is
    claimed, and one that is done, not due or waiting behind an earlier event of its record is left alone)."""
    entry = services.delivery_attempt(delivery_id=delivery_id)
    return entry.status if entry is not None else "skipped"


@shared_task(name="integrations.webhooks.tasks.deliver_batch", ignore_result=True, acks_late=True)
def deliver_batch(delivery_ids: list[int]) -> int:
    """Attempts of several deliveries, one after the other (those one outbox batch made, in event order)."""
    return services.deliver_batch(delivery_ids)


@shared_task(name="integrations.webhooks.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """Queue the deliveries whose retry is due (costs nothing per workspace without one)."""
    return services.due_queue()
