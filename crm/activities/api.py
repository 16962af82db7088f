"""REST endpoints for tasks, calls, meetings and notes: /api/v1/activities/."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool

from crm.activities.models import Activity
from crm.activities.selectors import activities_visible_to, activity_get
from crm.activities.services import activity_create, activity_delete, activity_update
from crm.core.api import (
    LONG_TEXT,
    ClearableText,
    Count,
    Id,
    IdParam,
    In,
    Moment,
    Name,
    PageParams,
    Text,
    actor,
    rows_page,
    rows_record,
    unset,
)
from crm.core.api_access import requires
from crm.core.rows import Rows
from crm.core.types import RecordType
from tenants.accounts.policy import Action

router = Router(tags=["activities"])


class ActivityOut(Schema):
    id: int
    kind: Activity.Kind
    subject: str
    body: str
    due_at: datetime.datetime | None
    duration_minutes: int | None
    assignee: int | None
    is_done: bool
    done_at: datetime.datetime | None
    result: str
    company: int | None
    contact: int | None
    deal: int | None
    lead: int | None
    call_direction: str
    call_phone: str
    call_duration_seconds: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_assignee(obj: Activity) -> int | None:
        return obj.assignee_id

    @staticmethod
    def resolve_company(obj: Activity) -> int | None:
        return obj.company_id

    @staticmethod
    def resolve_contact(obj: Activity) -> int | None:
        return obj.contact_id

    @staticmethod
    def resolve_deal(obj: Activity) -> int | None:
        return obj.deal_id

    @staticmethod
    def resolve_lead(obj: Activity) -> int | None:
        return obj.lead_id


PHONE = "Any common format; stored as E.164. A number that is not valid is refused (422)."


class ActivityIn(In):
    kind: Activity.Kind = Activity.Kind.TASK
    subject: Name = Field(max_length=255)
    body: Text = Field("", max_length=LONG_TEXT)
    due_at: Moment | None = None
    duration_minutes: Count | None = None
    assignee: Id | None = Field(None, description="Id of a user; the caller when left out.")
    is_done: StrictBool = False
    result: Text = Field("", max_length=LONG_TEXT)
    company: Id | None = None
    contact: Id | None = None
    deal: Id | None = None
    lead: Id | None = None
    call_direction: Activity.Direction | None = None
    call_phone: Text = Field("", max_length=40, description=PHONE)
    call_duration_seconds: Count | None = None


class ActivityPatch(In):
    kind: Activity.Kind = unset()
    subject: Name = unset(max_length=255)
    body: ClearableText = Field(None, max_length=LONG_TEXT)
    due_at: Moment | None = None
    duration_minutes: Count | None = None
    assignee: Id | None = None
    is_done: StrictBool = unset()
    result: ClearableText = Field(None, max_length=LONG_TEXT)
    company: Id | None = None
    contact: Id | None = None
    deal: Id | None = None
    lead: Id | None = None
    call_direction: Activity.Direction | None = None
    call_phone: ClearableText = Field(None, max_length=40, description=PHONE)
    call_duration_seconds: Count | None = None


class ActivityFilters(Schema):
    kind: Activity.Kind | None = None
    is_done: bool | None = None
    assignee: IdParam | None = None
    due_from: Moment | None = Field(None, description="Due at or after.")
    due_to: Moment | None = Field(None, description="Due before.")
    company: IdParam | None = None
    contact: IdParam | None = None
    deal: IdParam | None = None
    lead: IdParam | None = None


ACTIVITY_ROWS = Rows(ActivityOut, Activity)


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None


@router.get("/activities/", response=ActivityPage, summary="List activities")
@requires(Action.VIEW, RecordType.ACTIVITY)
def list_activities(request: HttpRequest, filters: Query[ActivityFilters], page: Query[PageParams]) -> HttpResponse:
    activities = activities_visible_to(actor(request))
    for name in ("kind", "is_done"):
        if getattr(filters, name) is not None:
            activities = activities.filter(**{name: getattr(filters, name)})
    for name in ("assignee", "company", "contact", "deal", "lead"):
        if getattr(filters, name) is not None:
            activities = activities.filter(**{f"{name}_id": getattr(filters, name)})
    if filters.due_from is not None:
        activities = activities.filter(due_at__gte=filters.due_from)
    if filters.due_to is not None:
        activities = activities.filter(due_at__lt=filters.due_to)
    return rows_page(request, activities, page, ACTIVITY_ROWS)


def _data(payload: In) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    # The model stores "no direction" as an empty string.
    if "call_direction" in data and data["call_direction"] is None:
        data["call_direction"] = ""
    return data


@router.post("/activities/", response={201: ActivityOut}, summary="Create an activity")
@requires(Action.CREATE, RecordType.ACTIVITY)
def create_activity(request: HttpRequest, payload: ActivityIn) -> Activity:
    return activity_create(actor=actor(request), data=_data(payload))


@router.get("/activities/{activity_id}", response=ActivityOut, summary="Read an activity")
@requires(Action.VIEW, RecordType.ACTIVITY, record="activity_id")
def read_activity(request: HttpRequest, activity_id: int) -> HttpResponse:
    return rows_record(request, activities_visible_to(actor(request)), activity_id, ACTIVITY_ROWS)


@router.patch("/activities/{activity_id}", response=ActivityOut, summary="Update an activity")
@requires(Action.EDIT, RecordType.ACTIVITY, record="activity_id")
def update_activity(request: HttpRequest, activity_id: int, payload: ActivityPatch) -> Activity:
    activity = activity_get(actor(request), activity_id)
    return activity_update(actor=actor(request), activity=activity, data=_data(payload))


@router.delete("/activities/{activity_id}", response={204: None}, summary="Delete an activity")
@requires(Action.DELETE, RecordType.ACTIVITY, record="activity_id")
def delete_activity(request: HttpRequest, activity_id: int) -> Status:
    activity_delete(actor=actor(request), activity=activity_get(actor(request), activity_id))
    return Status(204, None)
