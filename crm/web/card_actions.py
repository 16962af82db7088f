"""Actions that other layers offer on a card (e.g. "Email" from a mailbox connection), without the CRM importing
them: an app registers a CardAction in its AppConfig.ready(), and every card shows those that apply to the
record for the person looking at it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model

from crm.core.types import RecordType
from tenants.accounts.models import User


@dataclass(frozen=True)
class CardAction:
    key: str
    label: Any  # lazy text
    record_types: tuple[RecordType, ...]
    # The address of the action for this person and record, or None when it is not offered to them.
    url: Callable[[User, Model], str | None]
    order: int = 100


@dataclass(frozen=True)
class ShownAction:
    key: str
    label: Any
    url: str


_ACTIONS: dict[str, CardAction] = {}


def card_action_register(action: CardAction) -> None:
    _ACTIONS[action.key] = action


def card_actions_for(user: User, record_type: RecordType, record: Model) -> list[ShownAction]:
    shown = []
    for action in sorted(_ACTIONS.values(), key=lambda a: (a.order, a.key)):
        if record_type not in action.record_types:
            continue
        url = action.url(user, record)
        if url:
            shown.append(ShownAction(action.key, action.label, url))
    return shown
