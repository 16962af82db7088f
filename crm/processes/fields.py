"""The fields a process can read and write on a record: the catalog conditions, date triggers and set_field
actions name, the current values a condition reads, and the coercion of what an administrator typed.

Names are the model's field names ("amount", "stage", "owner"), "cf:<key>" for a custom field, and computed
ones ("discount_percent"). Conditions are set up by administrators, so the catalog is complete: a role's hidden
fields hide values from readers, not from the workspace's own rules.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.core.money import CURRENCY_CHOICES, quantize, workspace_currency
from crm.core.normalize import clean_tags
from crm.core.types import RecordType
from crm.core.validation import text_problem
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_for
from crm.deals.models import Deal, DealLineItem, Pipeline, Stage
from crm.leads.models import Lead
from tenants.accounts.selectors import active_users

RECORD_TYPES = ("company", "contact", "lead", "deal")
FIELD_TYPES = (
    "text",
    "number",
    "money",
    "date",
    "datetime",
    "boolean",
    "choice",
    "multi_choice",
    "user",
    "stage",
    "pipeline",
    "company",
    "tags",
)
# Types whose values compare as numbers / as dates (conditions, the editor's inputs).
NUMERIC_TYPES = ("number", "money")
DATE_TYPES = ("date", "datetime")
MAX_TEXT = 1000
# Amounts are DecimalField(max_digits=16, decimal_places=2).
MAX_NUMBER = Decimal("1e14")


@dataclass(frozen=True)
class FieldInfo:
    name: str
    label: str | Promise
    type: str
    choices: list[tuple[Any, str | Promise]] = field(default_factory=list)
    settable: bool = False
    is_date: bool = False
    # The custom field behind a "cf:<key>" name (its type, choices and required flag for coercion).
    custom: CustomField | None = field(default=None, compare=False, repr=False)

    @property
    def is_custom(self) -> bool:
        return self.name.startswith("cf:")

    @property
    def key(self) -> str:
        """The custom field's key ("warranty_ends" for "cf:warranty_ends"), else the name."""
        return self.name.removeprefix("cf:")


def _f(name: str, label: Promise, type_: str, *, settable: bool = True, choices: Any = None) -> FieldInfo:
    return FieldInfo(
        name=name, label=label, type=type_, choices=list(choices or []), settable=settable, is_date=type_ in DATE_TYPES
    )


# The columns of each kind that a process reads, in the editor's order: (name, label, type, settable).
_COLUMNS: dict[str, list[tuple[str, Promise, str, bool]]] = {
    "deal": [
        ("title", _("Title"), "text", True),
        ("amount", _("Amount"), "money", True),
        ("currency", _("Currency"), "choice", True),
        ("pipeline", _("Pipeline"), "pipeline", False),
        # A stage is moved by the move_stage step (the board's rules), never written as a field.
        ("stage", _("Stage"), "stage", False),
        ("owner", _("Owner"), "user", True),
        ("company", _("Company"), "company", False),
        ("expected_close_date", _("Expected close date"), "date", True),
        ("closed_at", _("Closed"), "datetime", False),
        ("lost_reason", _("Lost reason"), "text", True),
        ("tags", _("Tags"), "tags", True),
        ("created_at", _("Created"), "datetime", False),
        ("updated_at", _("Updated"), "datetime", False),
    ],
    "lead": [
        ("title", _("Title"), "text", True),
        ("status", _("Status"), "choice", True),
        ("source", _("Source"), "text", True),
        ("contact_name", _("Contact name"), "text", True),
        ("company_name", _("Company name"), "text", True),
        ("email", _("Email"), "text", True),
        ("phone", _("Phone"), "text", True),
        ("message", _("Message"), "text", True),
        ("rejection_reason", _("Rejection reason"), "text", True),
        ("owner", _("Owner"), "user", True),
        ("company", _("Company"), "company", False),
        ("converted_at", _("Converted"), "datetime", False),
        ("tags", _("Tags"), "tags", True),
        ("created_at", _("Created"), "datetime", False),
        ("updated_at", _("Updated"), "datetime", False),
    ],
    "company": [
        ("name", _("Name"), "text", True),
        ("legal_name", _("Legal name"), "text", True),
        ("tax_id", _("Tax id"), "text", True),
        ("registration_id", _("Registration id"), "text", True),
        ("legal_address", _("Legal address"), "text", True),
        ("actual_address", _("Actual address"), "text", True),
        ("website", _("Website"), "text", True),
        ("phones", _("Phones"), "tags", False),
        ("emails", _("Emails"), "tags", False),
        ("industry", _("Industry"), "text", True),
        ("source", _("Source"), "text", True),
        ("notes", _("Notes"), "text", True),
        ("owner", _("Owner"), "user", True),
        ("tags", _("Tags"), "tags", True),
        ("created_at", _("Created"), "datetime", False),
        ("updated_at", _("Updated"), "datetime", False),
    ],
    "contact": [
        ("first_name", _("First name"), "text", True),
        ("middle_name", _("Middle name"), "text", True),
        ("last_name", _("Last name"), "text", True),
        ("position", _("Position"), "text", True),
        ("company", _("Company"), "company", False),
        ("phones", _("Phones"), "tags", False),
        ("emails", _("Emails"), "tags", False),
        ("consent_to_contact", _("Consents to be contacted"), "boolean", True),
        ("consent_at", _("Consent given"), "datetime", False),
        ("notes", _("Notes"), "text", True),
        ("owner", _("Owner"), "user", True),
        ("tags", _("Tags"), "tags", True),
        ("created_at", _("Created"), "datetime", False),
        ("updated_at", _("Updated"), "datetime", False),
    ],
}

_CUSTOM_TYPES: dict[str, str] = {
    CustomField.Type.TEXT: "text",
    CustomField.Type.LONG_TEXT: "text",
    CustomField.Type.LINK: "text",
    CustomField.Type.NUMBER: "number",
    CustomField.Type.MONEY: "money",
    CustomField.Type.DATE: "date",
    CustomField.Type.BOOLEAN: "boolean",
    CustomField.Type.CHOICE: "choice",
    CustomField.Type.MULTI_CHOICE: "multi_choice",
    CustomField.Type.USER: "user",
}

OUTCOME_CHOICES: list[tuple[Any, str | Promise]] = [(value, label) for value, label in Stage.Outcome.choices]


def _user_choices() -> list[tuple[Any, str | Promise]]:
    return [(pk, name or email) for pk, name, email in active_users().values_list("pk", "full_name", "email")]


def _stage_choices() -> list[tuple[Any, str | Promise]]:
    rows = Stage.objects.order_by("pipeline__position", "pipeline_id", "position", "id")
    return [(pk, f"{pipeline} / {name}") for pk, pipeline, name in rows.values_list("pk", "pipeline__name", "name")]


def _check_record_type(record_type: str) -> None:
    if record_type not in RECORD_TYPES:
        raise ValueError(f"unknown record type {record_type!r}")


def field_catalog(record_type: str) -> list[FieldInfo]:
    """Every field a process may read on records of `record_type`: columns, custom fields, computed values.

    A few queries (users, stages, pipelines, custom fields); callers that need it often keep the list."""
    _check_record_type(record_type)
    users = _user_choices()
    fields: list[FieldInfo] = []
    for name, label, type_, settable in _COLUMNS[record_type]:
        choices: list[tuple[Any, str | Promise]] = []
        if type_ == "user":
            choices = users
        elif type_ == "stage":
            choices = _stage_choices()
        elif type_ == "pipeline":
            choices = list(Pipeline.objects.order_by("position", "id").values_list("pk", "name"))
        elif name == "status":
            choices = list(Lead.Status.choices)
        elif name == "currency":
            choices = list(CURRENCY_CHOICES)
        fields.append(_f(name, label, type_, settable=settable, choices=choices))
    if record_type == "deal":
        fields.append(_f("outcome", _("Outcome"), "choice", settable=False, choices=OUTCOME_CHOICES))
        fields.append(_f("discount_percent", _("Discount, %"), "number", settable=False))
        fields.append(_f("line_max_discount_percent", _("Largest line discount, %"), "number", settable=False))
    for custom in custom_fields_for(RecordType(record_type)):
        type_ = _CUSTOM_TYPES.get(custom.field_type, "text")
        if type_ == "user":
            choices = users
        elif type_ in ("choice", "multi_choice"):
            choices = [(c, c) for c in custom.choices]
        else:
            choices = []
        fields.append(
            FieldInfo(
                name=f"cf:{custom.key}",
                label=custom.label,
                type=type_,
                choices=choices,
                settable=True,
                is_date=type_ in DATE_TYPES,
                custom=custom,
            )
        )
    return fields


def field_map(record_type: str) -> dict[str, FieldInfo]:
    """The catalog by name."""
    return {f.name: f for f in field_catalog(record_type)}


def field_info(record_type: str, name: str) -> FieldInfo | None:
    return field_map(record_type).get(name)


def settable_fields(record_type: str) -> list[FieldInfo]:
    return [f for f in field_catalog(record_type) if f.settable]


def date_fields(record_type: str) -> list[FieldInfo]:
    return [f for f in field_catalog(record_type) if f.is_date]


# --- values -----------------------------------------------------------------------------------------------


def _custom_value(custom: CustomField, raw: Any) -> Any:
    """A stored custom value (JSON) as the value a condition compares."""
    if raw is None:
        return None
    try:
        if custom.field_type == CustomField.Type.NUMBER:
            return Decimal(str(raw))
        if custom.field_type == CustomField.Type.MONEY:
            return Decimal(str(raw.get("amount"))) if isinstance(raw, dict) else Decimal(str(raw))
        if custom.field_type == CustomField.Type.DATE:
            return datetime.date.fromisoformat(str(raw))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return raw


def _deal_computed(deal: Deal, only: set[str] | None = None) -> dict[str, Any]:
    """The deal's outcome and discounts (of those named in `only`): a small query each, read when asked for."""
    values: dict[str, Any] = {}
    if only is None or "outcome" in only:
        values["outcome"] = (
            Stage.objects.filter(pk=deal.stage_id).values_list("outcome", flat=True).first() if deal.stage_id else None
        )
    if only is None or only & {"discount_percent", "line_max_discount_percent"}:
        lines = (
            DealLineItem.objects.filter(deal_id=deal.pk).values_list("quantity", "price", "discount_percent")
            if deal.pk is not None
            else []
        )
        subtotal = Decimal("0")
        discount = Decimal("0")
        largest = Decimal("0")
        # As DealLineItem.subtotal / .discount compute them, so the figure matches the deal's card.
        for quantity, price, percent in lines:
            line = quantize(quantity * price)
            subtotal += line
            discount += quantize(line * percent / 100)
            largest = max(largest, percent)
        values["discount_percent"] = (discount / subtotal * 100).quantize(Decimal("0.01")) if subtotal else Decimal("0")
        values["line_max_discount_percent"] = largest
    return values


_DEAL_COMPUTED = frozenset({"outcome", "discount_percent", "line_max_discount_percent"})


def record_values(record_type: str, record: models.Model, *, only: set[str] | None = None) -> dict[str, Any]:
    """The record's current values by catalog name (foreign keys as ids, custom fields as "cf:<key>").

    `only`: the names the caller reads; the custom fields and the deal's computed values, which cost a query
    each, are read only when named there (the columns always: they are on the record already)."""
    _check_record_type(record_type)
    values: dict[str, Any] = {}
    for name, _label, type_, _settable in _COLUMNS[record_type]:
        if type_ in ("user", "stage", "pipeline", "company"):
            values[name] = getattr(record, f"{name}_id", None)
        else:
            value = getattr(record, name, None)
            values[name] = list(value) if isinstance(value, list | tuple) else value
    custom = getattr(record, "custom_fields", None) or {}
    if only is None or any(name.startswith("cf:") for name in only):
        for definition in custom_fields_for(RecordType(record_type)):
            values[f"cf:{definition.key}"] = _custom_value(definition, custom.get(definition.key))
    if record_type == "deal" and (only is None or only & _DEAL_COMPUTED):
        assert isinstance(record, Deal)
        values.update(_deal_computed(record, only))
    return values


def changed_names(fields: Iterable[str]) -> set[str]:
    """Catalog names of the fields an event says changed ("owner_id" -> "owner", "custom_fields.x" -> "cf:x").

    A bare "custom_fields" (record_update's events name only that) is kept: `conditions.evaluate` reads it as
    "some custom field changed"."""
    names: set[str] = set()
    for name in fields:
        name = str(name)
        if name.startswith("custom_fields."):
            names.add(f"cf:{name.split('.', 1)[1]}")
        elif name.startswith("cf:") or name == "custom_fields":
            names.add(name)
        else:
            names.add(name.removesuffix("_id"))
    return names


# --- set_field ---------------------------------------------------------------------------------------------

_TRUE = ("true", "1", "yes", "on", "y")
_FALSE = ("false", "0", "no", "off", "n")


def parse_bool(raw: Any) -> bool | None:
    """True / False for the usual spellings, None for anything else."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_decimal(raw: Any) -> Decimal | None:
    """A finite number from a number or text ("15", "15,5", "1 500.00"), else None."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    if isinstance(raw, int | float):
        number = Decimal(str(raw))
    else:
        text = str(raw).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not text or len(text) > 40:
            return None
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            return None
    return number if number.is_finite() else None


def _number(raw: str, *, money: bool = False) -> Decimal:
    number = parse_decimal(raw)
    if number is None or abs(number) >= MAX_NUMBER:
        raise ValidationError(gettext("Enter a number."))
    if money:
        if number < 0:
            raise ValidationError(gettext("Enter an amount of zero or more."))
        return quantize(number)
    return number


def _date(raw: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ValidationError(gettext("Enter a date as YYYY-MM-DD.")) from exc


def _active_user(raw: str) -> int:
    try:
        user_id = int(raw.strip())
    except ValueError as exc:
        raise ValidationError(gettext("Choose a user.")) from exc
    if not active_users().filter(pk=user_id).exists():
        raise ValidationError(gettext("Choose an active user of this workspace."))
    return user_id


def coerce_value(record_type: str, field: str, raw: str) -> Any:
    """The value an administrator typed for `field`, as the record's update service takes it.

    Raises ValidationError with a message for a field that may not be set or a value it cannot hold. An empty
    text clears the field where the field may be empty."""
    _check_record_type(record_type)
    info = field_info(record_type, field)
    if info is None:
        raise ValidationError(gettext("There is no such field."))
    if not info.settable:
        raise ValidationError(gettext("%(field)s cannot be set by a process.") % {"field": info.label})
    if not isinstance(raw, str):
        raise ValidationError(gettext("Enter the value as text."))
    if problem := text_problem(raw):
        raise ValidationError(problem)
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise ValidationError(gettext("Use at most %(n)d characters.") % {"n": MAX_TEXT})
    if info.custom is not None:
        return _coerce_custom(info.custom, text)
    if info.type == "text":
        if not text and field in _REQUIRED_TEXT.get(record_type, ()):
            raise ValidationError(gettext("This field is required."))
        return text
    if info.type == "money":
        return _number(text, money=True)
    if info.type == "date":
        return _date(text) if text else None
    if info.type == "boolean":
        value = parse_bool(text)
        if value is None:
            raise ValidationError(gettext("Enter yes or no."))
        return value
    if info.type == "user":
        return _active_user(text) if text else None
    if info.type == "tags":
        return clean_tags(text)
    if info.type == "choice":
        allowed = {str(v) for v, _label in info.choices}
        if record_type == "lead" and text == Lead.Status.CONVERTED:
            raise ValidationError(gettext("Convert a lead with the conversion, not by setting its status."))
        choice = text.upper() if field == "currency" else text
        if choice not in allowed:
            raise ValidationError(gettext("%(value)s is not one of the choices.") % {"value": text})
        return choice
    raise ValidationError(gettext("%(field)s cannot be set by a process.") % {"field": info.label})


# Text columns a record cannot have empty.
_REQUIRED_TEXT: dict[str, tuple[str, ...]] = {"deal": ("title",), "lead": ("title",), "company": ("name",)}


def _coerce_custom(custom: CustomField, text: str) -> Any:
    """The value in the form crm.customfields.values.clean_value takes it (it validates again on write)."""
    kind = custom.field_type
    if not text:
        if custom.is_required:
            raise ValidationError(gettext("This field is required."))
        return None
    if kind in (CustomField.Type.TEXT, CustomField.Type.LONG_TEXT, CustomField.Type.LINK):
        if kind == CustomField.Type.LINK:
            from django.core.validators import URLValidator

            URLValidator(schemes=["http", "https"])(text)
        return text
    if kind == CustomField.Type.NUMBER:
        return _number(text)
    if kind == CustomField.Type.MONEY:
        # "1500" (the workspace's currency) or "1500 EUR".
        parts = text.rsplit(" ", 1)
        currency = workspace_currency()
        if len(parts) == 2 and parts[1].isalpha():
            text, currency = parts[0], parts[1].upper()
        if currency not in {c for c, _label in CURRENCY_CHOICES}:
            raise ValidationError(gettext("%(value)s is not a supported ISO 4217 currency code.") % {"value": currency})
        return {"amount": _number(text, money=True), "currency": currency}
    if kind == CustomField.Type.DATE:
        return _date(text)
    if kind == CustomField.Type.BOOLEAN:
        value = parse_bool(text)
        if value is None:
            raise ValidationError(gettext("Enter yes or no."))
        return value
    if kind == CustomField.Type.CHOICE:
        if text not in custom.choices:
            raise ValidationError(gettext("%(value)s is not one of the choices.") % {"value": text})
        return text
    if kind == CustomField.Type.MULTI_CHOICE:
        items = [part.strip() for part in text.split(",") if part.strip()]
        if bad := [item for item in items if item not in custom.choices]:
            raise ValidationError(gettext("%(value)s is not one of the choices.") % {"value": ", ".join(bad)})
        return [c for c in custom.choices if c in items]
    if kind == CustomField.Type.USER:
        return _active_user(text)
    raise ValidationError(gettext("Unknown field type."))


def set_field_data(record_type: str, field: str, value: Any) -> dict[str, Any]:
    """The `data` for the kind's update service (deal_update, lead_update...) that sets `field` to `value`.

    A custom field goes under "custom_fields" alone: the services merge it into the record's other values."""
    if field.startswith("cf:"):
        return {"custom_fields": {field.removeprefix("cf:"): value}}
    return {field: value}
