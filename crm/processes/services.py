"""Definition services (placeholder until they land)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils import timezone

from crm.processes.models import ProcessDefinition, ProcessVersion
from tenants.access import workspace_write
from tenants.accounts.models import User

DEFINITION_LISTENERS: list[Callable[[ProcessDefinition], None]] = []


def _after_definition_change(definition: ProcessDefinition) -> None:
    for listener in DEFINITION_LISTENERS:
        listener(definition)


@workspace_write
def definition_create(
    *, actor: User, name: str, description: str = "", draft: Mapping[str, Any] | None = None, template: str = ""
) -> ProcessDefinition:
    return ProcessDefinition.objects.create(
        name=name, description=description, draft=dict(draft or {}), template=template, created_by=actor
    )


@workspace_write
def definition_publish(*, actor: User, definition: ProcessDefinition) -> ProcessVersion:
    number = definition.versions.count() + 1
    trigger = definition.draft.get("trigger", {})
    version = ProcessVersion.objects.create(
        definition=definition,
        number=number,
        trigger_type=trigger.get("type", ""),
        record_type=trigger.get("record_type", ""),
        trigger=trigger,
        steps=definition.draft.get("steps", []),
        published_by=actor,
    )
    definition.current = version
    definition.updated_at = timezone.now()
    definition.save(update_fields=["current", "updated_at"])
    _after_definition_change(definition)
    return version


@workspace_write
def definition_set_active(*, actor: User, definition: ProcessDefinition, active: bool) -> ProcessDefinition:
    definition.is_active = active
    definition.save(update_fields=["is_active"])
    _after_definition_change(definition)
    return definition
