"""The one way templates show money, numbers and phones: `{{ deal.amount|money:deal.currency }}`,
`{{ value|number }}`, `{{ p|phone }}`, in the language of the request (see crm.core.formats)."""

from __future__ import annotations

from typing import Any

from django import template

from crm.core import formats

register = template.Library()


@register.filter
def money(amount: Any, currency: str = "") -> str:
    return formats.money(amount, currency or "")


@register.filter
def number(value: Any, decimals: Any = None) -> str:
    return formats.number(value, decimals=None if decimals in (None, "") else int(decimals))


@register.filter
def phone(value: Any) -> str:
    return formats.phone(value)


@register.filter
def phones(values: Any) -> str:
    """A list of phones, formatted, separated by commas."""
    return ", ".join(formats.phone(v) for v in values or ())


@register.filter(expects_localtime=True)
def isoformat(value: Any) -> str:
    """`{{ value|date:"c" }}` (ISO 8601 in the reader's time zone) without parsing a format per value."""
    if value in (None, "") or not hasattr(value, "isoformat"):
        return ""
    return str(value.isoformat())
