"""Celery tasks of the processes: the timer runner per workspace, the beat tick that queues it, and the effects
that must happen after commit (email)."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction

from crm.processes import timers
from crm.processes.models import Instance
from tenants.models import Tenant

# A runner keeps firing for this long, then hands over to its successor (other workspaces get their turn).
_RUN_SECONDS = 5.0


@shared_task(name="crm.processes.tasks.fire", ignore_result=True, acks_late=True)
def fire(slot: int = 0) -> int:
    """Fire the due timers of the workspace it was queued for (it runs in that schema)."""
    schema = str(connection.schema_name)  # type: ignore[attr-defined]
    timers.runner_started(schema, slot)
    fired = timers.fire_due(budget_seconds=_RUN_SECONDS)
    upcoming = timers.due_refresh(schema)
    if fired.more:
        # A backlog: runners side by side (each takes rows the others have not locked).
        timers.runner_queue(schema, runners=settings.PROCESSES_RUNNERS_PER_WORKSPACE)
    elif upcoming is not None:
        wait = upcoming.timestamp() - time.time()
        if wait <= settings.PROCESSES_TICK_SECONDS:
            timers.runner_queue(schema, countdown=max(wait, 0.0))
    return fired.fired


@shared_task(name="crm.processes.tasks.tick", ignore_result=True)
def tick() -> int:
    """Queue a runner for each workspace with a timer due (read from Redis; idle workspaces cost nothing)."""
    schemas = timers.due_schemas()
    if not schemas:
        return 0
    live = set(Tenant.objects.filter(schema_name__in=schemas).values_list("schema_name", flat=True))
    for schema in schemas:
        if schema in live:
            timers.runner_queue(schema, runners=settings.PROCESSES_RUNNERS_PER_WORKSPACE)
        else:
            timers._redis().zrem(timers.DUE_KEY, schema)  # a workspace deleted since
    return len(live)


@shared_task(
    name="crm.processes.tasks.email_send",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=8,
)
def email_send(run_id: int, address: str, subject: str, body: str) -> bool:
    """Send a process step's email once (a retry after a sent message sends nothing)."""
    from crm.processes.models import LogEntry, StepRun

    run = StepRun.objects.filter(pk=run_id).select_related("instance", "instance__definition").first()
    if run is None:
        return False
    key = f"email:{run_id}"
    if LogEntry.objects.filter(instance_id=run.instance_id, action="email_sent", details__key=key).exists():
        return False
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[address]).send()
    with transaction.atomic():
        LogEntry.objects.create(
            instance_id=run.instance_id, step_id=run.step_id, action="email_sent", details={"key": key, "to": address}
        )
        _email_log_on_card(run.instance, address=address, subject=subject, body=body)
    return True


def _email_log_on_card(instance: Instance, *, address: str, subject: str, body: str) -> None:
    """The sent email joins the client's history on the record's card, as a mail a person sends does."""
    from crm.activities.services import activity_create
    from crm.processes.engine import RECORD_TYPES, process_identity, record_load

    if instance.record_type not in RECORD_TYPES or record_load(instance.record_type, instance.record_id) is None:
        return
    activity_create(
        actor=process_identity(),
        data={
            "kind": "email",
            "subject": subject[:255] or instance.definition.name[:255],
            "body": body,
            "call_direction": "outbound",
            "email_from": settings.DEFAULT_FROM_EMAIL[:320],
            "email_to": address,
            "assignee": None,
            instance.record_type: instance.record_id,
        },
    )


@shared_task(name="crm.processes.tasks.date_backfill", ignore_result=True, acks_late=True)
def date_backfill(definition_id: int) -> int:
    """Set the date timers of the records a just-activated date trigger applies to."""
    from crm.processes.models import ProcessDefinition
    from crm.processes.triggers import date_backfill as backfill

    definition = ProcessDefinition.objects.filter(pk=definition_id).select_related("current").first()
    if definition is None:
        return 0
    with transaction.atomic():
        return backfill(definition)
