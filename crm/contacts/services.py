"""Writes on contacts: create, update, delete, merge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.contacts.models import Contact
from crm.contacts.selectors import contacts_visible_to
from crm.core.bulk import Ids, bulk_records, bulk_tag
from crm.core.normalize import normalize_contact_fields
from crm.core.services import merge_finish, merge_fold, record_create, record_delete, record_update
from crm.core.types import RecordType
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.models import User


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    data = normalize_contact_fields(data)
    # Consent is a fact with a date: record when it was given, forget the date when it is withdrawn.
    if "consent_to_contact" in data:
        data.setdefault("consent_at", timezone.now() if data["consent_to_contact"] else None)
    return data


@workspace_write
def contact_create(*, actor: User, data: Mapping[str, Any]) -> Contact:
    contact = record_create(actor=actor, model=Contact, record_type=RecordType.CONTACT, data=data, normalize=_normalize)
    _require_a_name(contact)
    return contact


@workspace_write
def contact_update(
    *, actor: User, contact: Contact, data: Mapping[str, Any], expected_version: int | None = None
) -> Contact:
    if "consent_to_contact" in data and bool(data["consent_to_contact"]) == contact.consent_to_contact:
        data = {k: v for k, v in data.items() if k != "consent_to_contact"}
    contact = record_update(
        actor=actor,
        record=contact,
        record_type=RecordType.CONTACT,
        data=data,
        normalize=_normalize,
        expected_version=expected_version,
    )
    _require_a_name(contact)
    return contact


def _require_a_name(contact: Contact) -> None:
    if not (contact.first_name or contact.last_name or contact.emails or contact.phones):
        raise ValidationError({"last_name": [_("Give a name, an email or a phone.")]})


@workspace_write
def contact_delete(*, actor: User, contact: Contact) -> None:
    record_delete(actor=actor, record=contact, record_type=RecordType.CONTACT)


@workspace_write
def contact_merge(*, actor: User, survivor: Contact, duplicate: Contact) -> Contact:
    """Fold `duplicate` into `survivor`: deals, leads, activities, files and history move over."""
    policy.require_on(actor, policy.Action.EDIT, RecordType.CONTACT, survivor)
    policy.require_on(actor, policy.Action.DELETE, RecordType.CONTACT, duplicate)
    if survivor.pk == duplicate.pk:
        raise ValidationError({"duplicate": [_("A contact cannot be merged with itself.")]})
    survivor = Contact.objects.select_for_update().get(pk=survivor.pk)
    duplicate = Contact.objects.select_for_update().get(pk=duplicate.pk)
    filled = merge_fold(
        survivor=survivor,
        duplicate=duplicate,
        blanks=("first_name", "middle_name", "last_name", "position", "company_id", "owner_id", "consent_at"),
    )
    if duplicate.consent_to_contact and not survivor.consent_to_contact:
        survivor.consent_to_contact = True
        filled.append("consent_to_contact")
    deal_ids = list(duplicate.deals.values_list("pk", flat=True))
    survivor.deals.add(*deal_ids)
    moved = {
        "deals": len(deal_ids),
        "leads": duplicate.leads.update(contact=survivor),
        "activities": duplicate.activities.update(contact=survivor),
        "files": duplicate.attachments.update(contact=survivor),
    }
    return merge_finish(
        actor=actor,
        record_type=RecordType.CONTACT,
        survivor=survivor,
        duplicate=duplicate,
        filled=filled,
        moved=moved,
    )


# --- bulk actions from the lists: each record goes through its own service, so history and search stay right.


@workspace_write
def contact_bulk_assign_owner(*, actor: User, ids: Ids, owner: User) -> int:
    contacts = bulk_records(contacts_visible_to(actor), ids)
    for contact in contacts:
        contact_update(actor=actor, contact=contact, data={"owner": owner.pk})
    return len(contacts)


@workspace_write
def contact_bulk_add_tag(*, actor: User, ids: Ids, tag: str) -> int:
    tag = bulk_tag(tag)
    contacts = bulk_records(contacts_visible_to(actor), ids)
    for contact in contacts:
        if tag not in contact.tags:
            contact_update(actor=actor, contact=contact, data={"tags": [*contact.tags, tag]})
    return len(contacts)


@workspace_write
def contact_bulk_delete(*, actor: User, ids: Ids) -> int:
    contacts = bulk_records(contacts_visible_to(actor), ids)
    for contact in contacts:
        contact_delete(actor=actor, contact=contact)
    return len(contacts)
