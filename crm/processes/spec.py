"""Draft validation (placeholder until it lands)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def definition_errors(draft: Mapping[str, Any]) -> dict[str, list[str]]:
    return {}


def step_describe(step: Mapping[str, Any], record_type: str) -> str:
    return str(step.get("type"))
