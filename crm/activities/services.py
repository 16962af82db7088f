"""Writes on tasks, calls, meetings and notes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.activities.models import Activity
from crm.activities.selectors import activities_visible_to
from crm.core.bulk import Ids, bulk_records
from crm.core.phones import normalize_phone
from crm.core.services import link_errors
from crm.core.types import RecordType
from crm.core.validation import value_errors
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User
from tenants.events.outbox import Type as EventType
from tenants.events.outbox import event_record

_FIELDS = {
    "kind",
    "subject",
    "body",
    "due_at",
    "duration_minutes",
    "assignee",
    "result",
    "company",
    "contact",
    "deal",
    "lead",
    "call_direction",
    "call_phone",
    "call_duration_seconds",
    "email_from",
    "email_to",
    "is_done",
}
_LINKS = ("company", "contact", "deal", "lead")


def _apply(actor: User, activity: Activity, data: Mapping[str, Any]) -> None:
    if unknown := set(data) - _FIELDS:
        raise ValidationError({n: [_("This field cannot be set.")] for n in sorted(unknown)})
    errors = value_errors(data)
    for name, value in data.items():
        if name == "is_done" or name in errors:
            continue
        if name in (*_LINKS, "assignee"):
            setattr(activity, f"{name}_id", getattr(value, "pk", value))
        elif name == "call_phone" and value:
            try:
                activity.call_phone = normalize_phone(str(value))
            except ValidationError as exc:
                errors["call_phone"] = list(exc.messages)
        else:
            setattr(activity, name, value)
    errors.update(link_errors(actor, {name: getattr(activity, f"{name}_id") for name in _LINKS if name in data}))
    if "is_done" in data and bool(data["is_done"]) != activity.is_done:
        activity.is_done = bool(data["is_done"])
        activity.done_at = timezone.now() if activity.is_done else None
    # A contact's activity shows on its company's card too.
    if activity.contact_id and not activity.company_id:
        from crm.contacts.models import Contact

        activity.company_id = (
            Contact.objects.filter(pk=activity.contact_id).values_list("company_id", flat=True).first()
        )
    if activity.deal_id and not activity.company_id:
        from crm.deals.models import Deal

        activity.company_id = Deal.objects.filter(pk=activity.deal_id).values_list("company_id", flat=True).first()
    # A note or an email records what happened: it is done from the start.
    if activity.kind in (Activity.Kind.NOTE, Activity.Kind.EMAIL):
        activity.is_done = True
        activity.done_at = activity.done_at or timezone.now()
    try:
        activity.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


@workspace_write
def activity_create(*, actor: User, data: Mapping[str, Any]) -> Activity:
    policy.require(actor, policy.Action.CREATE, RecordType.ACTIVITY)
    activity = Activity(created_by=actor)
    data = dict(data)
    data.setdefault("assignee", actor.pk)
    _apply(actor, activity, data)
    activity.save()
    event_record(type=EventType.RECORD_CREATED, kind=RecordType.ACTIVITY.value, record=activity, actor=actor)
    return activity


@workspace_write
def activity_update(*, actor: User, activity: Activity, data: Mapping[str, Any]) -> Activity:
    policy.require_on(actor, policy.Action.EDIT, RecordType.ACTIVITY, activity)
    was_done = activity.is_done
    _apply(actor, activity, data)
    activity.updated_at = timezone.now()
    activity.save()
    done_now = activity.is_done and not was_done
    event_record(
        type=EventType.ACTIVITY_DONE if done_now else EventType.RECORD_UPDATED,
        kind=RecordType.ACTIVITY.value,
        record=activity,
        actor=actor,
        fields=[name for name in data if name in _FIELDS],
    )
    return activity


@workspace_write
def activity_set_done(*, actor: User, activity: Activity, done: bool, result: str = "") -> Activity:
    data: dict[str, Any] = {"is_done": done}
    if result:
        data["result"] = result
    return activity_update(actor=actor, activity=activity, data=data)


@workspace_write
def activity_delete(*, actor: User, activity: Activity) -> None:
    policy.require_on(actor, policy.Action.DELETE, RecordType.ACTIVITY, activity)
    audit_record(actor=actor, action=AuditEvent.Action.RECORD_DELETED, target=activity, target_type="activity")
    event_record(type=EventType.RECORD_DELETED, kind=RecordType.ACTIVITY.value, record=activity, actor=actor)
    activity.delete()


# --- bulk actions from the lists: each activity goes through its own service.


@workspace_write
def activity_bulk_assign(*, actor: User, ids: Ids, assignee: User) -> int:
    activities = bulk_records(activities_visible_to(actor), ids)
    for activity in activities:
        if activity.assignee_id != assignee.pk:
            activity_update(actor=actor, activity=activity, data={"assignee": assignee.pk})
    return len(activities)


@workspace_write
def activity_bulk_delete(*, actor: User, ids: Ids) -> int:
    activities = bulk_records(activities_visible_to(actor), ids)
    for activity in activities:
        activity_delete(actor=actor, activity=activity)
    return len(activities)
