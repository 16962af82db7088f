"""Template filters of the access policy: `{% if not user|hides:"deal.amount" %}...{% endif %}`."""

from __future__ import annotations

from typing import Any

from django import template

from crm.core.types import RecordType
from crm.web import access
from tenants.accounts import policy

register = template.Library()


@register.filter
def hides(user: Any, what: str) -> bool:
    """Does `user`'s role hide the field ("<record type>.<field>", e.g. "contact.phones")?"""
    return access.hides(user, what)


@register.filter
def may(user: Any, what: str) -> bool:
    """May `user` take the action on some records of the type ("<record type>.<action>", e.g. "deal.export")?"""
    record_type, _dot, action = what.partition(".")
    if not getattr(user, "is_authenticated", False):
        return False
    try:
        return policy.can(user, policy.Action(action), RecordType(record_type))
    except ValueError:
        return False
