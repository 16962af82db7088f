"""Writes on leads, and conversion of a lead into a company, contact and deal in one step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.companies.models import Company
from crm.companies.services import company_create
from crm.contacts.models import Contact
from crm.contacts.services import contact_create
from crm.core.bulk import Ids, bulk_records, bulk_tag
from crm.core.normalize import normalize_contact_fields
from crm.core.services import record_create, record_delete, record_touch, record_update
from crm.core.types import RecordType
from crm.deals.models import Deal
from crm.deals.services import deal_create
from crm.history.models import ChangeRecord
from crm.history.services import history_write
from crm.leads.models import Lead
from crm.leads.selectors import leads_visible_to
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.models import User
from tenants.events.outbox import Type as EventType
from tenants.events.outbox import event_record


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("status") == Lead.Status.CONVERTED:
        raise ValidationError({"status": [_("Convert a lead with the conversion, not by setting its status.")]})
    return normalize_contact_fields(data, single=True)


@workspace_write
def lead_create(*, actor: User, data: Mapping[str, Any]) -> Lead:
    return record_create(actor=actor, model=Lead, record_type=RecordType.LEAD, data=data, normalize=_normalize)


@workspace_write
def lead_update(*, actor: User, lead: Lead, data: Mapping[str, Any], expected_version: int | None = None) -> Lead:
    if lead.status == Lead.Status.CONVERTED and set(data) - {"tags", "owner", "custom_fields"}:
        raise ValidationError({"status": [_("A converted lead cannot be edited.")]})
    return record_update(
        actor=actor,
        record=lead,
        record_type=RecordType.LEAD,
        data=data,
        normalize=_normalize,
        expected_version=expected_version,
    )


@workspace_write
def lead_delete(*, actor: User, lead: Lead) -> None:
    record_delete(actor=actor, record=lead, record_type=RecordType.LEAD)


@dataclass(frozen=True)
class Conversion:
    lead: Lead
    company: Company | None
    contact: Contact | None
    deal: Deal | None


def _split_name(full: str) -> dict[str, str]:
    parts = full.split()
    if not parts:
        return {}
    if len(parts) == 1:
        return {"first_name": parts[0]}
    return {"first_name": parts[0], "last_name": " ".join(parts[1:])}


@workspace_write
def lead_convert(
    *,
    actor: User,
    lead: Lead,
    company: Company | None = None,
    create_company: bool = True,
    contact: Contact | None = None,
    create_contact: bool = True,
    create_deal: bool = True,
    deal_data: Mapping[str, Any] | None = None,
) -> Conversion:
    """Link or create the company and contact, create the deal, and mark the lead converted, all or nothing.

    An existing company/contact given is linked; otherwise one is created from the lead's data when asked.
    The lead stays, with its history and activities, pointing at what it became.
    """
    policy.require_on(actor, policy.Action.EDIT, RecordType.LEAD, lead)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status == Lead.Status.CONVERTED:
        raise ValidationError({"status": [_("This lead is already converted.")]})
    if company is None and create_company and lead.company_name:
        company = company_create(
            actor=actor, data={"name": lead.company_name, "source": lead.source, "owner": lead.owner_id}
        )
    if contact is None and create_contact and (lead.contact_name or lead.email or lead.phone):
        contact = contact_create(
            actor=actor,
            data={
                **_split_name(lead.contact_name),
                "emails": [lead.email] if lead.email else [],
                "phones": [lead.phone] if lead.phone else [],
                "company": company.pk if company else None,
                "owner": lead.owner_id,
            },
        )
    elif contact is not None and company is not None and contact.company_id is None:
        contact.company = company
        record_touch(record=contact, fields=["company"])
    deal = None
    if create_deal:
        data = {
            "title": lead.title,
            "company": company.pk if company else None,
            "owner": lead.owner_id,
            **(deal_data or {}),
        }
        deal = deal_create(actor=actor, data=data, contacts=[contact.pk] if contact else [])
    lead.status = Lead.Status.CONVERTED
    lead.converted_at = timezone.now()
    lead.company = company
    lead.contact = contact
    lead.deal = deal
    record_touch(record=lead, fields=["status", "converted_at", "company", "contact", "deal"])
    # The lead's activities follow it to what it became, so the client's card tells the whole story.
    if company or contact or deal:
        lead.activities.update(company=company, contact=contact, deal=deal)
    history_write(
        actor=actor,
        record_type=RecordType.LEAD,
        record_id=lead.pk,
        action=ChangeRecord.Action.CONVERTED,
        changes=[
            {"field": name, "label": label, "old": None, "new": str(obj)}
            for name, label, obj in (
                ("company", _("company"), company),
                ("contact", _("contact"), contact),
                ("deal", _("deal"), deal),
            )
            if obj is not None
        ],
    )
    event_record(
        type=EventType.LEAD_CONVERTED,
        kind=RecordType.LEAD.value,
        record=lead,
        actor=actor,
        fields=["status", "converted_at", "company", "contact", "deal"],
        context={"company_id": lead.company_id, "contact_id": lead.contact_id, "deal_id": lead.deal_id},
    )
    return Conversion(lead=lead, company=company, contact=contact, deal=deal)


# --- bulk actions from the lists: each record goes through its own service, so history and search stay right.


@workspace_write
def lead_bulk_assign_owner(*, actor: User, ids: Ids, owner: User) -> int:
    leads = bulk_records(leads_visible_to(actor), ids)
    for lead in leads:
        lead_update(actor=actor, lead=lead, data={"owner": owner.pk})
    return len(leads)


@workspace_write
def lead_bulk_add_tag(*, actor: User, ids: Ids, tag: str) -> int:
    tag = bulk_tag(tag)
    leads = bulk_records(leads_visible_to(actor), ids)
    for lead in leads:
        if tag not in lead.tags:
            lead_update(actor=actor, lead=lead, data={"tags": [*lead.tags, tag]})
    return len(leads)


@workspace_write
def lead_bulk_delete(*, actor: User, ids: Ids) -> int:
    leads = bulk_records(leads_visible_to(actor), ids)
    for lead in leads:
        lead_delete(actor=actor, lead=lead)
    return len(leads)
