"""What the administrators' pages read from the process modules, shaped for the templates: sentences, field
choices, and the dry run's lines."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from crm.processes import conditions, engine, fields, spec
from tenants.accounts.models import User


def definition_errors(draft: Any) -> dict[str, list[str]]:
    return dict(spec.definition_errors(draft))


def normalize(draft: dict[str, Any]) -> dict[str, Any]:
    return dict(spec.normalize(draft))


def step_describe(step: dict[str, Any], record_type: str) -> str:
    return str(spec.step_describe(step, record_type))


def trigger_describe(trigger: dict[str, Any]) -> str:
    return str(spec.trigger_describe(trigger))


def condition_describe(condition: Any, record_type: str) -> str:
    return str(conditions.describe(condition, record_type))


@dataclass(frozen=True)
class FieldChoice:
    key: str
    label: str
    kind: str


def field_choices(record_type: str) -> list[FieldChoice]:
    """The fields a condition or a set_field step may name (the catalog's names: "amount", "cf:<key>")."""
    return [FieldChoice(info.name, str(info.label), info.type) for info in fields.field_catalog(record_type)]


def webhook_step_available() -> bool:
    """Whether the integration layer registered the webhook step with the engine."""
    return engine.step_type_registered("webhook")


@dataclass(frozen=True)
class DryLine:
    step_id: str
    text: str
    who: str = ""
    when: datetime.datetime | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DryResult:
    starts: bool
    reason: str
    lines: list[DryLine]


def dry_run_lines(*, version_like: dict[str, Any], record_type: str, record: Any) -> DryResult:
    """What would happen for `record` now (nothing is written)."""
    result = engine.dry_run(draft=version_like, record_type=record_type, record=record)
    lines = [DryLine(x.step_id, x.text, x.who, x.when, list(x.notes)) for x in result.lines]
    return DryResult(result.starts, result.reason, lines)


def instance_cancel(*, actor: User, instance: Any, reason: str = "") -> None:
    engine.instance_cancel(actor=actor, instance=instance, reason=reason)
