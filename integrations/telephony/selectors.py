"""Reads for telephony: a connection's calls, the CRM records a number belongs to (as the connection's identity
sees them, through the CRM's own scoped selectors), and the line a person calls from."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to
from crm.contacts.models import Contact
from crm.contacts.selectors import contacts_visible_to
from crm.leads.models import Lead
from crm.leads.selectors import leads_visible_to
from integrations.core.models import Connection
from integrations.telephony.kinds import KINDS
from integrations.telephony.models import Call
from tenants.accounts.models import User


def calls_of(conn: Connection) -> QuerySet[Call]:
    return Call.objects.filter(connection=conn).select_related("user", "contact", "company", "lead")


@dataclass(frozen=True)
class Match:
    contact: Contact | None = None
    company: Company | None = None
    lead: Lead | None = None


def records_of_number(identity: User, e164: str) -> Match:
    """The contact (and its company), else the company, else the open lead with this number: the oldest first,
    among what `identity` may see."""
    if not e164:
        return Match()
    contact = (
        contacts_visible_to(identity)
        .filter(phones__contains=[e164])
        .select_related("company", "owner")
        .order_by("id")
        .first()
    )
    if contact is not None:
        return Match(contact=contact, company=contact.company)
    company = (
        companies_visible_to(identity).filter(phones__contains=[e164]).select_related("owner").order_by("id").first()
    )
    if company is not None:
        return Match(company=company)
    lead = (
        leads_visible_to(identity)
        .filter(phone=e164)
        .exclude(status__in=[Lead.Status.CONVERTED, Lead.Status.REJECTED])
        .select_related("owner")
        .order_by("-id")
        .first()
    )
    return Match(lead=lead)


def person(pk: object) -> User | None:
    if not isinstance(pk, int):
        return None
    return User.objects.filter(pk=pk, kind=User.Kind.PERSON, is_active=True).first()


@dataclass(frozen=True)
class Line:
    connection: Connection
    extension: str


def line_of(user: User) -> Line | None:
    """The active telephony connection where `user` has an extension (the first by name), and that extension."""
    if not user.is_authenticated:
        return None
    for conn in (
        Connection.objects.filter(kind__in=KINDS, is_active=True).select_related("identity").order_by("name", "id")
    ):
        for ext, pk in (conn.settings.get("extensions") or {}).items():
            if pk == user.pk:
                return Line(connection=conn, extension=str(ext))
    return None
