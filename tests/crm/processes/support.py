"""Processes for the tests, made through the definition services as an administrator makes them."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from crm.processes import services, timers
from crm.processes.models import Instance, ProcessDefinition, StepRun
from tenants.accounts.models import User
from tenants.events.outbox import deliver_pending


def process(
    actor: User, draft: dict[str, Any], *, name: str = "Test process", active: bool = True
) -> ProcessDefinition:
    definition = services.definition_create(actor=actor, name=name, draft=draft)
    services.definition_publish(actor=actor, definition=definition)
    if active:
        services.definition_set_active(actor=actor, definition=definition, active=True)
    definition.refresh_from_db()
    return definition


def deliver() -> None:
    """What the dispatcher does after a commit: hand the workspace's new events to its consumers."""
    while deliver_pending().more:
        pass


def later(**delta: float) -> timers.Fired:
    """Time passes: fire what is due by then, as the runner does."""
    return timers.fire_due(now=timezone.now() + datetime.timedelta(**delta))


def only_instance(definition: ProcessDefinition) -> Instance:
    [instance] = Instance.objects.filter(definition=definition)
    return instance


def active_step(instance: Instance) -> StepRun:
    [run] = instance.steps.filter(state=StepRun.State.ACTIVE)
    return run
