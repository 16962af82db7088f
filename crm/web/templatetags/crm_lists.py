"""A list row's cells as HTML in one step: `{{ row.cells|cells_html }}`.

A list page shows fifty rows of several cells; choosing each cell's markup by its kind in the template costs a
chain of `{% if %}` per cell. This writes exactly what that chain wrote: values localized and escaped as the
template engine does, dates and times in the reader's time zone and formats, amounts, numbers and phones by
crm.core.formats.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]
from django.utils.translation import gettext

from crm.core import formats
from crm.web.lists.engine import Cell

register = template.Library()


def _shown(value: Any) -> SafeString:
    """`{{ value }}` in a template: in local time, localized, escaped (conditional_escape without its lazy-string
    wrapper, which costs more than the escaping)."""
    value = localize(template_localtime(value))
    if hasattr(value, "__html__"):
        return SafeString(value.__html__())
    return SafeString(html.escape(str(value)))


def _link(cell: Cell) -> SafeString:
    return format_html('<a href="{}">{}</a>', cell.url, _shown(cell.value or "—"))


def _external(cell: Cell) -> SafeString:
    if not cell.url:
        return SafeString()
    link = '<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>'
    return format_html(link, cell.url, _shown(cell.value))


def _date(cell: Cell) -> SafeString:
    return _shown(date_filter(template_localtime(cell.value), "SHORT_DATE_FORMAT"))


def _datetime(cell: Cell) -> SafeString:
    return _shown(date_filter(template_localtime(cell.value), "SHORT_DATETIME_FORMAT"))


def _number(cell: Cell) -> SafeString:
    return _shown(formats.number(cell.value))


def _phone(cell: Cell) -> SafeString:
    return _shown(formats.phone(cell.value))


def _money(cell: Cell) -> SafeString:
    return format_html('<span class="money">{}</span>', formats.money(cell.value, cell.extra or ""))


def _tags(cell: Cell) -> SafeString:
    return format_html_join("", '<span class="tag">{}</span> ', ((_shown(tag),) for tag in cell.value))


def _bool(cell: Cell) -> SafeString:
    return _shown(gettext("Yes") if cell.value else gettext("No"))


def _status(cell: Cell) -> SafeString:
    return format_html('<span class="status status-{}">{}</span>', _shown(cell.extra), _shown(cell.value))


_KINDS: dict[str, Callable[[Cell], SafeString]] = {
    "link": _link,
    "external": _external,
    "date": _date,
    "datetime": _datetime,
    "number": _number,
    "phone": _phone,
    "money": _money,
    "tags": _tags,
    "bool": _bool,
    "status": _status,
}


def cell_html(cell: Cell) -> SafeString:
    show = _KINDS.get(cell.kind)
    return show(cell) if show is not None else _shown(cell.value)


@register.filter
def cells_html(cells: Iterable[Cell]) -> SafeString:
    """`<td>…</td>` for each cell of a row."""
    # Each part is escaped by cell_html.
    return SafeString("".join([f"<td>{cell_html(cell)}</td>" for cell in cells]))


@register.filter
def select_label(record: Any) -> str:
    """A row checkbox's label, as `{% blocktranslate with name=record %}Select {{ name }}{% endblocktranslate %}`."""
    return gettext("Select %(name)s") % {"name": record}
