"""REST endpoints for contacts: /api/v1/contacts/."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool

from crm.contacts.models import FULL_NAME_COLUMNS, Contact, contact_full_name
from crm.contacts.selectors import contact_get, contacts_visible_to
from crm.contacts.services import contact_create, contact_delete, contact_update
from crm.core.api import (
    CUSTOM_FILTER_PATHS,
    EMAILS,
    LONG_TEXT,
    ClearableText,
    Emails,
    Id,
    IdParam,
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
    with_custom_fields,
)
from crm.core.api_access import requires
from crm.core.rows import Rows
from crm.core.types import RecordType
from tenants.accounts.policy import Action

router = Router(tags=["contacts"])
ONE_OF = "A contact needs a name, an email or a phone (422 otherwise)."
CUSTOM_FILTER_PATHS["/contacts/"] = RecordType.CONTACT


@with_custom_fields(RecordType.CONTACT, "out")
class ContactOut(RecordOut):
    first_name: str
    middle_name: str
    last_name: str
    full_name: str
    position: str
    company: int | None
    phones: list[str] = Field(description="E.164.")
    emails: list[str]
    consent_to_contact: bool
    consent_at: datetime.datetime | None
    notes: str

    @staticmethod
    def resolve_company(obj: Contact) -> int | None:
        return obj.company_id


@with_custom_fields(RecordType.CONTACT, "in")
class ContactIn(RecordIn):
    first_name: Text = Field("", max_length=100)
    middle_name: Text = Field("", max_length=100)
    last_name: Text = Field("", max_length=100, description=ONE_OF)
    position: Text = Field("", max_length=150)
    company: Id | None = Field(None, description="Id of the contact's company.")
    phones: Phones = Field(default_factory=list)
    emails: Emails = Field(default_factory=list, description=EMAILS)
    consent_to_contact: StrictBool = False
    notes: Text = Field("", max_length=LONG_TEXT)


@with_custom_fields(RecordType.CONTACT, "patch")
class ContactPatch(RecordPatch):
    first_name: ClearableText = Field(None, max_length=100)
    middle_name: ClearableText = Field(None, max_length=100)
    last_name: ClearableText = Field(None, max_length=100, description=ONE_OF)
    position: ClearableText = Field(None, max_length=150)
    company: Id | None = None
    phones: Phones | None = None
    emails: Emails | None = Field(None, description=EMAILS)
    consent_to_contact: StrictBool | None = None
    notes: ClearableText = Field(None, max_length=LONG_TEXT)


CONTACT_ROWS = Rows(ContactOut, Contact, computed={"full_name": (FULL_NAME_COLUMNS, contact_full_name)})


class ContactFilters(RecordFilters):
    company: IdParam | None = None


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


@router.get("/contacts/", response=ContactPage, summary="List contacts")
@requires(Action.VIEW, RecordType.CONTACT)
def list_contacts(request: HttpRequest, filters: Query[ContactFilters], page: Query[PageParams]) -> HttpResponse:
    contacts = contacts_visible_to(actor(request))
    if filters.company is not None:
        contacts = contacts.filter(company_id=filters.company)
    return rows_page(
        request,
        record_filter(
            contacts, RecordType.CONTACT, filters, custom_filters(request), hidden_of(request, RecordType.CONTACT)
        ),
        page,
        CONTACT_ROWS,
    )


@router.post("/contacts/", response={201: ContactOut}, summary="Create a contact")
@requires(Action.CREATE, RecordType.CONTACT)
def create_contact(request: HttpRequest, payload: ContactIn) -> Contact:
    return contact_create(actor=actor(request), data=payload.model_dump(exclude_unset=True))


@router.get("/contacts/{contact_id}", response=ContactOut, summary="Read a contact")
@requires(Action.VIEW, RecordType.CONTACT, record="contact_id")
def read_contact(request: HttpRequest, contact_id: int) -> HttpResponse:
    return rows_record(request, contacts_visible_to(actor(request)), contact_id, CONTACT_ROWS)


@router.patch("/contacts/{contact_id}", response=ContactOut, summary="Update a contact")
@requires(Action.EDIT, RecordType.CONTACT, record="contact_id")
def update_contact(request: HttpRequest, contact_id: int, payload: ContactPatch) -> Contact:
    contact = contact_get(actor(request), contact_id)
    data, version = patch_data(payload)
    return contact_update(actor=actor(request), contact=contact, data=data, expected_version=version)


@router.delete("/contacts/{contact_id}", response={204: None}, summary="Delete a contact")
@requires(Action.DELETE, RecordType.CONTACT, record="contact_id")
def delete_contact(request: HttpRequest, contact_id: int) -> Status:
    contact_delete(actor=actor(request), contact=contact_get(actor(request), contact_id))
    return Status(204, None)
