"""Response bodies of the REST API straight from database rows: no model instances, no validation of what the
database already guarantees, one fast JSON encoder.

A list of 50 contacts through the ORM and pydantic builds 50 model instances, validates each against its
response schema and dumps it again, where the rows already have the schema's types. A `Rows` plan maps each key
of a response schema to a column of the model (a relation's id for a relation), or to a function of a few
columns (a contact's full name), once at import; the API's list and read operations select exactly those
columns and zip them into dictionaries. The schema still documents the body, and tests compare what is sent
with it (tests/api/test_schema_fuzz.py).

    CONTACT_ROWS = Rows(ContactOut, Contact, computed={"full_name": (("first_name", ...), contact_full_name)})

    return rows_page(request, contacts, page, CONTACT_ROWS)   # crm.core.api
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections
from django.db.models import ForeignKey, JSONField, Model, QuerySet
from django.http import HttpResponse
from ninja import Schema
from ninja.responses import NinjaJSONEncoder

_encoder = NinjaJSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    # Moments as the API has always written them (DjangoJSONEncoder: milliseconds, "Z" for UTC), without going
    # through the encoders' chain of checks: a page of records has a hundred of them.
    if type(value) is datetime.datetime:
        text = value.isoformat()
        if value.microsecond:
            text = text[:23] + text[26:]
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return _encoder.default(value)


def json_bytes(data: Any) -> bytes:
    """`data` as JSON, as django-ninja's encoder would write it, several times faster."""
    return orjson.dumps(data, default=_default, option=_OPTIONS)


def json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(json_bytes(data), status=status, content_type="application/json; charset=utf-8")


Computed = tuple[Sequence[str], Callable[..., Any]]


class Rows:
    """How the bodies of one response schema are built from rows of one model."""

    def __init__(
        self,
        schema: type[Schema],
        model: type[Model],
        *,
        computed: Mapping[str, Computed] | None = None,
    ) -> None:
        computed = dict(computed or {})
        fields = {f.name: f for f in model._meta.concrete_fields}
        direct: list[tuple[str, str]] = []
        for key in schema.model_fields:
            if key in computed:
                continue
            field = fields.get(key)
            if field is None:
                raise ImproperlyConfigured(f"{schema.__name__}.{key}: no column of {model.__name__}; compute it.")
            direct.append((key, field.attname if isinstance(field, ForeignKey) else field.name))
        self.schema = schema
        self.keys = tuple(key for key, _column in direct)
        columns = [column for _key, column in direct]
        # Each computed key: its function and the positions of its arguments in the selected row.
        self.computed: list[tuple[str, Callable[..., Any], tuple[int, ...]]] = []
        for key, (arguments, function) in computed.items():
            positions = []
            for argument in arguments:
                if argument not in columns:
                    columns.append(argument)
                positions.append(columns.index(argument))
            self.computed.append((key, function, tuple(positions)))
        self.columns = tuple(columns)
        # Columns the database driver hands over as text that Django would decode: JSON.
        json_columns = {f.attname for f in model._meta.concrete_fields if isinstance(f, JSONField)}
        self.json_positions = tuple(i for i, column in enumerate(columns) if column in json_columns)

    def fetch(self, queryset: QuerySet[Any], *extra: str, limit: int) -> list[Sequence[Any]]:
        """The rows of `queryset` (its columns, then `extra` ones), at most `limit`: its SQL as the ORM writes
        it, run on a cursor without the ORM's per-value converters (half the time of a values_list here);
        JSON decoded as Django would."""
        try:
            sql, params = queryset.values_list(*self.columns, *extra)[:limit].query.sql_with_params()
        except EmptyResultSet:
            return []
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(sql, params)
            found: list[Any] = cursor.fetchall()
        if self.json_positions:
            positions = self.json_positions
            for index, row in enumerate(found):
                values = list(row)
                for p in positions:
                    if isinstance(values[p], str):
                        values[p] = orjson.loads(values[p])
                found[index] = values
        return found

    def item(self, row: Sequence[Any]) -> dict[str, Any]:
        body = dict(zip(self.keys, row, strict=False))
        for key, function, positions in self.computed:
            body[key] = function(*(row[p] for p in positions))
        return body

    def items(
        self, rows: Sequence[Sequence[Any]], *, hidden_keys: set[str], hidden_custom: frozenset[str]
    ) -> list[dict[str, Any]]:
        """The bodies of `rows`, without the keys and custom field values the caller's role hides."""
        bodies = [self.item(row) for row in rows]
        if hidden_keys or hidden_custom:
            for body in bodies:
                for key in hidden_keys:
                    body.pop(key, None)
                values = body.get("custom_fields")
                if hidden_custom and isinstance(values, dict):
                    body["custom_fields"] = {k: v for k, v in values.items() if k not in hidden_custom}
        return bodies
