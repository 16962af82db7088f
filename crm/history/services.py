"""History of companies, contacts, deals and leads: written by the services in the change's transaction."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models

from crm.core.types import RecordType
from crm.history.models import ChangeRecord
from tenants.accounts.models import User

# Fields that change on every save and say nothing to a person reading the history.
_UNTRACKED = {"id", "custom_fields", "version", "created_at", "updated_at", "created_by", "stage_changed_at"}


def display_value(value: Any) -> Any:
    """A JSON-safe, human-readable form of a field value for the history."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [display_value(v) for v in value]
    if isinstance(value, models.Model):
        return str(value)
    return str(value)


def snapshot(record: models.Model, *, custom_labels: dict[str, str] | None = None) -> dict[str, tuple[str, Any]]:
    """field name -> (label, display value) of every tracked field of `record`, custom fields included."""
    result: dict[str, tuple[str, Any]] = {}
    for field in record._meta.concrete_fields:
        if field.name in _UNTRACKED:
            continue
        value = getattr(record, field.name)
        result[field.name] = (str(field.verbose_name), display_value(value))
    values = getattr(record, "custom_fields", None) or {}
    for key, label in (custom_labels or {}).items():
        result[f"custom_fields.{key}"] = (label, display_value(values.get(key)))
    return result


def diff(before: dict[str, tuple[str, Any]], after: dict[str, tuple[str, Any]]) -> list[dict[str, Any]]:
    changes = []
    for name, (label, new) in after.items():
        old = before.get(name, (label, None))[1]
        if old != new and not (old in (None, "", []) and new in (None, "", [])):
            changes.append({"field": name, "label": label, "old": old, "new": new})
    return changes


def history_write(
    *,
    actor: User | None,
    record_type: RecordType,
    record_id: int,
    action: ChangeRecord.Action,
    changes: Iterable[dict[str, Any]] = (),
    note: str = "",
) -> ChangeRecord:
    return ChangeRecord.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        record_type=record_type,
        record_id=record_id,
        action=action,
        changes=list(changes),
        note=note[:255],
    )


def history_move(*, record_type: RecordType, from_id: int, to_id: int) -> int:
    """Re-point a merged record's history at the survivor. Returns how many entries moved."""
    return ChangeRecord.objects.filter(record_type=record_type, record_id=from_id).update(record_id=to_id)
