"""The administrators' pages' one seam to the modules written beside them: spec, conditions, fields, engine.

TEMPORARY FALLBACK: while those modules are not merged, `_module` falls back to `_placeholders`; remove the
fallback (and `_placeholders.py`) when they are. The adapters below (`field_choices`, `dry_run_lines`) are what
the pages need from a FieldInfo and a DryRunLine.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tenants.accounts.models import User


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"crm.processes.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"crm.processes.{name}":
            raise
        return importlib.import_module("crm.processes._placeholders")  # TEMPORARY, see the module's docstring


def definition_errors(draft: Any) -> dict[str, list[str]]:
    return dict(_module("spec").definition_errors(draft))


def normalize(draft: dict[str, Any]) -> dict[str, Any]:
    return dict(_module("spec").normalize(draft))


def step_describe(step: dict[str, Any], record_type: str) -> str:
    return str(_module("spec").step_describe(step, record_type))


def trigger_describe(trigger: dict[str, Any]) -> str:
    return str(_module("spec").trigger_describe(trigger))


def condition_describe(condition: Any, record_type: str) -> str:
    return str(_module("conditions").describe(condition, record_type))


@dataclass(frozen=True)
class FieldChoice:
    key: str
    label: str
    kind: str


def field_choices(record_type: str) -> list[FieldChoice]:
    """The fields a condition or a set_field step may name, from fields.field_catalog."""
    found = []
    for info in _module("fields").field_catalog(record_type):
        key = str(getattr(info, "key", "") or getattr(info, "name", ""))
        if key:
            label = str(getattr(info, "label", "") or key)
            found.append(FieldChoice(key, label, str(getattr(info, "kind", "") or getattr(info, "type", ""))))
    return found


def webhook_step_available() -> bool:
    """Whether the integration layer registered the webhook action with the engine."""
    registered = getattr(_module("engine"), "action_registered", None)
    return bool(registered("webhook")) if callable(registered) else False


@dataclass(frozen=True)
class DryLine:
    step_id: str
    text: str


def dry_run_lines(*, version_like: dict[str, Any], record_type: str, record: Any) -> list[DryLine]:
    """What would happen for `record` (nothing is written), one line per event."""
    lines = _module("engine").dry_run(version_like=version_like, record_type=record_type, record=record)
    return [DryLine(str(getattr(x, "step_id", "") or ""), str(getattr(x, "text", x))) for x in lines]


def instance_cancel(*, actor: User, instance: Any, reason: str = "") -> None:
    _module("engine").instance_cancel(actor=actor, instance=instance, reason=reason)
