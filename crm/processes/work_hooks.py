"""Where people meet running processes: the panel on the record cards (registered with crm.web.panels)."""

from __future__ import annotations

from django.db.models import Model
from django.http import HttpRequest

# The cards the panel appears on, by their namespace, and the record type each shows.
CARD_TYPES = {"deals": "deal", "leads": "lead", "companies": "company", "contacts": "contact"}


def _card_panel(request: HttpRequest, ns: str, record: Model) -> str:
    from crm.processes.views_work import panel_html

    return panel_html(request, CARD_TYPES[ns], record)


def connect() -> None:
    from crm.web import panels

    panels.panel_register(panels.CardPanel(key="processes", namespaces=tuple(CARD_TYPES), render=_card_panel, order=50))
