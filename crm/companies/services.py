"""Writes on companies: create, update, delete, merge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to
from crm.core.bulk import Ids, bulk_records, bulk_tag
from crm.core.normalize import normalize_contact_fields
from crm.core.services import merge_finish, merge_fold, record_create, record_delete, record_update
from crm.core.types import RecordType
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.models import User


@workspace_write
def company_create(*, actor: User, data: Mapping[str, Any]) -> Company:
    return record_create(
        actor=actor, model=Company, record_type=RecordType.COMPANY, data=data, normalize=normalize_contact_fields
    )


@workspace_write
def company_update(
    *, actor: User, company: Company, data: Mapping[str, Any], expected_version: int | None = None
) -> Company:
    return record_update(
        actor=actor,
        record=company,
        record_type=RecordType.COMPANY,
        data=data,
        normalize=normalize_contact_fields,
        expected_version=expected_version,
    )


@workspace_write
def company_delete(*, actor: User, company: Company) -> None:
    record_delete(actor=actor, record=company, record_type=RecordType.COMPANY)


_FILLABLE = (
    "legal_name",
    "tax_id",
    "registration_id",
    "legal_address",
    "actual_address",
    "website",
    "industry",
    "source",
    "owner_id",
)


@workspace_write
def company_merge(*, actor: User, survivor: Company, duplicate: Company) -> Company:
    """Fold `duplicate` into `survivor`: contacts, deals, leads, activities, files and history move over,
    blank fields are filled, lists are united; the duplicate is deleted and the merge is in the history."""
    policy.require_on(actor, policy.Action.EDIT, RecordType.COMPANY, survivor)
    policy.require_on(actor, policy.Action.DELETE, RecordType.COMPANY, duplicate)
    if survivor.pk == duplicate.pk:
        raise ValidationError({"duplicate": [_("A company cannot be merged with itself.")]})
    survivor = Company.objects.select_for_update().get(pk=survivor.pk)
    duplicate = Company.objects.select_for_update().get(pk=duplicate.pk)
    filled = merge_fold(survivor=survivor, duplicate=duplicate, blanks=_FILLABLE)
    moved = {
        "contacts": duplicate.contacts.update(company=survivor),
        "deals": duplicate.deals.update(company=survivor),
        "leads": duplicate.leads.update(company=survivor),
        "activities": duplicate.activities.update(company=survivor),
        "files": duplicate.attachments.update(company=survivor),
    }
    return merge_finish(
        actor=actor,
        record_type=RecordType.COMPANY,
        survivor=survivor,
        duplicate=duplicate,
        filled=filled,
        moved=moved,
    )


# --- bulk actions from the lists: each record goes through its own service, so history and search stay right.


@workspace_write
def company_bulk_assign_owner(*, actor: User, ids: Ids, owner: User) -> int:
    companies = bulk_records(companies_visible_to(actor), ids)
    for company in companies:
        company_update(actor=actor, company=company, data={"owner": owner.pk})
    return len(companies)


@workspace_write
def company_bulk_add_tag(*, actor: User, ids: Ids, tag: str) -> int:
    tag = bulk_tag(tag)
    companies = bulk_records(companies_visible_to(actor), ids)
    for company in companies:
        if tag not in company.tags:
            company_update(actor=actor, company=company, data={"tags": [*company.tags, tag]})
    return len(companies)


@workspace_write
def company_bulk_delete(*, actor: User, ids: Ids) -> int:
    companies = bulk_records(companies_visible_to(actor), ids)
    for company in companies:
        company_delete(actor=actor, company=company)
    return len(companies)
