"""CSV export of a list: every record matching the list's current filters, search and sort, streamed.

Export is its own right in a role (`export`, with a scope: a sales head may export their team's records
only), so the records come from what the user may export, not from what they may see. Columns are every
column the list offers the user (those they chose first, in their order), without the fields their role
hides. Each export is written to the audit log with its row count and filters before the first byte leaves.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_tenants.utils import tenant_context

from crm.web.lists import engine
from crm.web.lists.selectors import list_preference_of
from crm.web.lists.specs import SPECS
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User

# Rows are read from the database in chunks of this many (linked records are checked once per chunk).
CHUNK = 1000
# A text cell starting with one of these is a formula to a spreadsheet: it is written with a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write() returns what it is given: csv.writer then yields lines one by one."""

    def write(self, value: str) -> str:
        return value


def export_columns(spec: engine.ListSpec, ctx: engine.Context, preference: Any) -> list[engine.Column]:
    chosen = engine.chosen_columns(spec, ctx, preference)
    keys = {c.key for c in chosen}
    return chosen + [c for c in engine.available_columns(spec, ctx) if c.key not in keys]


def _headers(columns: list[engine.Column]) -> list[str]:
    headers: list[str] = []
    for column in columns:
        headers.append(str(column.label))
        if column.kind == "money":
            headers.append(_("%(column)s, currency") % {"column": column.label})
    return headers


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _values(column: engine.Column, cell: engine.Cell) -> list[str]:
    """A cell as spreadsheet values: numbers and dates in a form any locale's spreadsheet reads back."""
    value = cell.value
    if cell.kind == "money":
        return ["" if value is None else str(value), str(cell.extra or "")]
    if column.kind == "money":  # an empty money cell still fills both columns
        return ["", ""]
    if cell.kind in ("number",) and isinstance(value, Decimal | int | float):
        return [str(value)]
    if cell.kind == "datetime" and isinstance(value, datetime.datetime):
        return [timezone.localtime(value).strftime("%Y-%m-%d %H:%M")]
    if cell.kind == "date" and isinstance(value, datetime.date):
        return [value.isoformat()]
    if cell.kind == "bool":
        return [_("Yes") if value else _("No")]
    if cell.kind == "tags":
        return [_text(", ".join(str(v) for v in value or ()))]
    if cell.kind == "external":
        return [_text(cell.url or value)]
    return [_text(value)]


def _chunks(rows: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _lines(
    spec: engine.ListSpec, ctx: engine.Context, columns: list[engine.Column], rows: Any, tenant: Any
) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # The byte order mark makes Excel read the file as UTF-8.
    yield "\ufeff" + writer.writerow(_headers(columns))
    # The rows are read while the response is sent, after the view returned: in the workspace's schema still.
    with tenant_context(tenant):
        for chunk in _chunks(rows.iterator(chunk_size=CHUNK)):
            engine.conceal(spec, ctx, chunk)
            for record in chunk:
                values: list[str] = []
                for column in columns:
                    cell = column.export(record) if column.export is not None else column.cell(record)
                    values.extend(_values(column, engine.resolved(cell, ctx)))
                yield writer.writerow(values)


@login_required
@require_GET
def list_export(request: HttpRequest, namespace: str) -> StreamingHttpResponse:
    """The list as CSV, for exactly the filters, search and sort in the query string (all pages)."""
    spec = SPECS[namespace]
    user: User = request.user  # type: ignore[assignment]
    policy.require(user, policy.Action.EXPORT, spec.record_type)
    ctx = engine.context_for(spec, user)
    preference = list_preference_of(user, spec.record_type)
    exportable = policy.visible(user, spec.queryset(user), spec.record_type, action=policy.Action.EXPORT)
    selection = engine.select(spec, ctx=ctx, params=request.GET.dict(), preference=preference, queryset=exportable)
    columns = export_columns(spec, ctx, preference)
    audit_record(
        actor=user,
        action=AuditEvent.Action.EXPORT,
        target_type=spec.record_type.value,
        details={
            "rows": selection.queryset.order_by().count(),
            "filters": selection.kept,
            "columns": [c.key for c in columns],
        },
    )
    response = StreamingHttpResponse(
        _lines(spec, ctx, columns, selection.ordered, connection.tenant),  # type: ignore[attr-defined]
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{spec.namespace}-{stamp}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
