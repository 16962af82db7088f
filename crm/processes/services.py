"""Writes of process definitions: create, edit the draft, publish it as a version, turn on and off, delete, and
install a shipped template. Everything here needs the `manage_processes` workspace permission.

A draft is saved only when `spec.definition_errors` accepts it (one exception: a process being written may have
no steps yet), so what the editor shows is always a definition that could be published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.processes import editor, shipped
from crm.processes.models import Instance, ProcessDefinition, ProcessVersion
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User

# Called (in the writing transaction) after a definition is published, turned on or off, or deleted: the engine
# appends here to (re)schedule the timers of date and schedule triggers.
DEFINITION_LISTENERS: list[Callable[[ProcessDefinition], None]] = []

NAME_MAX = 150
DESCRIPTION_MAX = 2000
DEFAULT_DRAFT: dict[str, Any] = {"trigger": {"type": "manual", "record_type": "deal"}, "steps": []}
# Where a trigger's record type is implied by its kind (a website form makes a lead).
_IMPLIED_RECORD_TYPE = {"form": "lead", "stage_entered": "deal"}


def require_manager(actor: User) -> None:
    """The right to manage business processes (403)."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PROCESSES)


def trigger_record_type(trigger: Mapping[str, Any]) -> str:
    """The record type a trigger's instances are about ("" for a schedule; a call's is chosen at start)."""
    value = trigger.get("record_type")
    if isinstance(value, str) and value:
        return value
    return _IMPLIED_RECORD_TYPE.get(str(trigger.get("type", "")), "")


def _after_definition_change(definition: ProcessDefinition) -> None:
    for listener in DEFINITION_LISTENERS:
        listener(definition)


def _clean_text(value: Any, *, field: str, limit: int, required: bool) -> str:
    if not isinstance(value, str):
        raise ValidationError({field: _("Enter text.")})
    text = value.replace("\x00", "").strip()
    if required and not text:
        raise ValidationError({field: _("This field is required.")})
    if len(text) > limit:
        raise ValidationError({field: _("At most %(limit)d characters.") % {"limit": limit}})
    return text


def _checked_draft(draft: Any) -> dict[str, Any]:
    """The draft as it is stored (normalized), or ValidationError with the spec's keys ("trigger", "steps.2.title")."""
    if not isinstance(draft, dict) or not isinstance(draft.get("steps"), list):
        raise ValidationError({"draft": _("The definition is not in the expected format.")})
    errors = editor.definition_errors(draft)
    if not draft["steps"]:
        errors.pop("steps", None)  # a process being written: publishing needs a step
    if errors:
        raise ValidationError({key: list(messages) for key, messages in errors.items()})
    return editor.normalize(draft)


def _locked(definition: ProcessDefinition) -> ProcessDefinition:
    return ProcessDefinition.objects.select_for_update(of=("self",)).select_related("current").get(pk=definition.pk)


def _audit(actor: User, action: AuditEvent.Action, definition: ProcessDefinition, **details: Any) -> None:
    audit_record(actor=actor, action=action, target=definition, details=details)


@workspace_write
def definition_create(
    *, actor: User, name: str, description: str = "", draft: Mapping[str, Any] | None = None, template: str = ""
) -> ProcessDefinition:
    require_manager(actor)
    definition = ProcessDefinition(
        name=_clean_text(name, field="name", limit=NAME_MAX, required=True),
        description=_clean_text(description, field="description", limit=DESCRIPTION_MAX, required=False),
        draft=_checked_draft(dict(draft) if draft is not None else _copy(DEFAULT_DRAFT)),
        template=template,
        created_by=actor,
    )
    definition.save()
    _audit(actor, AuditEvent.Action.PROCESS_CREATED, definition, template=template)
    return definition


def _copy(draft: Mapping[str, Any]) -> dict[str, Any]:
    return {"trigger": dict(draft["trigger"]), "steps": [dict(step) for step in draft["steps"]]}


@workspace_write
def definition_update(*, actor: User, definition: ProcessDefinition, data: Mapping[str, Any]) -> ProcessDefinition:
    """Change the name, the description and/or the draft (only the keys given); an invalid draft is refused
    with the spec's errors and nothing is saved."""
    require_manager(actor)
    definition = _locked(definition)
    changed: list[str] = []
    if "name" in data:
        name = _clean_text(data["name"], field="name", limit=NAME_MAX, required=True)
        if name != definition.name:
            definition.name = name
            changed.append("name")
    if "description" in data:
        text = _clean_text(data["description"], field="description", limit=DESCRIPTION_MAX, required=False)
        if text != definition.description:
            definition.description = text
            changed.append("description")
    if "draft" in data:
        draft = _checked_draft(data["draft"])
        if draft != definition.draft:
            definition.draft = draft
            changed.append("draft")
    if changed:
        definition.updated_at = timezone.now()
        definition.save(update_fields=[*changed, "updated_at"])
        _audit(actor, AuditEvent.Action.PROCESS_CHANGED, definition, what="edited", fields=changed)
    return definition


def draft_differs(definition: ProcessDefinition) -> bool:
    """Whether the draft has changes not yet published (True when nothing is published)."""
    current = definition.current
    if current is None:
        return True
    draft = definition.draft or {}
    return draft.get("trigger") != current.trigger or draft.get("steps") != current.steps


@workspace_write
def definition_publish(*, actor: User, definition: ProcessDefinition) -> ProcessVersion:
    """Freeze the draft into a new version that new instances start on; an unchanged draft makes none."""
    require_manager(actor)
    definition = _locked(definition)
    draft = _checked_draft(definition.draft)
    if not draft["steps"]:
        raise ValidationError({"steps": _("Add at least one step before publishing.")})
    if definition.current is not None and not draft_differs(definition):
        return definition.current
    last = definition.versions.aggregate(last=Max("number"))["last"] or 0
    version = ProcessVersion.objects.create(
        definition=definition,
        number=last + 1,
        trigger_type=str(draft["trigger"].get("type", "")),
        record_type=trigger_record_type(draft["trigger"]),
        trigger=draft["trigger"],
        steps=draft["steps"],
        published_by=actor,
    )
    definition.current = version
    definition.updated_at = timezone.now()
    definition.save(update_fields=["current", "updated_at"])
    _audit(actor, AuditEvent.Action.PROCESS_CHANGED, definition, what="published", version=version.number)
    _after_definition_change(definition)
    return version


@workspace_write
def definition_set_active(*, actor: User, definition: ProcessDefinition, active: bool) -> ProcessDefinition:
    """Turn the definition on (its published version starts instances) or off (running ones go on)."""
    require_manager(actor)
    definition = _locked(definition)
    if active and definition.current is None:
        raise ValidationError({"is_active": _("Publish the process before turning it on.")})
    if definition.is_active == active:
        return definition
    definition.is_active = active
    definition.updated_at = timezone.now()
    definition.save(update_fields=["is_active", "updated_at"])
    _audit(actor, AuditEvent.Action.PROCESS_CHANGED, definition, what="activated" if active else "deactivated")
    _after_definition_change(definition)
    return definition


@workspace_write
def definition_delete(*, actor: User, definition: ProcessDefinition) -> None:
    """Delete a definition, its versions and its finished instances; refused while instances run (an admin
    cancels them first, so nobody's task or approval disappears unseen)."""
    require_manager(actor)
    definition = _locked(definition)
    if Instance.objects.filter(definition=definition, state=Instance.State.RUNNING).exists():
        raise ValidationError(
            {"__all__": _("Instances of this process are running: turn it off and cancel them first.")}
        )
    definition.is_active = False
    _after_definition_change(definition)
    _audit(actor, AuditEvent.Action.PROCESS_DELETED, definition, name=definition.name)
    # Finished instances first: they protect the versions the definition's delete cascades to.
    Instance.objects.filter(definition=definition).delete()
    definition.delete()


@workspace_write
def template_install(*, actor: User, key: str) -> ProcessDefinition:
    """A new, inactive definition from a shipped template, its texts in the installer's language."""
    require_manager(actor)
    template = shipped.get(key)
    if template is None:
        raise ValidationError({"template": _("There is no such template.")})
    with translation.override(actor.language or translation.get_language()):
        name, description, draft = str(template.name), str(template.description), template.draft()
    return definition_create(actor=actor, name=name, description=description, draft=draft, template=template.key)
