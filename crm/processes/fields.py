"""Field catalog (placeholder until it lands)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Model


def record_values(record_type: str, record: Model) -> dict[str, Any]:
    values: dict[str, Any] = {
        f.attname.removesuffix("_id") if f.is_relation else f.attname: getattr(record, f.attname)
        for f in record._meta.concrete_fields
    }
    for key, value in (getattr(record, "custom_fields", None) or {}).items():
        values[f"cf:{key}"] = value
    if record_type == "deal":
        lines = list(record.line_items.all())  # type: ignore[attr-defined]
        sub = sum((line.subtotal for line in lines), Decimal(0))
        values["discount_percent"] = (
            (sum((line.discount for line in lines), Decimal(0)) * 100 / sub) if sub else Decimal(0)
        )
    return values


def coerce_value(record_type: str, field: str, raw: str) -> Any:
    return raw


def set_field_data(record_type: str, field: str, value: Any) -> dict[str, Any]:
    if field.startswith("cf:"):
        return {"custom_fields": {field[3:]: value}}
    return {field: value}
