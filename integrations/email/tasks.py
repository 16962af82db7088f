"""Mailboxes in the background: each is read every EMAIL_SYNC_SECONDS (beat's `sync_due` queues those due, each
run plans the next; see schedule.py), and a message written on a card is sent after the commit, tried again
with a doubling backoff when SMTP fails in a way worth trying again."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings

from integrations.core.models import Connection
from integrations.email import schedule, services
from integrations.email.selectors import KIND
from tenants.models import Tenant

log = logging.getLogger(__name__)


@shared_task(name="integrations.email.tasks.sync_due", ignore_result=True)
def sync_due() -> int:
    """Queue a run for every mailbox whose time has come (in its workspace's schema)."""
    found = schedule.due()
    live = set(Tenant.objects.filter(schema_name__in={s for s, _pk in found}).values_list("schema_name", flat=True))
    queued = 0
    for schema_name, connection_id in found:
        if schema_name not in live:
            schedule.forget(schema_name, connection_id)  # a workspace deleted since
            continue
        sync.apply_async(args=[connection_id], headers={"_schema_name": schema_name})
        queued += 1
    return queued


@shared_task(name="integrations.email.tasks.sync", ignore_result=True, acks_late=True)
def sync(connection_id: int) -> str:
    """Read one mailbox (in the schema the task was queued for); plan its next run."""
    current = services.schema()
    conn = Connection.objects.select_related("identity").filter(pk=connection_id, kind=KIND).first()
    if conn is None:
        schedule.forget(current, connection_id)  # removed since
        return "gone"
    if not schedule.lock(current, connection_id, seconds=int(settings.EMAIL_TIMEOUT_SECONDS * 20 + 600)):
        return "busy"
    try:
        if not conn.is_active:
            return "off"
        return str(services.connection_sync(conn).status)
    finally:
        schedule.unlock(current, connection_id)
        schedule.plan(current, connection_id, delay=settings.EMAIL_SYNC_SECONDS)


def backoff(retries: int) -> float:
    ceiling = min(settings.EMAIL_SEND_BACKOFF * 2.0**retries, 3600.0)
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


@shared_task(name="integrations.email.tasks.send", bind=True, ignore_result=True, acks_late=True, max_retries=None)
def send(self, message_id: int) -> None:
    final = self.request.retries + 1 >= settings.EMAIL_SEND_ATTEMPTS
    try:
        services.message_deliver(message_id, final=final)
    except services.SendLater as exc:
        log.warning(
            "email: message %s in %s not sent yet (attempt %d): %s",
            message_id,
            services.schema(),
            self.request.retries + 1,
            exc,
        )
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
