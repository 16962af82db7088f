"""Conditions (placeholder until the evaluator lands)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def evaluate(condition: Mapping[str, Any] | None, values: Mapping[str, Any]) -> bool:
    if not condition:
        return True
    if "all" in condition:
        return all(evaluate(c, values) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, values) for c in condition["any"])
    value, op, wanted = values.get(condition["field"]), condition["op"], condition.get("value")
    if op == "eq":
        return str(value) == str(wanted)
    try:
        a, b = Decimal(str(value)), Decimal(str(wanted))
    except Exception:
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}.get(op, False)
