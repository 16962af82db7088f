"""The write path every company, contact, lead and deal change goes through.

Entity services (`crm/<app>/services.py`) name the operations and add their own rules; this module does what
they share: the policy check, field assignment, custom field validation, `full_clean()`, optimistic
concurrency, history and the search index, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.types import RecordType
from crm.core.validation import value_errors
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_for
from crm.customfields.services import custom_values_clean
from crm.history.models import ChangeRecord
from crm.history.services import diff, history_move, history_write, snapshot
from crm.search.services import search_index_remove, search_index_update
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User
from tenants.events.outbox import Type as EventType
from tenants.events.outbox import event_record

R = TypeVar("R", bound=models.Model)
Normalizer = Callable[[dict[str, Any]], dict[str, Any]]

# Never written from input: the services own them.
_PROTECTED = {"id", "pk", "version", "created_at", "updated_at", "created_by", "stage_changed_at", "closed_at"}


class StaleVersion(Exception):
    """The record changed since the client read it (optimistic concurrency)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the record is at version {current}")
        self.current = current


# Links a write may set to another CRM record; the target must be one the actor may see.
LINKS = {"company": RecordType.COMPANY, "contact": RecordType.CONTACT, "deal": RecordType.DEAL, "lead": RecordType.LEAD}


def link_errors(actor: User, links: Mapping[str, object]) -> dict[str, list[str]]:
    """Errors for the linked records (field -> id) that the actor may not see: a record they cannot see is
    "no such record" in a write too, exactly as in a read, so an id cannot be probed or linked by guessing."""
    from crm.core.registry import model_for

    errors: dict[str, list[str]] = {}
    for name, pk in links.items():
        if pk is None or name not in LINKS:
            continue
        model = model_for(LINKS[name])
        if not policy.visible(actor, model._default_manager.all(), LINKS[name]).filter(pk=pk).exists():
            errors[name] = [_("There is no such %(what)s.") % {"what": model._meta.verbose_name}]
    return errors


def _hidden_errors(
    actor: User, record_type: RecordType, data: Mapping[str, Any], custom: Mapping[str, Any]
) -> dict[str, list[str]]:
    """A field the actor's role hides can be neither read nor written by them."""
    hidden = policy.hidden_fields(actor, record_type)
    if not hidden:
        return {}
    names = [n for n in data if n in hidden or n.removesuffix("_id") in hidden]
    names += [f"cf_{key}" for key in custom if f"cf:{key}" in hidden]
    return {name: [_("This field cannot be set.")] for name in names}


def _linked_ids(record: models.Model, names: list[str] | set[str]) -> dict[str, object]:
    return {name: getattr(record, f"{name}_id") for name in LINKS if name in names or f"{name}_id" in names}


def _custom_labels(definitions: list[CustomField]) -> dict[str, str]:
    return {f.key: f.label for f in definitions}


def _assign(record: models.Model, data: Mapping[str, Any], *, editable: set[str]) -> list[str]:
    errors: dict[str, list[str]] = {}
    changed: list[str] = []
    for name, value in data.items():
        if name in _PROTECTED or name not in editable:
            errors[name] = [_("This field cannot be set.")]
            continue
        field = record._meta.get_field(name)
        attname = (
            field.attname if isinstance(field, models.ForeignKey) and not isinstance(value, models.Model) else name
        )
        setattr(record, attname, value)
        changed.append(field.attname if isinstance(field, models.ForeignKey) else name)
    if errors:
        raise ValidationError(errors)
    return changed


def _normalized(data: dict[str, Any], normalize: Normalizer | None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Normalized input and the errors of the fields that could not be normalized (left out of the input),
    so that every bad field is reported at once. Values no field may hold (NUL characters, moments out of the
    calendar) are refused first."""
    bad = value_errors(data)
    data = {k: v for k, v in data.items() if k not in bad}
    if normalize is None:
        return data, bad
    try:
        return normalize(data), bad
    except ValidationError as exc:
        errors = exc.message_dict
    # The other fields are still normalized (each on its own), so that validating them sees what a successful
    # normalization would have given (a form's "one per line" text becomes a list) rather than the raw input.
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if key not in errors:
            try:
                kept.update(normalize({key: value}))
            except ValidationError:
                continue
    return kept, {**errors, **bad}


def editable_fields(model: type[models.Model]) -> set[str]:
    names = set()
    for field in model._meta.concrete_fields:
        if field.editable and field.name not in _PROTECTED and field.name != "custom_fields":
            names.add(field.name)
    return names


def record_create(
    *,
    actor: User,
    model: type[R],
    record_type: RecordType,
    data: Mapping[str, Any],
    normalize: Normalizer | None = None,
) -> R:
    policy.require(actor, policy.Action.CREATE, record_type)
    data = dict(data)
    custom = data.pop("custom_fields", None) or {}
    hidden_errors = _hidden_errors(actor, record_type, data, custom)
    data, errors = _normalized(data, normalize)
    errors.update(hidden_errors)
    record = model()
    _assign(record, {k: v for k, v in data.items() if k not in hidden_errors}, editable=editable_fields(model))
    errors.update(link_errors(actor, _linked_ids(record, set(data))))
    try:
        record.custom_fields = custom_values_clean(record_type, custom)  # type: ignore[attr-defined]
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if getattr(record, "owner_id", "missing") is None:
        record.owner = actor  # type: ignore[attr-defined]
    record.created_by = actor  # type: ignore[attr-defined]
    if not policy.can_on(actor, policy.Action.CREATE, record_type, record):
        errors["owner"] = [_("You can only create records that you or your team own.")]
    # The actor exists (they are signed in): no query to check a reference to them.
    known = [name for name in ("owner", "created_by") if getattr(record, f"{name}_id", None) == actor.pk]
    try:
        record.full_clean(exclude=[*errors, *known])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    record.save()
    history_write(actor=actor, record_type=record_type, record_id=record.pk, action=ChangeRecord.Action.CREATED)
    event_record(type=EventType.RECORD_CREATED, kind=record_type.value, record=record, actor=actor)
    search_index_update(record_type, record, created=True)
    return record


def record_update(
    *,
    actor: User,
    record: R,
    record_type: RecordType,
    data: Mapping[str, Any],
    normalize: Normalizer | None = None,
    expected_version: int | None = None,
    action: ChangeRecord.Action = ChangeRecord.Action.UPDATED,
    note: str = "",
) -> R:
    """Apply a partial update; raises ValidationError (nothing saved), StaleVersion or PermissionDenied."""
    policy.require_on(actor, policy.Action.EDIT, record_type, record)
    current_version = record.version  # type: ignore[attr-defined]
    if expected_version is not None and expected_version != current_version:
        raise StaleVersion(current_version)
    definitions = custom_fields_for(record_type)
    labels = _custom_labels(definitions)
    before = snapshot(record, custom_labels=labels)
    data = dict(data)
    custom = data.pop("custom_fields", None)
    hidden_errors = _hidden_errors(actor, record_type, data, custom or {})
    data, errors = _normalized(data, normalize)
    errors.update(hidden_errors)
    changed = _assign(
        record, {k: v for k, v in data.items() if k not in hidden_errors}, editable=editable_fields(type(record))
    )
    errors.update(link_errors(actor, _linked_ids(record, set(changed))))
    if custom is not None:
        try:
            record.custom_fields = custom_values_clean(  # type: ignore[attr-defined]
                record_type,
                custom,
                existing=record.custom_fields,  # type: ignore[attr-defined]
                definitions=definitions,
            )
            changed.append("custom_fields")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    try:
        record.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    changes = diff(before, snapshot(record, custom_labels=labels))
    if not changes and not note:
        return record
    record.version = current_version + 1  # type: ignore[attr-defined]
    record.updated_at = timezone.now()  # type: ignore[attr-defined]
    record.save(update_fields=[*dict.fromkeys(changed), "version", "updated_at"])
    history_write(actor=actor, record_type=record_type, record_id=record.pk, action=action, changes=changes, note=note)
    event_record(
        type=EventType.RECORD_UPDATED,
        kind=record_type.value,
        record=record,
        actor=actor,
        fields=[change["field"].split(".", 1)[0] for change in changes],
    )
    search_index_update(record_type, record)
    return record


def record_touch(*, record: models.Model, fields: list[str]) -> None:
    """Save fields a service changed itself (stage, amount...), bumping the version."""
    record.version += 1  # type: ignore[attr-defined]
    record.updated_at = timezone.now()  # type: ignore[attr-defined]
    record.save(update_fields=[*fields, "version", "updated_at"])


def merge_fold(
    *,
    survivor: models.Model,
    duplicate: models.Model,
    blanks: tuple[str, ...],
    lists: tuple[str, ...] = ("phones", "emails", "tags"),
) -> list[str]:
    """Copy into `survivor` what only `duplicate` knows: blank fields, list items, notes, custom values.
    Returns the fields that changed. The survivor's own values always win."""
    filled = []
    for name in blanks:
        if not getattr(survivor, name) and getattr(duplicate, name):
            setattr(survivor, name, getattr(duplicate, name))
            filled.append(name)
    for name in lists:
        merged = list(dict.fromkeys([*getattr(survivor, name), *getattr(duplicate, name)]))
        if merged != getattr(survivor, name):
            setattr(survivor, name, merged)
            filled.append(name)
    if getattr(duplicate, "notes", ""):
        survivor.notes = "\n\n".join(n for n in (survivor.notes, duplicate.notes) if n)  # type: ignore[attr-defined]
        filled.append("notes")
    survivor.custom_fields = {**duplicate.custom_fields, **survivor.custom_fields}  # type: ignore[attr-defined]
    return [*filled, "custom_fields"]


def merge_finish(
    *,
    actor: User,
    record_type: RecordType,
    survivor: R,
    duplicate: models.Model,
    filled: list[str],
    moved: dict[str, int],
) -> R:
    """Save the survivor, write the merge into its history (with what moved), delete the duplicate."""
    moved["history"] = history_move(record_type=record_type, from_id=duplicate.pk, to_id=survivor.pk)
    record_touch(record=survivor, fields=filled)
    history_write(
        actor=actor,
        record_type=record_type,
        record_id=survivor.pk,
        action=ChangeRecord.Action.MERGED,
        changes=[
            {
                "field": "merged",
                "label": _("Merged"),
                "old": f"{duplicate} (#{duplicate.pk})",
                "new": str(survivor),
                "moved": moved,
            }
        ],
        note=str(duplicate),
    )
    search_index_remove(record_type, duplicate.pk)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.RECORDS_MERGED,
        target=survivor,
        target_type=record_type.value,
        details={"merged_id": duplicate.pk, "merged": str(duplicate)[:255], "moved": moved},
    )
    event_record(
        type=EventType.RECORD_MERGED,
        kind=record_type.value,
        record=survivor,
        actor=actor,
        fields=filled,
        context={"merged_id": duplicate.pk, "moved": moved},
    )
    duplicate.delete()
    search_index_update(record_type, survivor)
    return survivor


def record_delete(*, actor: User, record: models.Model, record_type: RecordType) -> None:
    policy.require_on(actor, policy.Action.DELETE, record_type, record)
    record_id = record.pk
    history_write(
        actor=actor,
        record_type=record_type,
        record_id=record_id,
        action=ChangeRecord.Action.DELETED,
        note=str(record)[:255],
    )
    search_index_remove(record_type, record_id)
    audit_record(actor=actor, action=AuditEvent.Action.RECORD_DELETED, target=record, target_type=record_type.value)
    event_record(type=EventType.RECORD_DELETED, kind=record_type.value, record=record, actor=actor)
    record.delete()
