"""What the processes app plugs into at start-up (AppConfig.ready()): the outbox consumer of its triggers and
the runner's timer handlers, the definitions' change listener, and the guard that holds a deal's stage while an
approval waits."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def _deal_stage_guard(*, actor: Any, deal: Any, stage: Any) -> None:
    from crm.processes.engine import record_held

    held = record_held(record_type="deal", record_id=deal.pk)
    if held is not None:
        raise ValidationError(
            {
                "stage": [
                    _("This deal waits for an approval (%(process)s): its stage cannot change until it is decided.")
                    % {"process": held.definition.name}
                ]
            }
        )


def connect() -> None:
    """Register the processes app with the layers it hooks into."""
    from crm.deals.guards import stage_guard_register
    from crm.processes import services, triggers, work_hooks

    triggers.connect()
    if triggers.definition_changed not in services.DEFINITION_LISTENERS:
        services.DEFINITION_LISTENERS.append(triggers.definition_changed)
    stage_guard_register(_deal_stage_guard)
    work_hooks.connect()
