"""Workspace initialisers: what the apps above the tenancy layer set up in every new workspace.

Provisioning creates the schema and the owner, then runs each registered initialiser inside the new workspace
(its schema current, its language active) and in the same transaction: a failing initialiser leaves no
workspace behind. Apps register theirs from `AppConfig.ready()` (the CRM's first pipeline is one), so
provisioning does not know what they are.
"""

from __future__ import annotations

from collections.abc import Callable

_INITIALISERS: dict[str, Callable[[], object]] = {}


def register(name: str, initialiser: Callable[[], object]) -> None:
    """Run `initialiser()` in every new workspace; `name` identifies it (registering a name again replaces it)."""
    _INITIALISERS[name] = initialiser


def unregister(name: str) -> None:
    _INITIALISERS.pop(name, None)


def registered() -> list[str]:
    return list(_INITIALISERS)


def workspace_initialise() -> None:
    """Run every registered initialiser, in registration order, in the current schema."""
    for initialiser in _INITIALISERS.values():
        initialiser()
