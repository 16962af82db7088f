"""TEMPORARY stand-ins for spec / conditions / fields / engine while they are written elsewhere.

Only `crm.processes.editor` imports this module, and only when the real module is missing. Delete this file
and the fallback in editor.py when the real modules are merged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

_ID = re.compile(r"[a-z0-9_]{1,32}")


# --- spec ---------------------------------------------------------------------------------------------------


def definition_errors(draft: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(draft, dict):
        return {"__all__": ["The definition is not an object."]}
    if not isinstance(draft.get("trigger"), dict) or not draft["trigger"].get("type"):
        errors["trigger"] = ["The trigger is missing."]
    steps = draft.get("steps")
    if not isinstance(steps, list):
        errors["steps"] = ["The steps are not a list."]
        return errors
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            errors[f"steps.{index}"] = ["Not a step."]
            continue
        sid = step.get("id")
        if not isinstance(sid, str) or not _ID.fullmatch(sid):
            errors[f"steps.{index}.id"] = ["Bad id."]
        elif sid in seen:
            errors[f"steps.{index}.id"] = ["This id is used twice."]
        else:
            seen.add(sid)
        if step.get("type") == "task" and not str(step.get("title") or "").strip():
            errors[f"steps.{index}.title"] = ["A task needs a title."]
    for index, step in enumerate(steps):
        if isinstance(step, dict):
            for key in ("then", "else", "on_reject", "on_timeout"):
                target = step.get(key)
                if target not in (None, "", "end") and target not in seen:
                    errors[f"steps.{index}.{key}"] = ["No such step."]
    return errors


def normalize(draft: dict[str, Any]) -> dict[str, Any]:
    return draft


def step_describe(step: dict[str, Any], record_type: str) -> str:
    return str(step.get("title") or step.get("text") or step.get("type"))


def trigger_describe(trigger: dict[str, Any]) -> str:
    return str(trigger)


# --- conditions ---------------------------------------------------------------------------------------------


def describe(condition: Any, record_type: str) -> str:
    return str(condition)


# --- fields -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    key: str
    label: str
    kind: str


_FIELDS = {
    "deal": [
        FieldInfo("title", "Title", "text"),
        FieldInfo("amount", "Amount", "decimal"),
        FieldInfo("discount_percent", "Discount, %", "decimal"),
        FieldInfo("expected_close_date", "Expected close date", "date"),
        FieldInfo("closed_at", "Closed", "datetime"),
    ],
    "lead": [FieldInfo("title", "Title", "text"), FieldInfo("source", "Source", "text")],
    "company": [FieldInfo("name", "Name", "text"), FieldInfo("industry", "Industry", "text")],
    "contact": [FieldInfo("first_name", "First name", "text"), FieldInfo("last_name", "Last name", "text")],
}


def field_catalog(record_type: str) -> list[FieldInfo]:
    return list(_FIELDS.get(record_type, []))


# --- engine -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DryRunLine:
    step_id: str
    text: str


def dry_run(*, version_like: dict[str, Any], record_type: str, record: Any) -> list[DryRunLine]:
    lines = [DryRunLine("", f"Would start for {record}.")]
    for step in version_like.get("steps", []):
        lines.append(DryRunLine(step.get("id", ""), step_describe(step, record_type)))
    return lines


def instance_cancel(*, actor: Any, instance: Any, reason: str = "") -> None:
    from crm.processes.models import Instance, LogEntry, StepRun

    if instance.state != Instance.State.RUNNING:
        return
    now = timezone.now()
    instance.state, instance.finished_at = Instance.State.CANCELLED, now
    instance.save(update_fields=["state", "finished_at"])
    instance.steps.filter(state=StepRun.State.ACTIVE).update(state=StepRun.State.CANCELLED, finished_at=now)
    LogEntry.objects.create(instance=instance, action="cancelled", actor=actor, details={"reason": reason})
