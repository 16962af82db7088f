"""Phone numbers are stored in E.164; input in any common national or international format is accepted."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """E.164 form of `raw`, or ValidationError if it is not a valid number."""
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, region or settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("%(value)s is not a phone number."), params={"value": text}, code="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("%(value)s is not a valid phone number."), params={"value": text}, code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phones(values: list[str]) -> list[str]:
    """Normalized, de-duplicated, in the order given; errors name every bad number."""
    result: dict[str, None] = {}
    errors: list[ValidationError] = []
    for value in values:
        if not (value or "").strip():
            continue
        try:
            phone = normalize_phone(value)
        except ValidationError as exc:
            errors.append(exc)
            continue
        result[phone] = None
    if errors:
        raise ValidationError(errors)
    return list(result)
