"""Record services: validation, normalization, history, search index, optimistic concurrency."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.companies.models import Company
from crm.companies.services import company_create, company_update
from crm.contacts.services import contact_create, contact_update
from crm.core.services import StaleVersion
from crm.core.types import RecordType
from crm.history.models import ChangeRecord
from crm.history.selectors import history_of
from crm.search.models import SearchTerm
from crm.search.selectors import global_search

pytestmark = pytest.mark.django_db


def test_company_create_normalizes_and_indexes(in_workspace) -> None:
    owner = in_workspace.owner
    company = company_create(
        actor=owner,
        data={
            "name": "Romashka LLC",
            "tax_id": " 7701 234567 ",
            "phones": ["8 (916) 123-45-67"],
            "emails": ["Sales@Romashka.RU"],
            "website": "romashka.ru",
            "tags": ["VIP", "vip", " key "],
        },
    )
    assert company.tax_id == "7701234567"
    assert company.phones == ["+79161234567"]
    assert company.emails == ["sales@romashka.ru"]
    assert company.website == "https://romashka.ru"
    assert company.tags == ["vip", "key"]
    assert company.owner == owner and company.created_by == owner
    terms = set(SearchTerm.objects.filter(record_type="company", record_id=company.pk).values_list("term", flat=True))
    assert {"romashka", "llc", "7701234567", "79161234567", "9161234567", "sales@romashka.ru"} <= terms
    [created] = history_of(record_type=RecordType.COMPANY, record_id=company.pk)
    assert created.action == ChangeRecord.Action.CREATED and created.actor == owner


def test_bad_input_is_a_field_error_and_saves_nothing(in_workspace) -> None:
    with pytest.raises(ValidationError) as exc:
        company_create(actor=in_workspace.owner, data={"name": "", "phones": ["12"], "emails": ["nope"]})
    assert {"name", "phones", "emails"} <= set(exc.value.message_dict)
    assert not Company.objects.exists()
    assert not SearchTerm.objects.exists()


def test_unknown_or_protected_fields_are_refused(in_workspace) -> None:
    with pytest.raises(ValidationError) as exc:
        company_create(actor=in_workspace.owner, data={"name": "X", "version": 7, "hacker": 1})
    assert set(exc.value.message_dict) == {"version", "hacker"}


def test_update_writes_field_level_history_and_reindexes(in_workspace) -> None:
    owner = in_workspace.owner
    company = company_create(actor=owner, data={"name": "Alpha"})
    company_update(actor=owner, company=company, data={"name": "Beta Trading", "industry": "Retail"})
    latest = history_of(record_type=RecordType.COMPANY, record_id=company.pk).first()
    assert latest.action == ChangeRecord.Action.UPDATED
    assert {(c["field"], c["old"], c["new"]) for c in latest.changes} == {
        ("name", "Alpha", "Beta Trading"),
        ("industry", "", "Retail"),
    }
    assert company.version == 2
    assert [h.title for h in global_search(owner, "beta")] == ["Beta Trading"]
    assert global_search(owner, "alpha") == []


def test_no_change_writes_no_history(in_workspace) -> None:
    company = company_create(actor=in_workspace.owner, data={"name": "Same"})
    company_update(actor=in_workspace.owner, company=company, data={"name": "Same"})
    assert history_of(record_type=RecordType.COMPANY, record_id=company.pk).count() == 1
    assert company.version == 1


def test_stale_update_is_refused(in_workspace) -> None:
    company = company_create(actor=in_workspace.owner, data={"name": "V"})
    company_update(actor=in_workspace.owner, company=company, data={"name": "V2"}, expected_version=1)
    with pytest.raises(StaleVersion):
        company_update(actor=in_workspace.owner, company=company, data={"name": "V3"}, expected_version=1)
    company.refresh_from_db()
    assert company.name == "V2"


def test_contact_phones_are_e164_and_invalid_numbers_are_field_errors(in_workspace) -> None:
    contact = contact_create(
        actor=in_workspace.owner,
        data={"first_name": "Ivan", "last_name": "Petrov", "phones": ["+44 20 7946 0958", "8-916-000-11-22"]},
    )
    assert contact.phones == ["+442079460958", "+79160001122"]
    with pytest.raises(ValidationError) as exc:
        contact_update(actor=in_workspace.owner, contact=contact, data={"phones": ["+7 123"]})
    assert "phones" in exc.value.message_dict
    contact.refresh_from_db()
    assert contact.phones == ["+442079460958", "+79160001122"]


def test_search_by_phone_in_any_format(in_workspace) -> None:
    contact_create(actor=in_workspace.owner, data={"first_name": "Olga", "phones": ["+7 916 555-44-33"]})
    for query in ("+79165554433", "8 916 555 44 33", "9165554433", "916555"):
        assert [h.title for h in global_search(in_workspace.owner, query)] == ["Olga"], query


def test_consent_is_dated(in_workspace) -> None:
    contact = contact_create(actor=in_workspace.owner, data={"first_name": "A", "consent_to_contact": True})
    assert contact.consent_at is not None
    contact_update(actor=in_workspace.owner, contact=contact, data={"consent_to_contact": False})
    assert contact.consent_at is None


def test_a_write_cannot_link_a_record_the_actor_may_not_see(in_workspace) -> None:
    """A record hidden from the actor is "no such record" in writes too: it can neither be linked nor probed."""
    from crm.activities.models import Activity
    from crm.activities.services import activity_create
    from crm.contacts.models import Contact
    from crm.deals.models import Deal
    from crm.deals.services import deal_create
    from crm.leads.models import Lead
    from crm.leads.services import lead_create
    from tenants.accounts.models import Role
    from tenants.accounts.services import user_create
    from tests.conftest import PASSWORD
    from tests.factories import CompanyFactory, ContactFactory

    company, contact = CompanyFactory(), ContactFactory()
    # A role that works deals and activities but sees no company or contact at all.
    role = Role.objects.create(
        name="Deals only",
        grants={t: dict.fromkeys(("view", "create", "edit"), "all") for t in ("deal", "activity", "lead")},
    )
    member = user_create(email="member@example.com", password=PASSWORD, role=role)
    contacts_before = Contact.objects.count()

    with pytest.raises(ValidationError) as exc:
        lead_create(actor=member, data={"title": "Probe", "company": company.pk})
    assert exc.value.message_dict == {"company": ["There is no such company."]}
    with pytest.raises(ValidationError) as exc:
        deal_create(actor=member, data={"title": "Probe"}, contacts=[contact.pk])
    assert set(exc.value.message_dict) == {"contacts"}
    with pytest.raises(ValidationError) as exc:
        activity_create(actor=member, data={"subject": "Probe", "company": company.pk})
    assert exc.value.message_dict == {"company": ["There is no such company."]}
    deal = deal_create(actor=in_workspace.owner, data={"title": "Owner's"})
    with pytest.raises(ValidationError):
        from crm.deals.services import deal_update

        deal_update(actor=member, deal=deal, data={"company": company.pk})
    deal.refresh_from_db()
    assert deal.company_id is None
    assert Contact.objects.count() == contacts_before
    assert not Deal.objects.filter(title="Probe").exists() and not Activity.objects.exists()
    assert not Lead.objects.filter(title="Probe").exists()
