"""Delivery of workspace events: a task per workspace queued on commit, a sweep and a prune on the beat."""

from __future__ import annotations

import time

from celery import shared_task
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.connections import connections_recycle
from tenants.events import outbox
from tenants.models import Tenant

# A delivery task keeps going while batches come full, for at most this long, then queues its successor.
_RUN_SECONDS = 5.0


@shared_task(name="tenants.events.tasks.dispatch", ignore_result=True, acks_late=True)
def dispatch() -> int:
    """Deliver the pending events of the workspace the task was queued for (it runs in its schema)."""
    schema = connection.schema_name  # type: ignore[attr-defined]
    outbox.dispatch_started(schema)
    delivered = 0
    deadline = time.monotonic() + _RUN_SECONDS
    while True:
        progress = outbox.deliver_pending()
        delivered += progress.delivered
        if not progress.more or time.monotonic() > deadline:
            break
    if progress.more:
        outbox.dispatch_soon(schema)
    elif progress.retry_at is not None:
        wait = max((progress.retry_at - timezone.now()).total_seconds(), 0.0)
        outbox.dispatch_soon(schema, countdown=wait + 0.05)
    else:
        # Forget the workspace, then look once more: an event committed in between keeps it (and its commit
        # queued a delivery of its own).
        outbox.pending_forget(schema)
        if outbox.has_pending():
            outbox.dispatch_soon(schema)
    return delivered


@shared_task(name="tenants.events.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """Queue a delivery for every workspace known to have pending events (costs nothing per idle workspace)."""
    schemas = outbox.pending_schemas()
    live = set(Tenant.objects.filter(schema_name__in=schemas).values_list("schema_name", flat=True))
    for schema in schemas:
        if schema in live:
            outbox.dispatch_soon(schema)
        else:
            outbox.pending_forget(schema)  # a workspace deleted since
    return len(live)


@shared_task(name="tenants.events.tasks.prune", ignore_result=True)
def prune() -> int:
    """Drop delivered events past the retention in every workspace; pick up any workspace with events the
    sweep lost track of (a process that died between its commit and the nudge). It walks every workspace in one
    task, so its connection is recycled on the way (DATABASE_CONN_MAX_SCHEMAS), not only at the task's end."""
    deleted = 0
    workspaces = Tenant.objects.filter(kind=Tenant.Kind.WORKSPACE)
    for schema in workspaces.values_list("schema_name", flat=True):
        with schema_context(schema):
            deleted += outbox.events_prune()
            if outbox.has_pending():
                outbox.dispatch_soon(schema)
        connections_recycle()
    return deleted
