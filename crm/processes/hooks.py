"""What the processes app plugs into at start-up (AppConfig.ready()): the outbox consumer of its triggers, the
card panel, the stage-move guard."""

from __future__ import annotations


def connect() -> None:
    """Register the processes app with the layers it hooks into."""
