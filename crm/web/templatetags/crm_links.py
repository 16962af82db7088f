"""Links to records, cheap enough for every row of a list: `{{ deal|card_url }}`,
`{{ activity.pk|route:"activities:done" }}` (crm.web.links)."""

from __future__ import annotations

from typing import Any

from django import template

from crm.web import links

register = template.Library()


@register.filter
def card_url(record: Any) -> str:
    """The record's card (its `get_absolute_url`)."""
    return links.detail_url(record)


@register.filter
def route(pk: Any, name: str) -> str:
    """The URL of the route `name` that takes one id: `{% url name pk %}`."""
    return links.record_url(name, pk)
