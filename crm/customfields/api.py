"""REST endpoints for the workspace's custom field definitions: /api/v1/custom-fields/ (administrators write)."""

from __future__ import annotations

from typing import Annotated, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool

from crm.core.api import Count, In, Name, Text, actor, unset
from crm.core.api_access import requires
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_all
from crm.customfields.services import custom_field_create, custom_field_delete, custom_field_update
from tenants.accounts.policy import WorkspacePermission

router = Router(tags=["custom fields"])
MAX_CHOICES = 200


class CustomFieldOut(Schema):
    id: int
    record_type: str = Field(description="company, contact, deal or lead.")
    key: str = Field(description="The key of the value in records' `custom_fields`; never changes.")
    label: str
    field_type: CustomField.Type
    choices: list[str]
    is_required: bool
    show_in_list: bool
    position: int


RecordTypeName = Literal["company", "contact", "deal", "lead"]
Choices = Annotated[list[Annotated[Text, Field(max_length=100)]], Field(max_length=MAX_CHOICES)]
CHOICES = "For choice and multi_choice fields, which need at least one (422 otherwise)."


class CustomFieldIn(In):
    record_type: RecordTypeName
    label: Name = Field(max_length=100)
    field_type: CustomField.Type
    choices: Choices = Field(default_factory=list, description=CHOICES)
    is_required: StrictBool = False
    show_in_list: StrictBool = False
    key: Text = Field("", max_length=40, description="Made from the label when left out.")


class CustomFieldPatch(In):
    label: Name = unset(max_length=100)
    choices: Choices = unset(description=CHOICES)
    is_required: StrictBool = unset()
    show_in_list: StrictBool = unset()
    position: Count = unset()


class CustomFieldFilters(Schema):
    record_type: RecordTypeName | None = None


def _field(field_id: int) -> CustomField:
    return get_object_or_404(custom_fields_all(), pk=field_id)


@router.get("/custom-fields/", response=list[CustomFieldOut], summary="List custom fields")
@requires()
def list_custom_fields(request: HttpRequest, filters: Query[CustomFieldFilters]) -> QuerySet[CustomField]:
    fields = custom_fields_all()
    if filters.record_type:
        fields = fields.filter(record_type=filters.record_type)
    return fields


@router.post("/custom-fields/", response={201: CustomFieldOut}, summary="Create a custom field")
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def create_custom_field(request: HttpRequest, payload: CustomFieldIn) -> CustomField:
    return custom_field_create(actor=actor(request), **payload.model_dump())


@router.get("/custom-fields/{field_id}", response=CustomFieldOut, summary="Read a custom field")
@requires()
def read_custom_field(request: HttpRequest, field_id: int) -> CustomField:
    return _field(field_id)


@router.patch("/custom-fields/{field_id}", response=CustomFieldOut, summary="Update a custom field")
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def update_custom_field(request: HttpRequest, field_id: int, payload: CustomFieldPatch) -> CustomField:
    return custom_field_update(
        actor=actor(request), field=_field(field_id), data=payload.model_dump(exclude_unset=True)
    )


@router.delete(
    "/custom-fields/{field_id}",
    response={204: None},
    summary="Delete a custom field",
    description="Its values are removed from every record.",
)
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def delete_custom_field(request: HttpRequest, field_id: int) -> Status:
    custom_field_delete(actor=actor(request), field=_field(field_id))
    return Status(204, None)
