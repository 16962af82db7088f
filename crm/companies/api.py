"""REST endpoints for companies: /api/v1/companies/."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to, company_get
from crm.companies.services import company_create, company_delete, company_update
from crm.core.api import (
    CUSTOM_FILTER_PATHS,
    EMAILS,
    LONG_TEXT,
    TAX_ID,
    WEBSITE,
    ClearableText,
    Emails,
    Name,
    PageParams,
    Phones,
    RecordFilters,
    RecordIn,
    RecordOut,
    RecordPatch,
    Text,
    actor,
    custom_filters,
    hidden_of,
    patch_data,
    record_filter,
    rows_page,
    rows_record,
    unset,
    with_custom_fields,
)
from crm.core.api_access import requires
from crm.core.rows import Rows
from crm.core.types import RecordType
from tenants.accounts.policy import Action

router = Router(tags=["companies"])
CUSTOM_FILTER_PATHS["/companies/"] = RecordType.COMPANY


@with_custom_fields(RecordType.COMPANY, "out")
class CompanyOut(RecordOut):
    name: str
    legal_name: str
    tax_id: str
    registration_id: str
    legal_address: str
    actual_address: str
    website: str
    phones: list[str] = Field(description="E.164.")
    emails: list[str]
    industry: str
    source: str
    notes: str


@with_custom_fields(RecordType.COMPANY, "in")
class CompanyIn(RecordIn):
    name: Name = Field(max_length=255)
    legal_name: Text = Field("", max_length=255)
    tax_id: Text = Field("", max_length=32, description=TAX_ID)
    registration_id: Text = Field("", max_length=32, description=TAX_ID)
    legal_address: Text = Field("", max_length=LONG_TEXT)
    actual_address: Text = Field("", max_length=LONG_TEXT)
    website: Text = Field("", max_length=200, description=WEBSITE)
    phones: Phones = Field(default_factory=list)
    emails: Emails = Field(default_factory=list, description=EMAILS)
    industry: Text = Field("", max_length=100)
    source: Text = Field("", max_length=100)
    notes: Text = Field("", max_length=LONG_TEXT)


@with_custom_fields(RecordType.COMPANY, "patch")
class CompanyPatch(RecordPatch):
    name: Name = unset(max_length=255)
    legal_name: ClearableText = Field(None, max_length=255)
    tax_id: ClearableText = Field(None, max_length=32, description=TAX_ID)
    registration_id: ClearableText = Field(None, max_length=32, description=TAX_ID)
    legal_address: ClearableText = Field(None, max_length=LONG_TEXT)
    actual_address: ClearableText = Field(None, max_length=LONG_TEXT)
    website: ClearableText = Field(None, max_length=200, description=WEBSITE)
    phones: Phones | None = None
    emails: Emails | None = Field(None, description=EMAILS)
    industry: ClearableText = Field(None, max_length=100)
    source: ClearableText = Field(None, max_length=100)
    notes: ClearableText = Field(None, max_length=LONG_TEXT)


COMPANY_ROWS = Rows(CompanyOut, Company)


class CompanyPage(Schema):
    items: list[CompanyOut]
    next_cursor: str | None


@router.get("/companies/", response=CompanyPage, summary="List companies")
@requires(Action.VIEW, RecordType.COMPANY)
def list_companies(request: HttpRequest, filters: Query[RecordFilters], page: Query[PageParams]) -> HttpResponse:
    companies = record_filter(
        companies_visible_to(actor(request)),
        RecordType.COMPANY,
        filters,
        custom_filters(request),
        hidden_of(request, RecordType.COMPANY),
    )
    return rows_page(request, companies, page, COMPANY_ROWS)


@router.post("/companies/", response={201: CompanyOut}, summary="Create a company")
@requires(Action.CREATE, RecordType.COMPANY)
def create_company(request: HttpRequest, payload: CompanyIn) -> Company:
    return company_create(actor=actor(request), data=payload.model_dump(exclude_unset=True))


@router.get("/companies/{company_id}", response=CompanyOut, summary="Read a company")
@requires(Action.VIEW, RecordType.COMPANY, record="company_id")
def read_company(request: HttpRequest, company_id: int) -> HttpResponse:
    return rows_record(request, companies_visible_to(actor(request)), company_id, COMPANY_ROWS)


@router.patch("/companies/{company_id}", response=CompanyOut, summary="Update a company")
@requires(Action.EDIT, RecordType.COMPANY, record="company_id")
def update_company(request: HttpRequest, company_id: int, payload: CompanyPatch) -> Company:
    company = company_get(actor(request), company_id)
    data, version = patch_data(payload)
    return company_update(actor=actor(request), company=company, data=data, expected_version=version)


@router.delete("/companies/{company_id}", response={204: None}, summary="Delete a company")
@requires(Action.DELETE, RecordType.COMPANY, record="company_id")
def delete_company(request: HttpRequest, company_id: int) -> Status:
    company_delete(actor=actor(request), company=company_get(actor(request), company_id))
    return Status(204, None)
