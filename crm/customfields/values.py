"""Validation of custom field values by type. A bad value is a field error named after the field's key."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from crm.core.money import validate_currency
from crm.core.validation import value_problem
from crm.customfields.models import CustomField

T = CustomField.Type
MAX_TEXT: dict[str, int] = {T.TEXT: 1000, T.LONG_TEXT: 20000, T.LINK: 2000}


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValidationError(_("Enter a number."))
    try:
        number = Decimal(str(value).strip().replace(" ", "").replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(_("Enter a number.")) from exc
    if not number.is_finite() or abs(number) >= Decimal("1e15"):
        raise ValidationError(_("Enter a number."))
    return number


def clean_value(field: CustomField, value: Any, *, active_user_ids: set[int] | None = None) -> Any:
    """The stored (JSON) form of `value` for `field`, or ValidationError. None/"" means "no value"."""
    if problem := value_problem(value):
        raise ValidationError(problem)
    if value is None or value == "" or value == []:
        if field.is_required:
            raise ValidationError(_("This field is required."))
        return None
    kind = field.field_type
    if kind in (T.TEXT, T.LONG_TEXT, T.LINK):
        text = str(value).strip()
        if len(text) > MAX_TEXT[kind]:
            raise ValidationError(_("Use at most %(n)d characters."), params={"n": MAX_TEXT[kind]})
        if kind == T.LINK:
            URLValidator(schemes=["http", "https"])(text)
        return text
    if kind == T.NUMBER:
        return format(_decimal(value).normalize(), "f")
    if kind == T.MONEY:
        if not isinstance(value, dict):
            raise ValidationError(_("Give an amount and a currency."))
        amount = _decimal(value.get("amount"))
        currency = str(value.get("currency", "")).upper()
        validate_currency(currency)
        return {"amount": str(amount.quantize(Decimal("0.01"))), "currency": currency}
    if kind == T.DATE:
        if isinstance(value, datetime.date):
            return value.isoformat()
        try:
            return datetime.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError as exc:
            raise ValidationError(_("Enter a date as YYYY-MM-DD.")) from exc
    if kind == T.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValidationError(_("Enter yes or no."))
    if kind == T.CHOICE:
        if str(value) not in field.choices:
            raise ValidationError(_("%(value)s is not one of the choices."), params={"value": value})
        return str(value)
    if kind == T.MULTI_CHOICE:
        items = value if isinstance(value, list | tuple) else [value]
        bad = [str(v) for v in items if str(v) not in field.choices]
        if bad:
            raise ValidationError(_("%(value)s is not one of the choices."), params={"value": ", ".join(bad)})
        return [c for c in field.choices if c in {str(v) for v in items}]
    if kind == T.USER:
        try:
            user_id = int(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(_("Choose a user.")) from exc
        if active_user_ids is not None and user_id not in active_user_ids:
            raise ValidationError(_("Choose an active user of this workspace."))
        return user_id
    raise ValidationError(_("Unknown field type."))
