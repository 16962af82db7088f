"""Lead conversion, merging duplicates, custom fields."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.activities.models import Activity
from crm.activities.services import activity_create
from crm.companies.models import Company
from crm.companies.services import company_create, company_merge, company_update
from crm.contacts.models import Contact
from crm.contacts.services import contact_create, contact_merge
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.customfields.services import custom_field_create, custom_field_delete, custom_field_update
from crm.deals.services import deal_create
from crm.history.models import ChangeRecord
from crm.history.selectors import history_of
from crm.leads.models import Lead
from crm.leads.services import lead_convert, lead_create
from crm.search.duplicates import company_duplicates, contact_duplicates
from crm.search.selectors import global_search
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_lead_conversion_creates_company_contact_and_deal_in_one_step(in_workspace) -> None:
    owner = in_workspace.owner
    lead = lead_create(
        actor=owner,
        data={
            "title": "Need 200 chairs",
            "contact_name": "Anna Smirnova",
            "company_name": "Mebel Plus",
            "email": "Anna@MebelPlus.ru",
            "phone": "8 916 222-33-44",
            "source": "website",
        },
    )
    activity_create(actor=owner, data={"kind": "call", "subject": "First call", "lead": lead.pk})
    result = lead_convert(actor=owner, lead=lead, deal_data={"amount": "50000"})

    assert result.company.name == "Mebel Plus"
    assert (result.contact.first_name, result.contact.last_name) == ("Anna", "Smirnova")
    assert result.contact.emails == ["anna@mebelplus.ru"] and result.contact.phones == ["+79162223344"]
    assert result.contact.company == result.company
    assert result.deal.company == result.company and list(result.deal.contacts.all()) == [result.contact]
    assert result.deal.amount == Decimal("50000")
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED and lead.deal == result.deal
    call = Activity.objects.get(subject="First call")
    assert (call.company, call.contact, call.deal, call.lead) == (result.company, result.contact, result.deal, lead)
    actions = [h.action for h in history_of(record_type=RecordType.LEAD, record_id=lead.pk)]
    assert actions == [ChangeRecord.Action.CONVERTED, ChangeRecord.Action.CREATED]
    with pytest.raises(ValidationError):
        lead_convert(actor=owner, lead=lead)


def test_lead_conversion_links_existing_records(in_workspace) -> None:
    owner = in_workspace.owner
    company = company_create(actor=owner, data={"name": "Mebel Plus"})
    contact = contact_create(actor=owner, data={"first_name": "Anna", "company": company.pk})
    lead = lead_create(actor=owner, data={"title": "Repeat order", "company_name": "Mebel Plus"})
    result = lead_convert(actor=owner, lead=lead, company=company, contact=contact, create_deal=False)
    assert (result.company, result.contact, result.deal) == (company, contact, None)
    assert Company.objects.count() == 1 and Contact.objects.count() == 1


def test_failed_conversion_leaves_nothing(in_workspace) -> None:
    owner = in_workspace.owner
    lead = lead_create(actor=owner, data={"title": "X", "company_name": "Half Way Ltd", "contact_name": "Bob"})
    with pytest.raises(ValidationError):
        lead_convert(actor=owner, lead=lead, deal_data={"currency": "NOPE"})
    assert not Company.objects.exists() and not Contact.objects.exists()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW


def test_company_merge_moves_everything_to_the_survivor(in_workspace) -> None:
    owner = in_workspace.owner
    survivor = company_create(actor=owner, data={"name": "Romashka", "phones": ["+79161112233"], "tags": ["vip"]})
    duplicate = company_create(
        actor=owner,
        data={"name": "Romashka LLC", "tax_id": "7701234567", "phones": ["+79169998877"], "tags": ["tender"]},
    )
    company_update(actor=owner, company=duplicate, data={"industry": "Retail"})
    contact = contact_create(actor=owner, data={"first_name": "Ivan", "company": duplicate.pk})
    deal = deal_create(actor=owner, data={"title": "Deal of the duplicate", "company": duplicate.pk})
    note = activity_create(actor=owner, data={"kind": "note", "subject": "Met at the fair", "company": duplicate.pk})

    merged = company_merge(actor=owner, survivor=survivor, duplicate=duplicate)

    assert not Company.objects.filter(pk=duplicate.pk).exists()
    assert merged.tax_id == "7701234567" and merged.industry == "Retail"
    assert merged.phones == ["+79161112233", "+79169998877"] and merged.tags == ["vip", "tender"]
    for obj in (contact, deal, note):
        obj.refresh_from_db()
        assert obj.company_id == survivor.pk
    history = list(history_of(record_type=RecordType.COMPANY, record_id=survivor.pk))
    assert history[0].action == ChangeRecord.Action.MERGED
    assert any(h.action == ChangeRecord.Action.UPDATED and h.changes[0]["new"] == "Retail" for h in history)
    assert [h.title for h in global_search(owner, "7701234567")] == ["Romashka"]


def test_contact_merge(in_workspace) -> None:
    owner = in_workspace.owner
    a = contact_create(actor=owner, data={"first_name": "Ivan", "emails": ["ivan@x.ru"]})
    b = contact_create(actor=owner, data={"first_name": "Ivan", "last_name": "Petrov", "emails": ["petrov@x.ru"]})
    deal = deal_create(actor=owner, data={"title": "D"}, contacts=[b.pk])
    merged = contact_merge(actor=owner, survivor=a, duplicate=b)
    assert merged.last_name == "Petrov" and merged.emails == ["ivan@x.ru", "petrov@x.ru"]
    assert list(deal.contacts.all()) == [merged]
    with pytest.raises(ValidationError):
        contact_merge(actor=owner, survivor=a, duplicate=a)


def test_duplicates_by_tax_id_email_phone_and_name(in_workspace) -> None:
    owner = in_workspace.owner
    existing = company_create(
        actor=owner,
        data={
            "name": "ООО Ромашка",
            "tax_id": "7701234567",
            "emails": ["info@romashka.ru"],
            "phones": ["+79161234567"],
        },
    )
    assert list(company_duplicates(owner, tax_id="7701 234567")) == [existing]
    assert list(company_duplicates(owner, emails=["INFO@romashka.ru"])) == [existing]
    assert list(company_duplicates(owner, phones=["8 916 123-45-67"])) == [existing]
    assert list(company_duplicates(owner, name="Ромашка, ООО")) == [existing]
    assert list(company_duplicates(owner, name="Лютик")) == []
    person = contact_create(actor=owner, data={"first_name": "Oleg", "phones": ["+79160000001"]})
    assert list(contact_duplicates(owner, phones=["+7 916 000-00-01"])) == [person]


def test_custom_fields_validate_by_type_and_survive_renaming(in_workspace) -> None:
    owner = in_workspace.owner
    budget = custom_field_create(actor=owner, record_type="company", label="Annual budget", field_type="money")
    tier = custom_field_create(
        actor=owner, record_type="company", label="Tier", field_type="choice", choices=["Gold", "Silver"]
    )
    since = custom_field_create(actor=owner, record_type="company", label="Client since", field_type="date")
    assert (budget.key, tier.key, since.key) == ("annual_budget", "tier", "client_since")

    company = company_create(
        actor=owner,
        data={
            "name": "A",
            "custom_fields": {
                "annual_budget": {"amount": "1 000,5", "currency": "eur"},
                "tier": "Gold",
                "client_since": "2019-03-01",
            },
        },
    )
    assert company.custom_fields == {
        "annual_budget": {"amount": "1000.50", "currency": "EUR"},
        "tier": "Gold",
        "client_since": "2019-03-01",
    }
    with pytest.raises(ValidationError) as exc:
        company_update(
            actor=owner,
            company=company,
            data={"custom_fields": {"tier": "Bronze", "client_since": "yesterday", "nope": 1}},
        )
    assert set(exc.value.message_dict) == {"custom_fields.tier", "custom_fields.client_since", "custom_fields.nope"}
    company.refresh_from_db()
    assert company.custom_fields["tier"] == "Gold"

    custom_field_update(actor=owner, field=tier, data={"label": "Customer tier"})
    company.refresh_from_db()
    assert company.custom_fields["tier"] == "Gold"
    assert Company.objects.filter(custom_fields__contains={"tier": "Gold"}).count() == 1

    assert custom_field_delete(actor=owner, field=tier) == 1
    company.refresh_from_db()
    assert "tier" not in company.custom_fields and "annual_budget" in company.custom_fields


def test_required_custom_field_and_every_type(in_workspace) -> None:
    owner = in_workspace.owner
    member = user_create(email="m@example.com", password=PASSWORD)
    specs = {
        "text": "x",
        "long_text": "y" * 5000,
        "number": "12.50",
        "boolean": "yes",
        "multi_choice": ["b", "a"],
        "link": "https://example.com/x",
        "user": member.pk,
    }
    for field_type in specs:
        custom_field_create(
            actor=owner,
            record_type="deal",
            label=field_type,
            field_type=field_type,
            choices=["a", "b"],
            is_required=field_type == "text",
        )
    with pytest.raises(ValidationError) as exc:
        deal_create(actor=owner, data={"title": "no text"})
    assert "custom_fields.text" in exc.value.message_dict
    deal = deal_create(actor=owner, data={"title": "all", "custom_fields": specs})
    assert deal.custom_fields["number"] == "12.5" and deal.custom_fields["boolean"] is True
    assert deal.custom_fields["multi_choice"] == ["a", "b"] and deal.custom_fields["user"] == member.pk
    for field_type, bad in {"number": "ten", "boolean": "maybe", "link": "javascript:alert(1)", "user": 99999}.items():
        with pytest.raises(ValidationError):
            deal_create(actor=owner, data={"title": "bad", "custom_fields": {**specs, field_type: bad}})


def test_only_admins_define_custom_fields(in_workspace) -> None:
    member = user_create(email="m@example.com", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        custom_field_create(actor=member, record_type="company", label="X", field_type="text")
    assert not CustomField.objects.exists()


def test_numbers_are_stored_in_plain_notation(in_workspace) -> None:
    custom_field_create(actor=in_workspace.owner, record_type="company", label="Staff", field_type="number")
    company = company_create(actor=in_workspace.owner, data={"name": "A", "custom_fields": {"staff": "250"}})
    assert company.custom_fields["staff"] == "250"
    company_update(actor=in_workspace.owner, company=company, data={"custom_fields": {"staff": "1200.500"}})
    assert company.custom_fields["staff"] == "1200.5"
