"""A submission's values checked against the form's fields, before anything is written: required, length,
email, phone (E.164 in the workspace's region), one of the choices, text PostgreSQL can store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from crm.core.phones import normalize_phone
from crm.core.validation import text_problem
from integrations.webforms.models import FormField
from integrations.webforms.targets import Target

# The longest value taken for each type of field (a target may hold less).
MAX_LENGTH: dict[str, int] = {
    FormField.Type.TEXT: 255,
    FormField.Type.EMAIL: 254,
    FormField.Type.PHONE: 40,
    FormField.Type.TEXTAREA: 5000,
    FormField.Type.SELECT: 255,
}

Errors = dict[str, list[str]]


def as_text(value: Any) -> str | None:
    """One submitted value as text; None for what a field cannot hold (a list, an object)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def max_length_of(field: FormField, targets: Mapping[str, Target]) -> int:
    limit = MAX_LENGTH.get(field.type, 255)
    target = targets.get(field.target)
    if target is not None and target.max_length:
        limit = min(limit, target.max_length)
    return limit


def _clean_one(field: FormField, value: Any, targets: Mapping[str, Target]) -> str:
    text = as_text(value)
    if text is None:
        raise ValidationError(_("Enter a single value."))
    if problem := text_problem(text):
        raise ValidationError(problem)
    text = text.strip()
    if not text:
        if field.required:
            raise ValidationError(_("This field is required."))
        return ""
    limit = max_length_of(field, targets)
    if len(text) > limit:
        raise ValidationError(_("Use at most %(n)d characters.") % {"n": limit})
    if field.type == FormField.Type.EMAIL:
        text = text.lower()
        validate_email(text)
    elif field.type == FormField.Type.PHONE:
        text = normalize_phone(text)
    elif field.type == FormField.Type.SELECT and text not in field.choices:
        raise ValidationError(_("%(value)s is not one of the choices.") % {"value": text})
    return text


def submission_clean(
    fields: Iterable[FormField], raw: Mapping[str, Any], targets: Mapping[str, Target]
) -> tuple[dict[str, str], Errors]:
    """The cleaned value of every field of the form (blank when not given) and the errors by field key."""
    values: dict[str, str] = {}
    errors: Errors = {}
    for field in fields:
        try:
            values[field.key] = _clean_one(field, raw.get(field.key, ""), targets)
        except ValidationError as exc:
            errors[field.key] = list(exc.messages)
    return values, errors
