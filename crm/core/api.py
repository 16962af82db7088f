"""What the REST API's routers share: the acting user, error bodies, cursor pagination, the list filters of
CRM records (owner, tag, text search, custom field values) and the per-workspace schema of custom fields."""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar, cast

from django.core.exceptions import ValidationError
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict

from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_for
from crm.customfields.values import clean_value
from crm.search.models import SearchTerm
from crm.search.terms import query_terms
from tenants.accounts.models import User

M = TypeVar("M", bound=Model)

LIMIT_DEFAULT = 50
LIMIT_MAX = 200
CUSTOM_FILTER_PREFIX = "cf_"


# Amounts leave as decimal strings ("1250.00"), never as floats.
DecimalStr = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, Decimal) else v),
    Field(pattern=r"^-?\d+(\.\d+)?$", examples=["1250.00"]),
]


def actor(request: HttpRequest) -> User:
    """The user the request is authenticated as (session or API key)."""
    return cast(User, request.auth)  # type: ignore[attr-defined]


# --- bodies -----------------------------------------------------------------------------------------------


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = Field(default_factory=dict, description="Messages per bad field.")


class ConflictOut(Schema):
    detail: str
    current_version: int


class In(Schema):
    # A misspelt field is an error, never silently ignored.
    model_config = ConfigDict(extra="forbid")


class RecordOut(Schema):
    """Fields every company, contact, lead and deal has."""

    id: int
    owner: int | None = Field(description="Id of the owning user.")
    tags: list[str]
    custom_fields: dict[str, Any]
    version: int = Field(description="Send it back with an update; a stale one answers 409.")
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_owner(obj: Any) -> int | None:
        return cast(int | None, obj.owner_id)


class RecordIn(In):
    owner: int | None = Field(None, description="Id of the owning user; the caller when left out.")
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class RecordPatch(In):
    owner: int | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = Field(None, description="Keys given are set; null clears a value.")
    version: int | None = Field(None, description="The version read; the update answers 409 if it changed since.")


def patch_data(payload: Schema) -> tuple[dict[str, Any], int | None]:
    """The fields a PATCH body sets, and the version it was made against."""
    data = payload.model_dump(exclude_unset=True)
    return data, data.pop("version", None)


# --- pagination -------------------------------------------------------------------------------------------


class PageParams(Schema):
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX)


def _cursor_encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _sep, value = text.partition(":")
        if kind != "id":
            raise ValueError(text)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError({"cursor": [_("This cursor is not valid.")]}) from exc


def paginate(queryset: QuerySet[M], page: PageParams) -> dict[str, Any]:
    """One page, newest first, by keyset on the id: as cheap on the last page as on the first."""
    queryset = queryset.order_by("-pk")
    if page.cursor:
        queryset = queryset.filter(pk__lt=_cursor_decode(page.cursor))
    rows = list(queryset[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return {"items": rows, "next_cursor": _cursor_encode(rows[-1].pk) if more and rows else None}


# --- filters of CRM records -------------------------------------------------------------------------------


class RecordFilters(Schema):
    q: str | None = Field(None, description="Words or a phone number, as in the global search box.")
    owner: int | None = None
    tag: str | None = None


def custom_filters(request: HttpRequest) -> dict[str, str]:
    """`cf_<key>=value` query parameters: equality on custom field values."""
    return {
        name[len(CUSTOM_FILTER_PREFIX) :]: value
        for name in request.GET
        if name.startswith(CUSTOM_FILTER_PREFIX) and (value := request.GET.get(name, ""))
    }


def search_filter(queryset: QuerySet[M], record_type: RecordType, q: str) -> QuerySet[M]:
    """Records whose search terms start with every word typed (or with the phone digits), via the index."""
    words, phone = query_terms(q)
    terms = [phone] if phone else words
    if not terms:
        return queryset.none()
    for term in terms:
        queryset = queryset.filter(
            Exists(SearchTerm.objects.filter(record_type=record_type, record_id=OuterRef("pk"), term__startswith=term))
        )
    return queryset


def custom_field_filter(queryset: QuerySet[M], record_type: RecordType, values: Mapping[str, str]) -> QuerySet[M]:
    """JSONB containment (`@>`, served by the GIN index) on values cleaned like stored ones, so `cf_amount=10.50`
    finds the stored "10.5" and `cf_vip=yes` the stored true."""
    if not values:
        return queryset
    fields = {f.key: f for f in custom_fields_for(record_type)}
    errors: dict[str, list[str]] = {}
    wanted: dict[str, Any] = {}
    for key, raw in values.items():
        field = fields.get(key)
        name = f"{CUSTOM_FILTER_PREFIX}{key}"
        if field is None:
            errors[name] = [_("There is no such custom field.")]
            continue
        if field.field_type == CustomField.Type.MONEY:
            errors[name] = [_("Money fields cannot be filtered by equality.")]
            continue
        try:
            wanted[key] = clean_value(field, raw)
        except ValidationError as exc:
            errors[name] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    return queryset.filter(custom_fields__contains=wanted)


def record_filter(
    queryset: QuerySet[M], record_type: RecordType, filters: RecordFilters, custom: Mapping[str, str]
) -> QuerySet[M]:
    if filters.owner is not None:
        queryset = queryset.filter(owner_id=filters.owner)
    if filters.tag:
        queryset = queryset.filter(tags__contains=[filters.tag.strip().lower()])
    if filters.q and filters.q.strip():
        queryset = search_filter(queryset, record_type, filters.q)
    return custom_field_filter(queryset, record_type, custom)


def reference(queryset: QuerySet[M], pk: object, field: str, message: str = "") -> M:
    """A record named in a request body; a missing one is an error on that field (422), not a 404."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: [message or _("No such record.")]})
    return found


# --- custom fields in the OpenAPI document ----------------------------------------------------------------

SchemaRole = Literal["out", "in", "patch"]
# OpenAPI component name -> whose custom fields its `custom_fields` holds, and whether it is read or written.
CUSTOM_FIELD_SCHEMAS: dict[str, tuple[RecordType, SchemaRole]] = {}
# Path of a list operation -> the record type whose `cf_<key>` filters it takes.
CUSTOM_FILTER_PATHS: dict[str, RecordType] = {}

S = TypeVar("S", bound=type[Schema])


def with_custom_fields(record_type: RecordType, role: SchemaRole) -> Any:
    """Class decorator: the OpenAPI document of a workspace describes this schema's `custom_fields` key by key."""

    def register(cls: S) -> S:
        CUSTOM_FIELD_SCHEMAS[cls.__name__] = (record_type, role)
        return cls

    return register


def custom_value_json_schema(field: CustomField, *, writing: bool) -> dict[str, Any]:
    T = CustomField.Type
    decimal = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    schema: dict[str, Any]
    if field.field_type in (T.TEXT, T.LONG_TEXT):
        schema = {"type": "string"}
    elif field.field_type == T.LINK:
        schema = {"type": "string", "format": "uri"}
    elif field.field_type == T.NUMBER:
        schema = {"anyOf": [decimal, {"type": "number"}]} if writing else decimal
    elif field.field_type == T.MONEY:
        schema = {
            "type": "object",
            "properties": {"amount": decimal, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
            "required": ["amount", "currency"],
        }
    elif field.field_type == T.DATE:
        schema = {"type": "string", "format": "date"}
    elif field.field_type == T.BOOLEAN:
        schema = {"type": "boolean"}
    elif field.field_type == T.CHOICE:
        schema = {"type": "string", "enum": list(field.choices)}
    elif field.field_type == T.MULTI_CHOICE:
        schema = {"type": "array", "items": {"type": "string", "enum": list(field.choices)}}
    elif field.field_type == T.USER:
        schema = {"type": "integer", "description": "Id of a user."}
    else:  # pragma: no cover - every type is listed above
        schema = {}
    schema["title"] = field.label
    if writing:
        schema = {"anyOf": [schema, {"type": "null"}], "title": field.label}
    return schema


def custom_fields_json_schema(fields: Sequence[CustomField], role: SchemaRole) -> dict[str, Any]:
    writing = role != "out"
    schema: dict[str, Any] = {
        "type": "object",
        "title": "Custom Fields",
        "description": "Values of this workspace's custom fields, by key.",
        "properties": {f.key: custom_value_json_schema(f, writing=writing) for f in fields},
        "additionalProperties": False,
    }
    required = [f.key for f in fields if f.is_required]
    if role == "in" and required:
        schema["required"] = required
    return schema
