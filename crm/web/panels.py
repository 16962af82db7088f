"""Panels that other layers add to the cards (a deal's invoices from the accounting system, say): they register
here in their AppConfig.ready(), so the CRM shows them without importing them.

A panel renders itself for one record and the person looking (an empty string: nothing to show). It is called
after the card's record was found visible to that person; what it shows beyond the record is its own concern
(it applies the same access policy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Model
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class CardPanel:
    key: str
    # The cards it appears on, by their namespace ("deals", "companies", "contacts", "leads").
    namespaces: tuple[str, ...]
    # (request, namespace, record) -> HTML, escaped by the panel's own template ("" for nothing).
    render: Callable[[HttpRequest, str, Model], str]
    order: int = 100


_PANELS: dict[str, CardPanel] = {}


def panel_register(panel: CardPanel) -> None:
    _PANELS[panel.key] = panel


def panels_render(request: HttpRequest, ns: str, record: Model) -> list[SafeString]:
    """The registered panels of the card of `record`, rendered, in their order."""
    found = sorted((p for p in _PANELS.values() if ns in p.namespaces), key=lambda p: (p.order, p.key))
    rendered = []
    for panel in found:
        html = panel.render(request, ns, record)
        if html:
            rendered.append(mark_safe(html))  # noqa: S308 - rendered by the panel's template, which escapes
    return rendered
