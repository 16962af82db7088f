"""What billing does in a workspace: open its trial at signup, follow its people's events with its seats."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from tenants.events.models import Event
from tenants.events.outbox import Type, consumer_register


def trial_open() -> None:
    """A workspace initialiser: runs in the signup's transaction, in the new workspace."""
    from billing.services import account_open

    account_open(tenant=connection.tenant)  # type: ignore[attr-defined]


def seats_follow(event: Event) -> None:
    if not settings.BILLING_ENABLED:
        return
    from billing.services import seats_record

    seats_record(event)


def register() -> None:
    from billing.services import SEATS_CONSUMER

    consumer_register(SEATS_CONSUMER, seats_follow, types=[Type.USER_ACTIVATED, Type.USER_DEACTIVATED])
