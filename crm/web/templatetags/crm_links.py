"""Links to records, cheap enough for every row of a list: `{{ deal|card_url }}`,
`{{ activity.pk|route:"activities:done" }}` (crm.web.links)."""

from __future__ import annotations

from typing import Any

from django import template

from crm.web import links
from crm.web.phone_actions import phone_actions_html

register = template.Library()


@register.filter
def card_url(record: Any) -> str:
    """The record's card (its `get_absolute_url`)."""
    return links.detail_url(record)


@register.filter
def route(pk: Any, name: str) -> str:
    """The URL of the route `name` that takes one id: `{% url name pk %}`."""
    return links.record_url(name, pk)


@register.simple_tag(takes_context=True)
def phone_actions(context: template.Context, record: Any, phone: str) -> str:
    """What the registered phone actions (crm.web.phone_actions) offer beside `phone` of `record`."""
    return phone_actions_html(context.get("request"), record, phone)
