"""The cards' phone actions hook (crm.web.phone_actions): what registered renderers offer, for signed-in people
only, and nothing from a renderer that fails."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import RequestFactory

from crm.web import phone_actions


@pytest.fixture
def actions() -> Iterator[dict[str, Any]]:
    saved = dict(phone_actions._ACTIONS)
    phone_actions._ACTIONS.clear()
    yield phone_actions._ACTIONS
    phone_actions._ACTIONS.clear()
    phone_actions._ACTIONS.update(saved)


def _request(authenticated: bool) -> Any:
    request = RequestFactory().get("/")
    request.user = SimpleNamespace(is_authenticated=authenticated)
    return request


def test_registered_actions_render_beside_the_number(actions: dict[str, Any]) -> None:
    phone_actions.phone_action_register("a", lambda request, record, phone: f"<b>{phone}</b>")
    phone_actions.phone_action_register("broken", lambda request, record, phone: 1 / 0)
    phone_actions.phone_action_register("c", lambda request, record, phone: "<i>c</i>")
    assert phone_actions.phone_actions_html(_request(True), object(), "+79161234567") == "<b>+79161234567</b><i>c</i>"
    assert phone_actions.phone_actions_html(_request(False), object(), "+79161234567") == ""
    assert phone_actions.phone_actions_html(None, object(), "+79161234567") == ""
