"""The search does not find a record through a field the searching user's role hides, and shows no hidden
value: each index term remembers the field it comes from."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from crm.contacts.services import contact_update
from crm.core.types import RecordType
from crm.search.duplicates import company_duplicates, contact_duplicates
from crm.search.models import SearchTerm
from crm.search.selectors import global_search
from tenants.accounts.models import Role
from tenants.accounts.roles import ACTIONS
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

PHONE = "+79161234567"
EMAIL = "ivan.secretov@hidden.test"


def _member(hidden: dict[str, list[str]]):
    grants = {str(t): dict.fromkeys(ACTIONS, "all") for t in RecordType}
    role = Role.objects.create(name="Hiding", grants=grants, hidden_fields=hidden)
    return user_create(email="searcher@example.com", password=PASSWORD, role=role)


def _terms(record_type: str, pk: int) -> set[tuple[str, str]]:
    return set(SearchTerm.objects.filter(record_type=record_type, record_id=pk).values_list("field", "term"))


def test_each_term_records_the_field_it_comes_from(in_workspace) -> None:
    company = CompanyFactory(
        name="Acme Tools", tax_id="7701234567", registration_id="1027700000001", phones=[PHONE], emails=[EMAIL]
    )
    assert _terms("company", company.pk) == {
        ("", "acme"),
        ("", "tools"),
        ("tax_id", "7701234567"),
        ("registration_id", "1027700000001"),
        ("phones", "79161234567"),
        ("phones", "9161234567"),
        ("phones", "~76543216197"),
        ("emails", EMAIL),
    }
    lead = LeadFactory(title="Request", contact_name="Olga", company_name="Zeta", email="olga@zeta.test", phone=PHONE)
    terms = _terms("lead", lead.pk)
    assert ("email", "olga@zeta.test") in terms and ("phone", "9161234567") in terms and ("", "olga") in terms


def test_changing_a_field_retags_its_terms(in_workspace) -> None:
    contact = ContactFactory(first_name="Ivan", last_name="Secretov", phones=[PHONE], emails=[EMAIL])
    contact_update(actor=in_workspace.owner, contact=contact, data={"phones": ["+79169990011"]})
    terms = _terms("contact", contact.pk)
    assert ("phones", "9169990011") in terms
    assert not {t for f, t in terms if t == "9161234567"}


def test_global_search_ignores_hidden_fields_and_shows_no_hidden_value(in_workspace) -> None:
    company = CompanyFactory(name="Acme Tools", tax_id="7701234567", phones=["+74951112233"])
    ContactFactory(first_name="Ivan", last_name="Secretov", company=company, phones=[PHONE], emails=[EMAIL])
    LeadFactory(title="Inbound", email="olga@zeta.test", phone="+79035556677")
    owner = in_workspace.owner
    member = _member({"contact": ["phones", "emails"], "company": ["tax_id"], "lead": ["email", "phone"]})

    for query in ("9161234567", "+7 916 123-45-67", EMAIL, "7701234567", "olga@zeta", "9035556677"):
        assert global_search(owner, query), query
        assert global_search(member, query) == [], query
    # Not hidden: the company's phones still find it.
    assert [h.title for h in global_search(member, "4951112233")] == ["Acme Tools"]
    hits = global_search(member, "Secretov") + global_search(member, "Acme")
    assert {h.title for h in hits} == {"Ivan Secretov", "Acme Tools"}
    for hit in hits:
        assert EMAIL not in hit.subtitle and "7701234567" not in hit.subtitle
    owner_hits = global_search(owner, "Secretov") + global_search(owner, "Acme")
    assert any(EMAIL in h.subtitle for h in owner_hits) and any("7701234567" in h.subtitle for h in owner_hits)


def test_duplicates_are_not_matched_through_hidden_fields(in_workspace) -> None:
    CompanyFactory(name="Acme Tools", tax_id="7701234567", phones=[PHONE])
    ContactFactory(first_name="Ivan", last_name="Secretov", phones=[PHONE], emails=[EMAIL])
    member = _member({"contact": ["phones", "emails"], "company": ["tax_id", "phones"]})
    assert list(company_duplicates(member, tax_id="7701234567", phones=[PHONE])) == []
    assert list(contact_duplicates(member, emails=[EMAIL], phones=[PHONE])) == []
    assert len(company_duplicates(in_workspace.owner, tax_id="7701234567")) == 1
    assert len(contact_duplicates(in_workspace.owner, emails=[EMAIL])) == 1
    # A name is no hidden field: the similar name still warns.
    assert [c.name for c in company_duplicates(member, name="ACME tools LLC")] == ["Acme Tools"]


def test_existing_terms_are_retagged_by_the_migration(in_workspace) -> None:
    contact = ContactFactory(first_name="Ivan", last_name="Secretov", phones=[PHONE], emails=[EMAIL])
    company = CompanyFactory(name="Acme Tools", tax_id="7701234567")
    lead = LeadFactory(email="olga@zeta.test")
    wanted = {(t, pk): _terms(t, pk) for t, pk in (("contact", contact.pk), ("company", company.pk), ("lead", lead.pk))}
    SearchTerm.objects.update(field="")  # as the index stood before terms knew their field
    migration = importlib.import_module("crm.search.migrations.0003_searchterm_field")
    migration._retag(apps, None)
    for (record_type, pk), terms in wanted.items():
        assert _terms(record_type, pk) == terms
