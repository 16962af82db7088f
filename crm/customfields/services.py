"""Custom field definitions (admins) and the validation of values that every record service applies."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crm.core.types import CORE_RECORD_TYPES, RecordType
from crm.core.validation import refuse_bad_values
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_for
from crm.customfields.values import clean_value
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.models import User
from tenants.accounts.selectors import active_users

_CHOICE_TYPES = (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE)


def custom_values_clean(
    record_type: RecordType,
    incoming: dict[str, Any],
    *,
    existing: dict[str, Any] | None = None,
    definitions: list[CustomField] | None = None,
) -> dict[str, Any]:
    """Merge `incoming` values into `existing` after validating each by its field's type.

    Errors are keyed `custom_fields.<key>`; unknown keys are errors too, so a typo never silently vanishes.
    Required fields must end up with a value.
    """
    fields = {f.key: f for f in (custom_fields_for(record_type) if definitions is None else definitions)}
    result = dict(existing or {})
    errors: dict[str, list[str]] = {}
    users: set[int] | None = None
    if any(f.field_type == CustomField.Type.USER for f in fields.values()):
        users = set(active_users().values_list("pk", flat=True))
    for key, value in incoming.items():
        field = fields.get(key)
        if field is None:
            errors[f"custom_fields.{key}"] = [_("There is no such custom field.")]
            continue
        try:
            cleaned = clean_value(field, value, active_user_ids=users)
        except ValidationError as exc:
            errors[f"custom_fields.{key}"] = list(exc.messages)
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    for key, field in fields.items():
        if field.is_required and key not in result and f"custom_fields.{key}" not in errors:
            errors[f"custom_fields.{key}"] = [_("This field is required.")]
    if errors:
        raise ValidationError(errors)
    return result


def _clean_choices(field_type: str, choices: list[str]) -> list[str]:
    cleaned = []
    for choice in choices:
        text = str(choice).strip()
        if text and text not in cleaned:
            cleaned.append(text[:100])
    if field_type in _CHOICE_TYPES and not cleaned:
        raise ValidationError({"choices": [_("Give at least one choice.")]})
    return cleaned if field_type in _CHOICE_TYPES else []


@workspace_write
def custom_field_create(
    *,
    actor: User,
    record_type: str,
    label: str,
    field_type: str,
    choices: list[str] | None = None,
    is_required: bool = False,
    show_in_list: bool = False,
    key: str = "",
) -> CustomField:
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    if record_type not in CORE_RECORD_TYPES:
        raise ValidationError({"record_type": [_("Custom fields exist for companies, contacts, deals and leads.")]})
    refuse_bad_values({"label": label, "choices": list(choices or []), "key": key})
    base = slugify(key or label).replace("-", "_")[:40] or "field"
    if base[0].isdigit():
        base = f"f_{base}"
    unique_key, n = base, 2
    while CustomField.objects.filter(record_type=record_type, key=unique_key).exists():
        unique_key, n = f"{base}_{n}", n + 1
    position = (CustomField.objects.filter(record_type=record_type).aggregate(m=Max("position"))["m"] or 0) + 1
    field = CustomField(
        record_type=record_type,
        key=unique_key,
        label=label.strip(),
        field_type=field_type,
        choices=_clean_choices(field_type, choices or []),
        is_required=is_required,
        show_in_list=show_in_list,
        position=position,
    )
    field.full_clean()
    field.save()
    return field


@workspace_write
def custom_field_update(*, actor: User, field: CustomField, data: dict[str, Any]) -> CustomField:
    """Rename, reorder or change the choices/flags of a field. Its key and type never change."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    allowed = {"label", "choices", "is_required", "show_in_list", "position"}
    if unknown := set(data) - allowed:
        raise ValidationError({name: [_("This cannot be changed.")] for name in sorted(unknown)})
    refuse_bad_values(data)
    if "label" in data:
        field.label = str(data["label"]).strip()
    if "choices" in data:
        field.choices = _clean_choices(field.field_type, list(data["choices"] or []))
    for name in ("is_required", "show_in_list", "position"):
        if name in data:
            setattr(field, name, data[name])
    field.full_clean()
    field.save()
    return field


@workspace_write
def custom_field_delete(*, actor: User, field: CustomField) -> int:
    """Delete the field and its values from every record. Returns how many records held a value."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    from crm.core.registry import model_for

    model = model_for(RecordType(field.record_type))
    holders = model._default_manager.filter(custom_fields__has_key=field.key)
    from django.db.models import F
    from django.db.models.expressions import CombinedExpression, Value

    count: int = holders.update(custom_fields=CombinedExpression(F("custom_fields"), "-", Value(field.key)))
    field.delete()
    return count


@workspace_write
def custom_fields_reorder(*, actor: User, record_type: str, field_ids: list[int]) -> list[CustomField]:
    """Put the fields of one record type in the given order; every field must be given exactly once."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    fields = {f.pk: f for f in CustomField.objects.select_for_update().filter(record_type=record_type)}
    if sorted(field_ids) != sorted(fields):
        raise ValidationError({"field_ids": [_("Give every field of this record type exactly once.")]})
    ordered = [fields[pk] for pk in field_ids]
    for position, field in enumerate(ordered, start=1):
        field.position = position
    CustomField.objects.bulk_update(ordered, ["position"])
    return ordered
