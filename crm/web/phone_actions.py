"""Actions offered beside a phone number on a card (e.g. "Call" through the workspace's PBX).

The CRM does not know who offers them: a layer above (integrations) registers a renderer from its
AppConfig.ready(), and the cards show what the renderers return for the person looking at them. A renderer
takes (request, record, phone in E.164) and returns HTML it has escaped itself (render_to_string), or "" to
offer nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

log = logging.getLogger(__name__)

PhoneAction = Callable[[HttpRequest, Any, str], str]
_ACTIONS: dict[str, PhoneAction] = {}


def phone_action_register(key: str, action: PhoneAction) -> None:
    _ACTIONS[key] = action


def phone_actions_html(request: HttpRequest | None, record: Any, phone: str) -> SafeString:
    """What every registered action offers for this number; an action that fails offers nothing."""
    if request is None or not getattr(request, "user", None) or not request.user.is_authenticated:
        return mark_safe("")
    parts = []
    for key, action in _ACTIONS.items():
        try:
            parts.append(action(request, record, phone))
        except Exception:
            log.exception("phone action %s failed", key)
    return mark_safe("".join(parts))  # noqa: S308 - each renderer escapes its own output
