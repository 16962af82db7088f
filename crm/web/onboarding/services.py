"""Sample data for a new workspace's guided start: a few marked records to try the CRM on, and their removal in
one step. Every record is made and removed through its own service (history, search, audit, events), and
each is marked in `SampleRecord`, so removing takes exactly those and nothing the team added."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.activities.models import Activity
from crm.activities.services import activity_create, activity_delete
from crm.companies.models import Company
from crm.companies.services import company_create, company_delete
from crm.contacts.models import Contact
from crm.contacts.services import contact_create, contact_delete
from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline
from crm.deals.services import deal_create, deal_delete
from crm.leads.models import Lead
from crm.leads.services import lead_create, lead_delete
from crm.web.models import SampleRecord
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.models import User

SAMPLE_TAG = "sample"
# Removed in this order: what hangs on a record goes before it.
_REMOVAL: tuple[tuple[RecordType, type[Model], Callable[..., None], str], ...] = (
    (RecordType.ACTIVITY, Activity, activity_delete, "activity"),
    (RecordType.DEAL, Deal, deal_delete, "deal"),
    (RecordType.LEAD, Lead, lead_delete, "lead"),
    (RecordType.CONTACT, Contact, contact_delete, "contact"),
    (RecordType.COMPANY, Company, company_delete, "company"),
)


def _require_administrator(actor: User) -> None:
    if not policy.has_permission(actor, policy.WorkspacePermission.MANAGE_USERS):
        raise PermissionDenied


def _mark(record_type: RecordType, *records: Model) -> None:
    SampleRecord.objects.bulk_create(SampleRecord(record_type=record_type, record_id=r.pk) for r in records)


@workspace_write
def sample_data_add(*, actor: User) -> int:
    """Add a few sample companies, contacts, deals, a lead and tasks, owned by the actor and tagged "sample".
    Refused while sample data is already there. Returns how many records were made."""
    _require_administrator(actor)
    if SampleRecord.objects.exists():
        raise ValidationError(_("The sample data is already here."))
    tags = [SAMPLE_TAG]
    owner = actor.pk
    romashka = company_create(
        actor=actor,
        data={
            "name": "Ромашка ООО",
            "industry": _("Retail"),
            "phones": ["+7 495 123-45-67"],
            "emails": ["info@romashka.example"],
            "tags": tags,
            "owner": owner,
        },
    )
    vector = company_create(
        actor=actor,
        data={"name": "Vector Logistics Ltd", "industry": _("Logistics"), "tags": tags, "owner": owner},
    )
    lumiere = company_create(
        actor=actor,
        data={"name": "Lumière SARL", "industry": _("Manufacturing"), "tags": tags, "owner": owner},
    )
    companies = [romashka, vector, lumiere]
    anna = contact_create(
        actor=actor,
        data={
            "first_name": "Анна",
            "last_name": "Иванова",
            "position": _("Purchasing manager"),
            "company": romashka.pk,
            "emails": ["anna@romashka.example"],
            "tags": tags,
            "owner": owner,
        },
    )
    john = contact_create(
        actor=actor,
        data={"first_name": "John", "last_name": "Carter", "company": vector.pk, "tags": tags, "owner": owner},
    )
    claire = contact_create(
        actor=actor,
        data={"first_name": "Claire", "last_name": "Martin", "company": lumiere.pk, "tags": tags, "owner": owner},
    )
    contacts = [anna, john, claire]
    deals = []
    if Pipeline.objects.filter(is_active=True).exists():
        for company, contact, title, amount, currency in (
            (romashka, anna, _("Office chairs, 40 pcs"), "480000.00", "RUB"),
            (vector, john, _("Warehouse shelving"), "12500.00", "EUR"),
            (lumiere, claire, _("Annual service contract"), "9000.00", "EUR"),
        ):
            deals.append(
                deal_create(
                    actor=actor,
                    data={
                        "title": title,
                        "company": company.pk,
                        "amount": Decimal(amount),
                        "currency": currency,
                        "tags": tags,
                        "owner": owner,
                    },
                    contacts=[contact.pk],
                )
            )
    lead = lead_create(
        actor=actor,
        data={
            "title": _("Request from the website"),
            "contact_name": "Pierre Dubois",
            "company_name": "Dubois & Fils",
            "email": "pierre@dubois.example",
            "source": _("Website"),
            "tags": tags,
            "owner": owner,
        },
    )
    now = timezone.now()
    activities = [
        activity_create(
            actor=actor,
            data={
                "kind": Activity.Kind.CALL,
                "subject": _("Call Anna about the chairs"),
                "company": romashka.pk,
                "contact": anna.pk,
                "deal": deals[0].pk if deals else None,
                "due_at": now + datetime.timedelta(hours=2),
            },
        ),
        activity_create(
            actor=actor,
            data={
                "kind": Activity.Kind.TASK,
                "subject": _("Send the offer to Vector"),
                "company": vector.pk,
                "deal": deals[1].pk if deals else None,
                "due_at": now + datetime.timedelta(days=1),
            },
        ),
        activity_create(
            actor=actor,
            data={
                "kind": Activity.Kind.NOTE,
                "subject": _("Met Claire at the trade fair"),
                "company": lumiere.pk,
                "contact": claire.pk,
            },
        ),
    ]
    _mark(RecordType.COMPANY, *companies)
    _mark(RecordType.CONTACT, *contacts)
    _mark(RecordType.DEAL, *deals)
    _mark(RecordType.LEAD, lead)
    _mark(RecordType.ACTIVITY, *activities)
    return len(companies) + len(contacts) + len(deals) + 1 + len(activities)


@workspace_write
def sample_data_remove(*, actor: User) -> int:
    """Remove exactly the records `sample_data_add` made (those still there), each through its delete service,
    and their marks. Returns how many records were removed."""
    _require_administrator(actor)
    removed = 0
    for record_type, model, delete, keyword in _REMOVAL:
        ids = SampleRecord.objects.filter(record_type=record_type).values_list("record_id", flat=True)
        for record in model._default_manager.filter(pk__in=list(ids)).order_by("pk"):
            delete(actor=actor, **{keyword: record})
            removed += 1
    SampleRecord.objects.all().delete()
    return removed
