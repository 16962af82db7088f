"""A workspace where a role hides deal amounts, contact phones and emails and a company custom field, with
records that carry recognisable values, for the field hiding tests of the pages, the API, search and exports."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django_tenants.utils import tenant_context

from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.core.types import RecordType
from crm.customfields.services import custom_field_create
from crm.deals.models import Deal
from crm.deals.services import pipelines_ensure_default
from tenants.accounts.models import Role, User
from tenants.accounts.roles import ACTIONS
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD, Workspace
from tests.factories import CompanyFactory, ContactFactory, DealFactory

AMOUNT = Decimal("12345.67")
# How the amount could appear: plain, grouped by locale, its cents.
AMOUNT_TEXTS = ("12345", "12,345", "12 345", "12\xa0345", "12\u202f345", "345.67", "345,67")
PHONE = "+79161234567"
PHONE_DIGITS = "9161234567"
PHONE_SHOWN = "123-45-67"  # how the phone is shown: +7 916 123-45-67
EMAIL = "ivan.secretov@hidden.test"
CF_VALUE = "Platinum-Secret-Tier"
HIDDEN = {"deal": ["amount"], "contact": ["phones", "emails"], "company": []}


@dataclass
class Hiding:
    workspace: Workspace
    role: Role
    member: User  # sees every record, but not the hidden fields
    company: Company
    contact: Contact
    deal: Deal
    cf_key: str


def hiding_role(*, cf_key: str, export: str = "none", name: str = "Amount-blind") -> Role:
    """Sees and works every record; hides deal amounts, contact phones and emails and a company field."""
    grants = {str(t): {a: ("all" if a != "export" else export) for a in ACTIONS} for t in RecordType}
    hidden = {**HIDDEN, "company": [f"cf:{cf_key}"]}
    return Role.objects.create(name=name, grants=grants, hidden_fields=hidden)


def make_hiding(workspace: Workspace, *, export: str = "none") -> Hiding:
    with tenant_context(workspace.tenant):
        pipelines_ensure_default()
        field = custom_field_create(
            actor=workspace.owner, record_type="company", label="Tier", field_type="text", show_in_list=True
        )
        role = hiding_role(cf_key=field.key, export=export)
        member = user_create(email="blind@example.com", password=PASSWORD, full_name="Blind Member", role=role)
        company = CompanyFactory(name="Hidden Values Co", owner=workspace.owner, custom_fields={field.key: CF_VALUE})
        contact = ContactFactory(
            company=company, first_name="Ivan", last_name="Secretov", phones=[PHONE], emails=[EMAIL]
        )
        deal = DealFactory(title="Big secret deal", company=company, amount=AMOUNT, owner=workspace.owner)
    connection.set_schema_to_public()
    return Hiding(workspace, role, member, company, contact, deal, field.key)


def assert_nothing_hidden_in(text: str) -> None:
    for value in (*AMOUNT_TEXTS, PHONE, PHONE_DIGITS, PHONE_SHOWN, EMAIL, CF_VALUE):
        assert value not in text, value


def body(response: Any) -> str:
    connection.set_schema_to_public()
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8")
    return response.content.decode()
