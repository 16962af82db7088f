"""Links to records without a URL resolver walk per link: a page of fifty rows links fifty records.

`record_url("deals:detail", 42)` reverses the route once (per URLconf and script prefix) with a stand-in id and
then only puts the id in its place: the same text as `reverse("deals:detail", args=[42])`.
"""

from __future__ import annotations

from typing import Any

from django.urls import get_script_prefix, get_urlconf, reverse

# An id no route rewrites (every record route takes `<int:...>`), and that no other part of a URL contains.
_STAND_IN = 918273645546372819
_templates: dict[tuple[str, Any, str], tuple[str, str] | None] = {}

# The card of each kind of record, by model label.
DETAIL = {
    "companies.company": "companies:detail",
    "contacts.contact": "contacts:detail",
    "deals.deal": "deals:detail",
    "leads.lead": "leads:detail",
    "activities.activity": "activities:detail",
    "products.product": "products:detail",
}


def record_url(name: str, pk: Any, *more: Any) -> str:
    """`reverse(name, args=[pk, *more])`; the common one-id case without the resolver."""
    if more:
        return reverse(name, args=[pk, *more])
    key = (name, get_urlconf(), get_script_prefix())
    if key not in _templates:
        text = reverse(name, args=[_STAND_IN])
        marker = str(_STAND_IN)
        _templates[key] = tuple(text.split(marker)) if text.count(marker) == 1 else None  # type: ignore[assignment]
    template = _templates[key]
    if template is None or not isinstance(pk, int) or isinstance(pk, bool) or pk < 0:
        return reverse(name, args=[pk])
    head, tail = template
    return f"{head}{pk}{tail}"


def detail_url(record: Any) -> str:
    """The record's card: what `record.get_absolute_url()` answers, for the kinds in DETAIL."""
    name = DETAIL.get(record._meta.label_lower)
    return record_url(name, record.pk) if name else str(record.get_absolute_url())
