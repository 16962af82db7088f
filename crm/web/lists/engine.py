"""The list engine: declared columns, filters and sorts per record type, run against a selector.

Nothing the user sends reaches `filter()` or `order_by()` directly: a filter value is checked against the
filter's choices (or cleaned by the custom field's own validator) and a sort is looked up by key. Pages are
fetched as LIMIT page+1 (is there a next page?) and counted only up to COUNT_CAP, so a page costs the same
with a hundred records or a million.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import (
    DateField,
    DecimalField,
    OrderBy,
    Q,
    QuerySet,
)
from django.db.models.expressions import BaseExpression, F
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.customfields.values import clean_value
from crm.search.models import SearchTerm
from crm.search.selectors import starts_with_any, terms_visible
from crm.search.terms import query_readings
from crm.web import fragments
from crm.web.access import conceal_related
from crm.web.lists.selectors import workspace_members
from crm.web.models import ListPreference
from tenants.accounts import policy
from tenants.accounts.models import User

PAGE_SIZE = 50
# Counting stops here: an exact count of a small result is useful, of a whole big table it is slow.
COUNT_CAP = 1000
MAX_PAGE = 2000
CUSTOM_PREFIX = "cf_"
NUL = "\x00"

Label = str | Promise


@dataclass(frozen=True)
class Cell:
    """One value to show; `kind` tells the template how to format it (dates, money, numbers by locale)."""

    kind: str  # text, link, date, datetime, number, money, phone, tags, bool, user, status
    value: Any
    url: str = ""
    extra: Any = None


@dataclass(frozen=True)
class Column:
    key: str
    label: Label
    cell: Callable[[Any], Cell]
    default: bool = False
    sort: str = ""  # key of the Sort that orders by this column, if any
    field: str = ""  # the field a role can hide ("phones", "cf:<key>"): hidden with it
    kind: str = ""  # "money": exported as two columns, the amount and the currency
    export: Callable[[Any], Cell] | None = None  # the value in a CSV export, when it differs from the page's


@dataclass(frozen=True)
class Sort:
    key: str
    label: Label
    # Ascending order; the descending sort reverses every term. A unique last term keeps pages stable.
    order: tuple[Any, ...]
    # Plain ASC/DESC lets an index be read either way; only values that may be missing (custom fields) go last.
    nulls_last: bool = False
    field: str = ""  # the field a role can hide: a hidden field is no sort at all


@dataclass(frozen=True)
class Choice:
    value: str
    label: Label


@dataclass(frozen=True)
class Filter:
    key: str
    label: Label
    apply: Callable[[QuerySet[Any], str, User], QuerySet[Any]]
    choices: Callable[[Context], Sequence[Choice]] | None = None  # None: free text, cleaned by `apply`
    input_type: str = "text"
    field: str = ""  # the field a role can hide: a hidden field is no filter at all
    picker: str = ""  # the URL name of an endpoint that searches the choices as one types (pick:users)


@dataclass
class Context:
    """What a page loads once whatever the number of rows: users (owner names), custom fields, extras."""

    user: User
    members: list[User]
    custom_fields: list[CustomField]
    extra: dict[str, Any] = field(default_factory=dict)
    # Fields of the list's record type the user's role hides: no column, sort, filter or search by them.
    hidden: frozenset[str] = frozenset()

    def member_name(self, user_id: Any) -> str:
        for member in self.members:
            if member.pk == user_id:
                return str(member)
        return ""


@dataclass(frozen=True)
class BulkAction:
    key: str
    label: Label
    run: Callable[[User, list[int], Any], int]  # (actor, ids, value) -> records handled
    needs: str = ""  # "user" or "tag": the value the action asks for
    confirm: bool = False  # destructive: show a confirmation step first

    @property
    def policy_action(self) -> policy.Action:
        """What the role must allow on the records: deleting them, or else editing them."""
        return policy.Action.DELETE if self.key == "delete" else policy.Action.EDIT


@dataclass(frozen=True)
class ListSpec:
    record_type: RecordType
    namespace: str
    title: Label
    queryset: Callable[[User], QuerySet[Any]]
    columns: tuple[Column, ...]
    sorts: tuple[Sort, ...]
    default_sort: str
    filters: tuple[Filter, ...] = ()
    search_indexed: bool = True  # free-text search through the global search index, else `search_fields`
    search_fields: tuple[str, ...] = ()
    select_related: tuple[str, ...] = ()
    custom_fields: bool = True
    bulk_actions: tuple[BulkAction, ...] = ()
    row_class: Callable[[Any], str] | None = None
    # Filters applied when the page is opened without any (e.g. open tasks only); "Any" in the form clears them.
    default_filters: tuple[tuple[str, str], ...] = ()
    load_extra: Callable[[Context], None] | None = None
    # Linked records shown in the rows (field -> record type); one the user may not see is shown as none.
    related: tuple[tuple[str, RecordType], ...] = ()

    def bulk_action(self, key: str) -> BulkAction | None:
        return next((a for a in self.bulk_actions if a.key == key), None)


@dataclass
class Row:
    record: Any
    cells: list[Cell]
    css_class: str


@dataclass
class AppliedFilter:
    filter: Filter
    value: str
    choices: Sequence[Choice] | None
    error: str = ""


@dataclass
class ListPage:
    spec: ListSpec
    columns: list[Column]
    available_columns: list[Column]
    rows: list[Row]
    sorts: list[Sort]
    sort: str
    filters: list[AppliedFilter]
    query: str
    page: int
    has_next: bool
    count: int | None  # None: more than COUNT_CAP
    context: Context
    params: dict[str, str]

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def is_filtered(self) -> bool:
        return bool(self.query or any(f.value for f in self.filters))

    def querystring(self, **changes: Any) -> str:
        params = {**self.params, **{k: str(v) for k, v in changes.items() if v is not None}}
        params = {k: v for k, v in params.items() if v != "" and not (k == "page" and v == "1")}
        return "?" + urlencode(params) if params else "?"

    @property
    def previous_url(self) -> str:
        return self.querystring(page=self.page - 1)

    @property
    def next_url(self) -> str:
        return self.querystring(page=self.page + 1)

    @property
    def headers(self) -> list[Header]:
        """Column headers with the link that sorts by them (toggling the direction) and their aria-sort."""
        current, descending = self.sort.lstrip("-"), self.sort.startswith("-")
        headers = []
        for column in self.columns:
            if not column.sort:
                headers.append(Header(column, "", ""))
                continue
            active = column.sort == current
            next_sort = column.sort if (active and descending) or not active else "-" + column.sort
            direction = ("descending" if descending else "ascending") if active else ""
            headers.append(Header(column, self.querystring(sort=next_sort, page=None), direction))
        return headers


@dataclass(frozen=True)
class Header:
    column: Column
    sort_url: str
    aria_sort: str  # "ascending", "descending" or "" (not sorted by this column)


def context_for(spec: ListSpec, user: User) -> Context:
    """Everything a page needs besides its rows, loaded in a fixed number of queries."""
    hidden = policy.hidden_fields(user, spec.record_type)
    ctx = Context(
        user=user,
        members=workspace_members(),
        custom_fields=[
            cf
            for cf in (fragments.custom_fields(spec.record_type) if spec.custom_fields else [])
            if f"cf:{cf.key}" not in hidden
        ],
        hidden=hidden,
    )
    if spec.load_extra is not None:
        spec.load_extra(ctx)
    return ctx


# --- custom fields ---------------------------------------------------------------------------------------

_T = CustomField.Type
_SORTABLE = {_T.TEXT, _T.NUMBER, _T.DATE, _T.CHOICE, _T.LINK}
_FILTERABLE = {_T.TEXT, _T.NUMBER, _T.DATE, _T.CHOICE, _T.MULTI_CHOICE, _T.BOOLEAN, _T.LINK, _T.USER}


def _custom_value(cf: CustomField) -> Callable[[Any], Cell]:
    key, kind = cf.key, cf.field_type

    def cell(record: Any) -> Cell:
        value = (record.custom_fields or {}).get(key)
        if value is None or value == "" or value == []:
            return Cell("text", "")
        try:
            if kind == _T.NUMBER:
                return Cell("number", Decimal(str(value)))
            if kind == _T.MONEY and isinstance(value, dict):
                return Cell("money", Decimal(str(value.get("amount"))), extra=value.get("currency"))
            if kind == _T.DATE:
                return Cell("date", datetime.date.fromisoformat(str(value)))
        except (ArithmeticError, ValueError):
            return Cell("text", str(value))
        if kind == _T.BOOLEAN:
            return Cell("bool", bool(value))
        if kind == _T.MULTI_CHOICE:
            return Cell("tags", list(value))
        if kind == _T.LINK:
            return Cell("external", value, url=str(value))
        if kind == _T.USER:
            return Cell("user_id", value)
        return Cell("text", value)

    return cell


def _custom_sort_expression(cf: CustomField) -> BaseExpression:
    value = KeyTextTransform(cf.key, "custom_fields")
    if cf.field_type == _T.NUMBER:
        return Cast(value, DecimalField(max_digits=30, decimal_places=10))
    if cf.field_type == _T.DATE:
        return Cast(value, DateField())
    return Lower(value)


def _custom_filter(cf: CustomField) -> Filter:
    def apply(queryset: QuerySet[Any], raw: str, user: User) -> QuerySet[Any]:
        try:
            value = clean_value(cf, raw)
        except ValidationError as exc:
            raise FilterError(" ".join(exc.messages)) from exc
        if value is None:
            return queryset
        if cf.field_type == _T.MULTI_CHOICE:
            value = value[:1]
        # JSONB containment: served by the GIN (jsonb_path_ops) index on custom_fields.
        return queryset.filter(custom_fields__contains={cf.key: value})

    choices: Callable[[Context], Sequence[Choice]] | None = None
    input_type = "text"
    if cf.field_type in (_T.CHOICE, _T.MULTI_CHOICE):
        options = [Choice(str(c), str(c)) for c in cf.choices]
        choices = lambda ctx: options  # noqa: E731
    elif cf.field_type == _T.BOOLEAN:
        choices = lambda ctx: [Choice("true", _("Yes")), Choice("false", _("No"))]  # noqa: E731
    elif cf.field_type == _T.USER:
        choices = lambda ctx: [Choice(str(m.pk), str(m)) for m in ctx.members]  # noqa: E731
    elif cf.field_type == _T.DATE:
        input_type = "date"
    elif cf.field_type == _T.NUMBER:
        input_type = "number"
    return Filter(CUSTOM_PREFIX + cf.key, cf.label, apply, choices, input_type, field=f"cf:{cf.key}")


class FilterError(Exception):
    """A filter value that cannot mean anything (e.g. a letter in a number field): shown next to it."""


# --- running a list ----------------------------------------------------------------------------------------


def _search(spec: ListSpec, queryset: QuerySet[Any], text: str, hidden: frozenset[str]) -> QuerySet[Any]:
    if not spec.search_indexed:
        condition = Q()
        for name in spec.search_fields:
            if name not in hidden:
                condition |= Q(**{f"{name}__icontains": text})
        return queryset.filter(condition) if condition else queryset.none()
    words, phones = query_readings(text)
    groups = [phones] if phones else [[w] for w in words if len(w) >= 2]
    if not groups:
        return queryset
    # Every word (or one of the phone's readings) must prefix one of the record's indexed terms: a range scan
    # on the term index per word. Terms of fields the user's role hides do not count, so a hidden phone finds
    # nothing.
    for group in groups:
        matching = terms_visible(
            SearchTerm.objects.filter(starts_with_any(group), record_type=spec.record_type), hidden
        )
        queryset = queryset.filter(pk__in=matching.values("record_id"))
    return queryset


def _order(sort: Sort, descending: bool) -> list[Any]:
    terms: list[Any] = []
    for term in sort.order:
        expression = F(term) if isinstance(term, str) else term
        if isinstance(expression, OrderBy):
            terms.append(expression)
        elif sort.nulls_last:
            terms.append(expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True))
        else:
            terms.append(expression.desc() if descending else expression.asc())
    return terms


def available_columns(spec: ListSpec, ctx: Context) -> list[Column]:
    columns = [c for c in spec.columns if not c.field or not policy.is_hidden(ctx.hidden, spec.record_type, c.field)]
    if spec.custom_fields:
        for cf in ctx.custom_fields:
            columns.append(
                Column(
                    CUSTOM_PREFIX + cf.key,
                    cf.label,
                    _custom_value(cf),
                    default=cf.show_in_list,
                    sort=CUSTOM_PREFIX + cf.key if cf.field_type in _SORTABLE else "",
                    field=f"cf:{cf.key}",
                    kind="money" if cf.field_type == _T.MONEY else "",
                )
            )
    return columns


def available_sorts(spec: ListSpec, ctx: Context) -> list[Sort]:
    sorts = [s for s in spec.sorts if not s.field or not policy.is_hidden(ctx.hidden, spec.record_type, s.field)]
    if spec.custom_fields:
        for cf in ctx.custom_fields:
            if cf.field_type in _SORTABLE:
                sorts.append(
                    Sort(
                        CUSTOM_PREFIX + cf.key,
                        cf.label,
                        (_custom_sort_expression(cf), "id"),
                        nulls_last=True,
                        field=f"cf:{cf.key}",
                    )
                )
    return sorts


def available_filters(spec: ListSpec, ctx: Context) -> list[Filter]:
    filters = [f for f in spec.filters if not f.field or not policy.is_hidden(ctx.hidden, spec.record_type, f.field)]
    if spec.custom_fields:
        filters += [_custom_filter(cf) for cf in ctx.custom_fields if cf.field_type in _FILTERABLE]
    return filters


def chosen_columns(spec: ListSpec, ctx: Context, preference: ListPreference | None) -> list[Column]:
    columns = available_columns(spec, ctx)
    by_key = {c.key: c for c in columns}
    if preference is not None and preference.columns:
        chosen = [by_key[k] for k in preference.columns if k in by_key]
        if chosen:
            return chosen
    return [c for c in columns if c.default]


def valid_sort(sorts: Sequence[Sort], value: str) -> str:
    return value if value.lstrip("-") in {s.key for s in sorts} else ""


def resolved(cell: Cell, ctx: Context) -> Cell:
    # User custom fields hold an id; names come from the members the page loaded once.
    if cell.kind == "user_id":
        return Cell("text", ctx.member_name(cell.value))
    return cell


@dataclass
class Selection:
    """The records a list shows for the request's filters, search and sort, before paging."""

    queryset: QuerySet[Any]  # filtered, unordered
    ordered: QuerySet[Any]  # filtered and sorted, with the spec's related rows joined
    filters: list[AppliedFilter]
    query: str
    sorts: list[Sort]
    sort: str
    kept: dict[str, str]  # the parameters that took effect


def select(
    spec: ListSpec,
    *,
    ctx: Context,
    params: Mapping[str, str],
    preference: ListPreference | None,
    queryset: QuerySet[Any] | None = None,
) -> Selection:
    """Apply `params` (the request's GET) to `queryset` (by default what the user may see): filters, the text
    search and the sort. What does not fit (an unknown or hidden filter or sort) is ignored."""
    queryset = spec.queryset(ctx.user) if queryset is None else queryset
    filters = available_filters(spec, ctx)
    if spec.default_filters and not any(f.key in params for f in filters) and "q" not in params:
        params = {**dict(spec.default_filters), **params}
    applied: list[AppliedFilter] = []
    kept: dict[str, str] = {}
    for flt in filters:
        raw = (params.get(flt.key) or "").strip()[:200]
        choices = flt.choices(ctx) if flt.choices is not None else None
        error = ""
        if raw and choices is not None and raw not in {c.value for c in choices}:
            raw = ""
        if NUL in raw:
            # No stored text can contain it (PostgreSQL refuses it): it matches nothing, say so.
            raw, error = raw.replace(NUL, ""), str(_("This value contains a character that is not allowed."))
        elif raw:
            try:
                queryset = flt.apply(queryset, raw, ctx.user)
                kept[flt.key] = raw
            except FilterError as exc:
                error = str(exc)
        applied.append(AppliedFilter(flt, raw, choices, error))
    query = (params.get("q") or "").replace(NUL, " ").strip()[:100]
    if query:
        queryset = _search(spec, queryset, query, ctx.hidden)
        kept["q"] = query

    sorts = available_sorts(spec, ctx)
    sort = valid_sort(sorts, params.get("sort", "")) or (
        valid_sort(sorts, preference.sort) if preference is not None else ""
    )
    sort = sort or spec.default_sort
    chosen = next(s for s in sorts if s.key == sort.lstrip("-"))
    if "sort" in params and valid_sort(sorts, params["sort"]):
        kept["sort"] = sort
    ordered = queryset.order_by(*_order(chosen, sort.startswith("-")))
    if spec.select_related:
        ordered = ordered.select_related(*spec.select_related)
    return Selection(queryset, ordered, applied, query, sorts, sort, kept)


def conceal(spec: ListSpec, ctx: Context, records: list[Any]) -> None:
    """Linked records of the rows that the user may not see read as none."""
    if spec.related:
        conceal_related(ctx.user, records, dict(spec.related))


def run(
    spec: ListSpec,
    *,
    ctx: Context,
    params: Mapping[str, str],
    preference: ListPreference | None,
) -> ListPage:
    """One page of the list for `params` (the request's GET), with the user's remembered columns and sort."""
    selection = select(spec, ctx=ctx, params=params, preference=preference)
    queryset, sort = selection.queryset, selection.sort
    try:
        page = max(1, min(MAX_PAGE, int(params.get("page", "1"))))
    except ValueError:
        page = 1
    offset = (page - 1) * PAGE_SIZE
    records = list(selection.ordered[offset : offset + PAGE_SIZE + 1])
    has_next = len(records) > PAGE_SIZE
    records = records[:PAGE_SIZE]
    conceal(spec, ctx, records)
    count: int | None
    if page == 1 and not has_next:
        count = len(records)
    else:
        # Bounded: the database stops after COUNT_CAP + 1 matching rows.
        capped = queryset.order_by()[: COUNT_CAP + 1].count()
        count = capped if capped <= COUNT_CAP else None

    columns = chosen_columns(spec, ctx, preference)
    rows = [
        Row(
            record=record,
            cells=[resolved(column.cell(record), ctx) for column in columns],
            css_class=spec.row_class(record) if spec.row_class else "",
        )
        for record in records
    ]
    return ListPage(
        spec=spec,
        columns=columns,
        available_columns=available_columns(spec, ctx),
        rows=rows,
        sorts=selection.sorts,
        sort=sort,
        filters=selection.filters,
        query=selection.query,
        page=page,
        has_next=has_next,
        count=count,
        context=ctx,
        params=selection.kept,
    )
