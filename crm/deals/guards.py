"""Checks other apps add to a deal's stage move (a business process holding the deal while an approval waits):
they register here from AppConfig.ready(), so the deals app does not import them. A guard raises
ValidationError to refuse the move."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

StageGuard = Callable[..., None]
_GUARDS: list[StageGuard] = []


def stage_guard_register(guard: StageGuard) -> None:
    if guard not in _GUARDS:
        _GUARDS.append(guard)


def stage_guards_check(*, actor: Any, deal: Any, stage: Any) -> None:
    for guard in _GUARDS:
        guard(actor=actor, deal=deal, stage=stage)
