"""What the REST API's routers share: the acting user, error bodies, cursor pagination, the list filters of
CRM records (owner, tag, text search, custom field values) and the per-workspace schema of custom fields."""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast

from django.core.exceptions import ValidationError
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from crm.core.money import CURRENCIES
from crm.core.rows import Rows, json_response
from crm.core.types import RecordType
from crm.core.validation import DATETIME_PATTERN, NAME_PATTERN, TEXT_PATTERN, datetime_problem, text_problem
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_for
from crm.customfields.values import MAX_TEXT, clean_value
from crm.search.models import SearchTerm
from crm.search.selectors import starts_with_any, terms_visible
from crm.search.terms import query_readings
from tenants.accounts import policy
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


# --- input types: every body and query parameter is one of these, so the rules live once -------------------
# The server checks each value itself (with a clear message naming the field); the OpenAPI document states the
# same rule, so that a client generated from it never sends what the server refuses.


class JsonSchemaExtra:
    """Adds keywords to the OpenAPI schema of a value (its string branch when nullable)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        schema = dict(handler(core_schema))
        schema.update(self.keywords)
        return schema


def _text(value: str) -> str:
    if problem := text_problem(value):
        raise PydanticCustomError("text", problem)
    return value


def _none_is_empty(value: str | None) -> str:
    return "" if value is None else value


def _moment(value: datetime.datetime) -> datetime.datetime:
    if problem := datetime_problem(value):
        raise PydanticCustomError("moment", problem)
    return value


def json_integer(value: Any) -> Any:
    """A JSON integer (1 or 1.0), never a boolean or a string of digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", _("Input should be an integer."))
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("int_type", _("Input should be an integer."))
        return int(value)
    return value


def _currency(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise PydanticCustomError("currency", _("This is not a supported ISO 4217 currency code."))
    return code


# Text that PostgreSQL can store: no NUL character, valid Unicode.
Text = Annotated[str, AfterValidator(_text), JsonSchemaExtra(pattern=TEXT_PATTERN)]
# A required name or title: not blank either. The services say so (with the other bad fields of the body), the
# document states it.
Name = Annotated[str, AfterValidator(_text), JsonSchemaExtra(minLength=1, pattern=NAME_PATTERN)]
# An optional text of a PATCH body: null clears it (stored as "").
ClearableText = Annotated[Text | None, AfterValidator(_none_is_empty)]
# A moment in the calendar that can be shown in every time zone; offsets of at most 14 hours.
Moment = Annotated[datetime.datetime, AfterValidator(_moment), JsonSchemaExtra(pattern=DATETIME_PATTERN)]
# (Constraints come before the validators in these types, so that the document states them.)
# Ids and counts in bodies are JSON integers (`true` or "5" are refused), within PostgreSQL's ranges.
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
REFERENCE = "Id of a record that exists and that you may see (422 otherwise)."
Id = Annotated[
    int, Field(ge=1, le=BIGINT_MAX), BeforeValidator(json_integer), JsonSchemaExtra(**{"x-reference": REFERENCE})
]
IdParam = Annotated[int, Field(ge=1, le=BIGINT_MAX), JsonSchemaExtra(**{"x-reference": REFERENCE})]
Count = Annotated[int, Field(ge=0, le=INT_MAX), BeforeValidator(json_integer)]
Currency = Annotated[
    str,
    AfterValidator(_currency),
    WithJsonSchema({"type": "string", "enum": list(CURRENCIES), "description": "ISO 4217."}),
]


def unset(description: str = "", **constraints: Any) -> Any:
    """A field of a PATCH body that can be left out (kept as it is) but not cleared: null is refused (422)."""
    note = gettext_noop("Leave it out to keep the current value; it cannot be cleared.")
    return Field(None, description=f"{description} {note}".strip(), **constraints)


def optional(description: str = "", **constraints: Any) -> Any:
    """A field of a body that can be left out (for its default) but is never null (null is refused, 422)."""
    return Field(None, description=description, **constraints)


def _decimal_schema(pattern: str, maximum: int, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": pattern, "examples": [example]},
                {"type": "integer", "minimum": 0, "maximum": maximum},
            ]
        }
    )


# Amounts and prices: decimal strings (or whole numbers), 0 or more, at most 14 digits and 2 decimals.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=16, decimal_places=2, allow_inf_nan=False),
    _decimal_schema(r"^\d{1,14}(\.\d{1,2})?$", 10**14 - 1, "1250.00"),
]
Quantity = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=3, allow_inf_nan=False),
    _decimal_schema(r"^\d{1,11}(\.\d{1,3})?$", 10**11 - 1, "2.5"),
]
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False),
    _decimal_schema(r"^(100(\.0{1,2})?|\d{1,2}(\.\d{1,2})?)$", 100, "20"),
]

# Bounds of lists in bodies, and of their items.
MAX_TAGS = 100
MAX_VALUES = 50
MAX_LINES = 500
Tag = Annotated[Text, Field(min_length=1, max_length=50)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Phones = Annotated[
    list[Annotated[Text, Field(max_length=40)]],
    Field(
        max_length=MAX_VALUES,
        description="Any common format; stored as E.164. A number that is not valid is refused (422).",
    ),
]
# Long texts (notes, addresses, messages): bounded, so that a body stays a reasonable size.
LONG_TEXT = 100_000
TAX_ID = "Spaces are removed."
WEBSITE = "A web address; https:// is added when no scheme is given. One that is not valid is refused (422)."
EMAILS = "Email addresses; one that is not valid is refused (422)."
Emails = Annotated[list[Annotated[Text, Field(max_length=254)]], Field(max_length=MAX_VALUES)]


def actor(request: HttpRequest) -> User:
    """The user the request is authenticated as (session or API key)."""
    return cast(User, request.auth)  # type: ignore[attr-defined]


def hidden_of(request: HttpRequest, record_type: RecordType) -> frozenset[str]:
    """Fields of `record_type` the requesting user's role hides (read once per request and type)."""
    cache: dict[RecordType, frozenset[str]] = request.__dict__.setdefault("_hidden_fields", {})
    if record_type not in cache:
        user = getattr(request, "auth", None) or getattr(request, "user", None)
        cache[record_type] = policy.hidden_fields(user, record_type) if user is not None else frozenset()
    return cache[record_type]


# --- fields a role hides ----------------------------------------------------------------------------------

# OpenAPI component name -> the record type whose hidden fields its responses leave out.
HIDING_SCHEMAS: dict[str, RecordType] = {}
HIDDEN_NOTE = "Left out of the response when the caller's role hides this field."


def hidden_keys(record_type: RecordType, hidden: frozenset[str]) -> set[str]:
    """The keys of a response that would show a hidden field: the field and what its kind says it also hides
    (a deal's amount: its line items and totals)."""
    return {name for name in policy.concealed(hidden, record_type) if not name.startswith("cf:")}


class HidingOut(Schema):
    """A response body that leaves out the fields (and custom field values) the caller's role hides: the keys
    are absent, as documented in the OpenAPI schema (such keys are not required)."""

    hidden_type: ClassVar[RecordType]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "hidden_type" in cls.__dict__:
            HIDING_SCHEMAS[cls.__name__] = cls.hidden_type

    # No return annotation: with one, pydantic would document the body as a bare object.
    @model_serializer(mode="wrap")
    def _without_hidden(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):
        data = handler(self)
        request = (info.context or {}).get("request") if isinstance(info.context, dict) else None
        if request is None or not isinstance(data, dict):
            return data
        hidden = hidden_of(request, self.hidden_type)
        if not hidden:
            return data
        for key in hidden_keys(self.hidden_type, hidden):
            data.pop(key, None)
        custom = data.get("custom_fields")
        if isinstance(custom, dict):
            data["custom_fields"] = {k: v for k, v in custom.items() if f"cf:{k}" not in hidden}
        return data


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


class RecordOut(HidingOut):
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
    owner: Id | None = Field(None, description="Id of the owning user; the caller when left out.")
    tags: Tags = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class RecordPatch(In):
    owner: Id | None = None
    tags: Tags | None = None
    custom_fields: dict[str, Any] | None = Field(None, description="Keys given are set; null clears a value.")
    version: Count | None = Field(None, description="The version read; the update answers 409 if it changed since.")


def patch_data(payload: Schema) -> tuple[dict[str, Any], int | None]:
    """The fields a PATCH body sets, and the version it was made against."""
    data = payload.model_dump(exclude_unset=True)
    return data, data.pop("version", None)


# --- pagination -------------------------------------------------------------------------------------------


class PageParams(Schema):
    cursor: Text | None = Field(
        None, max_length=100, description="`next_cursor` of the previous page; any other value is refused (422)."
    )
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


def _hidden_parts(request: HttpRequest, schema: type[Schema]) -> tuple[set[str], frozenset[str]]:
    """The keys, and the custom fields, the caller's role hides from bodies of `schema`."""
    record_type: RecordType | None = getattr(schema, "hidden_type", None)
    if record_type is None:
        return set(), frozenset()
    hidden = hidden_of(request, record_type)
    if not hidden:
        return set(), frozenset()
    custom = frozenset(name.removeprefix("cf:") for name in hidden if name.startswith("cf:"))
    return hidden_keys(record_type, hidden), custom


def rows_page(request: HttpRequest, queryset: QuerySet[M], page: PageParams, rows: Rows) -> HttpResponse:
    """`paginate`, answered straight from rows (crm.core.rows): the same body, a fraction of the work."""
    queryset = queryset.order_by("-pk")
    if page.cursor:
        queryset = queryset.filter(pk__lt=_cursor_decode(page.cursor))
    found = rows.fetch(queryset, "pk", limit=page.limit + 1)
    more = len(found) > page.limit
    found = found[: page.limit]
    keys, custom = _hidden_parts(request, rows.schema)
    return json_response(
        {
            "items": rows.items(found, hidden_keys=keys, hidden_custom=custom),
            "next_cursor": _cursor_encode(found[-1][-1]) if more and found else None,
        }
    )


def rows_record(request: HttpRequest, queryset: QuerySet[M], pk: int, rows: Rows) -> HttpResponse:
    """The record `pk` of `queryset` (narrowed to what the caller may see: 404 otherwise), straight from its row."""
    found = rows.fetch(queryset.filter(pk=pk).order_by(), limit=1)
    if not found:
        raise Http404
    keys, custom = _hidden_parts(request, rows.schema)
    return json_response(rows.items(found, hidden_keys=keys, hidden_custom=custom)[0])


# --- filters of CRM records -------------------------------------------------------------------------------


class RecordFilters(Schema):
    q: Text | None = Field(None, max_length=200, description="Words or a phone number, as in the global search box.")
    owner: IdParam | None = None
    tag: Text | None = Field(None, max_length=200)


def custom_filters(request: HttpRequest) -> dict[str, str]:
    """`cf_<key>=value` query parameters: equality on custom field values."""
    return {
        name[len(CUSTOM_FILTER_PREFIX) :]: value
        for name in request.GET
        if name.startswith(CUSTOM_FILTER_PREFIX) and (value := request.GET.get(name, ""))
    }


def search_filter(
    queryset: QuerySet[M], record_type: RecordType, q: str, hidden: frozenset[str] = frozenset()
) -> QuerySet[M]:
    """Records whose search terms start with every word typed (or with the phone digits), via the index; the
    terms of `hidden` fields (the caller's role hides them) do not count."""
    words, phones = query_readings(q)
    groups = [phones] if phones else [[w] for w in words]
    if not groups:
        return queryset.none()
    for group in groups:
        matching = SearchTerm.objects.filter(starts_with_any(group), record_type=record_type, record_id=OuterRef("pk"))
        queryset = queryset.filter(Exists(terms_visible(matching, hidden)))
    return queryset


def custom_field_filter(
    queryset: QuerySet[M], record_type: RecordType, values: Mapping[str, str], hidden: frozenset[str] = frozenset()
) -> QuerySet[M]:
    """JSONB containment (`@>`, served by the GIN index) on values cleaned like stored ones, so `cf_amount=10.50`
    finds the stored "10.5" and `cf_vip=yes` the stored true. A field the caller's role hides cannot be filtered
    by (422): the answer would tell its values."""
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
        if f"cf:{key}" in hidden:
            errors[name] = [_("This field is hidden from your role.")]
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
    queryset: QuerySet[M],
    record_type: RecordType,
    filters: RecordFilters,
    custom: Mapping[str, str],
    hidden: frozenset[str] = frozenset(),
) -> QuerySet[M]:
    """The shared filters; `hidden`: the fields the caller's role hides (not searched, not filtered by)."""
    if filters.owner is not None:
        queryset = queryset.filter(owner_id=filters.owner)
    if filters.tag:
        queryset = queryset.filter(tags__contains=[filters.tag.strip().lower()])
    if filters.q and filters.q.strip():
        queryset = search_filter(queryset, record_type, filters.q, hidden)
    return custom_field_filter(queryset, record_type, custom, hidden)


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
        if role == "out" and issubclass(cls, HidingOut):
            # A record's body leaves out what the caller's role hides of its type.
            cls.hidden_type = record_type
            HIDING_SCHEMAS[cls.__name__] = record_type
        return cls

    return register


# What custom number and money values may be when written: below 10^15 in size (as the server checks).
_NUMBER_IN = {"type": "string", "format": "decimal", "pattern": r"^-?\d{1,15}(\.\d{1,10})?$"}
_NUMBER_MAX = 10**15 - 1
_LINK_NOTE = "An http(s) address; any other is refused (422)."


def custom_value_json_schema(field: CustomField, *, writing: bool) -> dict[str, Any]:
    T = CustomField.Type
    decimal = _NUMBER_IN if writing else {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    number = {"type": "number", "minimum": -_NUMBER_MAX, "maximum": _NUMBER_MAX}
    schema: dict[str, Any]
    if field.field_type in (T.TEXT, T.LONG_TEXT):
        schema = {"type": "string"}
        if writing:
            schema.update(maxLength=MAX_TEXT[field.field_type], pattern=TEXT_PATTERN)
    elif field.field_type == T.LINK:
        schema = {"type": "string", "format": "uri"}
        if writing:
            schema.update(maxLength=MAX_TEXT[field.field_type], description=_LINK_NOTE)
    elif field.field_type == T.NUMBER:
        schema = {"anyOf": [decimal, number]} if writing else decimal
    elif field.field_type == T.MONEY:
        schema = {
            "type": "object",
            "properties": {
                "amount": decimal,
                "currency": {"type": "string", "enum": list(CURRENCIES)} if writing else {"type": "string"},
            },
            "required": ["amount", "currency"],
        }
        if writing:
            schema["additionalProperties"] = False
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
        if writing:
            schema["description"] = "Id of an active user of the workspace (422 otherwise)."
    else:  # pragma: no cover - every type is listed above
        schema = {}
    schema["title"] = field.label
    if writing:
        schema = {"anyOf": [schema, {"type": "null"}], "title": field.label}
    return schema


def custom_filter_json_schema(field: CustomField) -> dict[str, Any]:
    """The `cf_<key>` query parameter of a list: the value is read as the field's value would be written."""
    T = CustomField.Type
    if field.field_type in (T.TEXT, T.LONG_TEXT):
        return {"type": "string", "maxLength": MAX_TEXT[field.field_type], "pattern": TEXT_PATTERN}
    if field.field_type == T.LINK:
        return {"type": "string", "format": "uri", "maxLength": MAX_TEXT[field.field_type], "description": _LINK_NOTE}
    if field.field_type == T.NUMBER:
        return dict(_NUMBER_IN)
    if field.field_type == T.DATE:
        return {"type": "string", "format": "date"}
    if field.field_type == T.BOOLEAN:
        return {"type": "string", "enum": ["true", "false", "yes", "no"]}
    if field.field_type in (T.CHOICE, T.MULTI_CHOICE):
        return {"type": "string", "enum": list(field.choices)}
    return {"type": "string", "pattern": "^[0-9]{1,18}$", "description": "Id of an active user (422 otherwise)."}


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
