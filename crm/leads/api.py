"""REST endpoints for leads: /api/v1/leads/, and their conversion into a company, contact and deal."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool, WithJsonSchema

from crm.companies.selectors import companies_visible_to
from crm.contacts.selectors import contacts_visible_to
from crm.core.api import (
    CUSTOM_FILTER_PATHS,
    LONG_TEXT,
    ClearableText,
    Currency,
    Id,
    In,
    Money,
    Name,
    PageParams,
    RecordFilters,
    RecordIn,
    RecordOut,
    RecordPatch,
    Tags,
    Text,
    actor,
    custom_filters,
    hidden_of,
    optional,
    patch_data,
    record_filter,
    reference,
    rows_page,
    rows_record,
    unset,
    with_custom_fields,
)
from crm.core.api_access import requires
from crm.core.rows import Rows
from crm.core.types import RecordType
from crm.leads.models import Lead
from crm.leads.selectors import lead_get, leads_visible_to
from crm.leads.services import Conversion, lead_convert, lead_create, lead_delete, lead_update
from tenants.accounts.policy import Action

router = Router(tags=["leads"])
STATUS = "A lead becomes converted only through its conversion."
EMAIL = "An email address; one that is not valid is refused (422)."
PHONE = "Any common format; stored as E.164. A number that is not valid is refused (422)."
# A lead is converted through POST /leads/{id}/convert, never by setting its status.
LeadStatusIn = Annotated[
    Lead.Status,
    WithJsonSchema({"type": "string", "enum": [s.value for s in Lead.Status if s != Lead.Status.CONVERTED]}),
]
CUSTOM_FILTER_PATHS["/leads/"] = RecordType.LEAD


@with_custom_fields(RecordType.LEAD, "out")
class LeadOut(RecordOut):
    title: str
    status: Lead.Status
    source: str
    contact_name: str
    company_name: str
    email: str
    phone: str
    message: str
    rejection_reason: str
    converted_at: datetime.datetime | None
    company: int | None = Field(description="What the lead became, once converted.")
    contact: int | None
    deal: int | None

    @staticmethod
    def resolve_company(obj: Lead) -> int | None:
        return obj.company_id

    @staticmethod
    def resolve_contact(obj: Lead) -> int | None:
        return obj.contact_id

    @staticmethod
    def resolve_deal(obj: Lead) -> int | None:
        return obj.deal_id


@with_custom_fields(RecordType.LEAD, "in")
class LeadIn(RecordIn):
    title: Name = Field(max_length=255)
    status: LeadStatusIn = Field(Lead.Status.NEW, description=STATUS)
    source: Text = Field("", max_length=100)
    contact_name: Text = Field("", max_length=200)
    company_name: Text = Field("", max_length=255)
    email: Text = Field("", max_length=254, description=EMAIL)
    phone: Text = Field("", max_length=40, description=PHONE)
    message: Text = Field("", max_length=LONG_TEXT)
    rejection_reason: Text = Field("", max_length=255)


@with_custom_fields(RecordType.LEAD, "patch")
class LeadPatch(RecordPatch):
    title: Name = unset(max_length=255)
    status: LeadStatusIn = unset(description=STATUS)
    source: ClearableText = Field(None, max_length=100)
    contact_name: ClearableText = Field(None, max_length=200)
    company_name: ClearableText = Field(None, max_length=255)
    email: ClearableText = Field(None, max_length=254, description=EMAIL)
    phone: ClearableText = Field(None, max_length=40, description=PHONE)
    message: ClearableText = Field(None, max_length=LONG_TEXT)
    rejection_reason: ClearableText = Field(None, max_length=255)


class LeadFilters(RecordFilters):
    status: Lead.Status | None = None


class LeadPage(Schema):
    items: list[LeadOut]
    next_cursor: str | None


@with_custom_fields(RecordType.DEAL, "in")
class ConversionDealIn(In):
    """The new deal of a conversion: as in POST /deals/, its title the lead's when left out."""

    title: Name = optional(max_length=255, description="The lead's title when left out.")
    owner: Id | None = Field(None, description="The lead's owner when left out.")
    pipeline: Id | None = Field(None, description="The first active pipeline when left out.")
    stage: Id | None = Field(None, description="A stage of the deal's pipeline (422 otherwise).")
    amount: Money = Field(Decimal("0"))
    currency: Currency = optional(description="ISO 4217; the workspace's default when left out.")
    expected_close_date: datetime.date | None = None
    tags: Tags = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class ConversionIn(In):
    company: Id | None = Field(None, description="Link this existing company instead of creating one.")
    create_company: StrictBool = True
    contact: Id | None = Field(None, description="Link this existing contact instead of creating one.")
    create_contact: StrictBool = True
    create_deal: StrictBool = True
    deal: ConversionDealIn | None = Field(
        None, description="Fields of the new deal; errors name them `deal.<field>` (422)."
    )


class ConversionOut(Schema):
    lead: LeadOut
    company: int | None
    contact: int | None
    deal: int | None

    @staticmethod
    def resolve_company(obj: Conversion) -> int | None:
        return obj.company.pk if obj.company else None

    @staticmethod
    def resolve_contact(obj: Conversion) -> int | None:
        return obj.contact.pk if obj.contact else None

    @staticmethod
    def resolve_deal(obj: Conversion) -> int | None:
        return obj.deal.pk if obj.deal else None


LEAD_ROWS = Rows(LeadOut, Lead)


@router.get("/leads/", response=LeadPage, summary="List leads")
@requires(Action.VIEW, RecordType.LEAD)
def list_leads(request: HttpRequest, filters: Query[LeadFilters], page: Query[PageParams]) -> HttpResponse:
    leads = leads_visible_to(actor(request))
    if filters.status is not None:
        leads = leads.filter(status=filters.status)
    return rows_page(
        request,
        record_filter(leads, RecordType.LEAD, filters, custom_filters(request), hidden_of(request, RecordType.LEAD)),
        page,
        LEAD_ROWS,
    )


@router.post("/leads/", response={201: LeadOut}, summary="Create a lead")
@requires(Action.CREATE, RecordType.LEAD)
def create_lead(request: HttpRequest, payload: LeadIn) -> Lead:
    return lead_create(actor=actor(request), data=payload.model_dump(exclude_unset=True))


@router.get("/leads/{lead_id}", response=LeadOut, summary="Read a lead")
@requires(Action.VIEW, RecordType.LEAD, record="lead_id")
def read_lead(request: HttpRequest, lead_id: int) -> HttpResponse:
    return rows_record(request, leads_visible_to(actor(request)), lead_id, LEAD_ROWS)


@router.patch("/leads/{lead_id}", response=LeadOut, summary="Update a lead")
@requires(Action.EDIT, RecordType.LEAD, record="lead_id")
def update_lead(request: HttpRequest, lead_id: int, payload: LeadPatch) -> Lead:
    lead = lead_get(actor(request), lead_id)
    data, version = patch_data(payload)
    return lead_update(actor=actor(request), lead=lead, data=data, expected_version=version)


@router.delete("/leads/{lead_id}", response={204: None}, summary="Delete a lead")
@requires(Action.DELETE, RecordType.LEAD, record="lead_id")
def delete_lead(request: HttpRequest, lead_id: int) -> Status:
    lead_delete(actor=actor(request), lead=lead_get(actor(request), lead_id))
    return Status(204, None)


@router.post(
    "/leads/{lead_id}/convert",
    response=ConversionOut,
    summary="Convert a lead",
    description="A lead already converted is refused (422, `status`).",
)
@requires(Action.EDIT, RecordType.LEAD, record="lead_id")
def convert_lead(request: HttpRequest, lead_id: int, payload: ConversionIn) -> Conversion:
    user = actor(request)
    lead = lead_get(user, lead_id)
    company = reference(companies_visible_to(user), payload.company, "company") if payload.company else None
    contact = reference(contacts_visible_to(user), payload.contact, "contact") if payload.contact else None
    deal_data = payload.deal.model_dump(exclude_unset=True) if payload.deal else None
    try:
        return lead_convert(
            actor=user,
            lead=lead,
            company=company,
            create_company=payload.create_company,
            contact=contact,
            create_contact=payload.create_contact,
            create_deal=payload.create_deal,
            deal_data=deal_data,
        )
    except ValidationError as exc:
        if deal_data is None or not hasattr(exc, "error_dict"):
            raise
        # The new deal's errors name its fields as the body does: `deal.stage`.
        deal_fields = set(ConversionDealIn.model_fields)
        raise ValidationError(
            {
                (f"deal.{key}" if key.split(".")[0] in deal_fields and key != "status" else key): messages
                for key, messages in exc.message_dict.items()
            }
        ) from exc
