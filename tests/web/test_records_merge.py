"""Duplicate warning on create, merging two companies or contacts, converting a lead."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.deals.models import Deal
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, LeadFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "typed",
    [
        {"name": "Romashka", "tax_id": ""},
        {"name": "Totally different", "tax_id": "7701234567"},
        {"name": "Other", "emails": "info@romashka.test"},
        {"name": "Other", "phones": "8 916 123 45 67"},
    ],
)
def test_company_create_warns_about_duplicates_until_create_anyway(workspace, owner_client, typed) -> None:
    with inside(workspace):
        existing = CompanyFactory(
            name="Romashka LLC", tax_id="7701234567", emails=["info@romashka.test"], phones=["+79161234567"]
        )
    response = owner_client.post(reverse("companies:create"), typed)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="duplicates"' in html and existing.get_absolute_url() in html
    assert 'name="create_anyway"' in html
    with inside(workspace):
        assert Company.objects.count() == 1
    response = owner_client.post(reverse("companies:create"), {**typed, "create_anyway": "1"})
    assert response.status_code == 302
    with inside(workspace):
        assert Company.objects.count() == 2


def test_no_warning_for_a_new_company(workspace, owner_client) -> None:
    with inside(workspace):
        CompanyFactory(name="Romashka LLC")
    response = owner_client.post(reverse("companies:create"), {"name": "Vasilek"})
    assert response.status_code == 302


def test_contact_create_warns_about_same_email(workspace, owner_client) -> None:
    with inside(workspace):
        ContactFactory(emails=["anna@client.test"])
    data = {"first_name": "Anna", "emails": "ANNA@client.test"}
    response = owner_client.post(reverse("contacts:create"), data)
    assert response.status_code == 200 and 'data-testid="duplicates"' in response.content.decode()
    assert owner_client.post(reverse("contacts:create"), {**data, "create_anyway": "1"}).status_code == 302
    with inside(workspace):
        assert Contact.objects.count() == 2


def test_company_merge_moves_everything_and_is_in_history(workspace, owner_client) -> None:
    with inside(workspace):
        survivor = CompanyFactory(name="Romashka LLC", emails=["a@romashka.test"])
        duplicate = CompanyFactory(name="Romashka", emails=["b@romashka.test"], website="https://romashka.test")
        contact = ContactFactory(company=duplicate)
        deal = DealFactory(company=duplicate)
        activity = ActivityFactory(company=duplicate)
        ChangeRecord.objects.create(record_type="company", record_id=duplicate.pk, action="created")
    url = reverse("companies:merge", args=[survivor.pk])
    picker = owner_client.get(url).content.decode()
    assert f"?other={duplicate.pk}" in picker  # suggested as a duplicate by name
    assert f"?other={duplicate.pk}" in owner_client.get(url + "?q=roma").content.decode()
    preview = owner_client.get(url + f"?other={duplicate.pk}").content.decode()
    assert 'data-testid="merge-preview"' in preview and "romashka.test" in preview
    with inside(workspace):
        assert Company.objects.count() == 2  # previewing changes nothing
    response = owner_client.post(url, {"other": duplicate.pk, "keep": "this"})
    assert response.status_code == 302 and response["Location"] == survivor.get_absolute_url()
    with inside(workspace):
        assert not Company.objects.filter(pk=duplicate.pk).exists()
        survivor.refresh_from_db()
        assert survivor.emails == ["a@romashka.test", "b@romashka.test"] and survivor.website == "https://romashka.test"
        assert Contact.objects.get(pk=contact.pk).company_id == survivor.pk
        assert Deal.objects.get(pk=deal.pk).company_id == survivor.pk
        assert Activity.objects.get(pk=activity.pk).company_id == survivor.pk
        actions = set(
            ChangeRecord.objects.filter(record_type="company", record_id=survivor.pk).values_list("action", flat=True)
        )
        assert {"created", "merged"} <= actions
    card = owner_client.get(survivor.get_absolute_url()).content.decode()
    assert "Merged" in card or "merged" in card


def test_merge_can_keep_the_other_one(workspace, owner_client) -> None:
    with inside(workspace):
        first = CompanyFactory(name="Alpha")
        second = CompanyFactory(name="Alpha Trade")
    response = owner_client.post(reverse("companies:merge", args=[first.pk]), {"other": second.pk, "keep": "other"})
    assert response.status_code == 302
    with inside(workspace):
        assert list(Company.objects.values_list("pk", flat=True)) == [second.pk]


def test_merge_with_itself_is_refused(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory()
    response = owner_client.post(reverse("companies:merge", args=[company.pk]), {"other": company.pk, "keep": "this"})
    assert response.status_code == 200 and 'data-testid="form-errors"' in response.content.decode()
    with inside(workspace):
        assert Company.objects.filter(pk=company.pk).exists()
        assert not ChangeRecord.objects.exists()


def test_contact_merge(workspace, owner_client) -> None:
    with inside(workspace):
        survivor = ContactFactory(first_name="Anna", last_name="Petrova")
        duplicate = ContactFactory(first_name="Anna", last_name="Petrova", company=survivor.company)
        deal = DealFactory(company=survivor.company)
        deal.contacts.add(duplicate)
    response = owner_client.post(reverse("contacts:merge", args=[survivor.pk]), {"other": duplicate.pk, "keep": "this"})
    assert response.status_code == 302
    with inside(workspace):
        assert not Contact.objects.filter(pk=duplicate.pk).exists()
        assert list(deal.contacts.all()) == [Contact.objects.get(pk=survivor.pk)]
        assert ChangeRecord.objects.filter(record_type="contact", record_id=survivor.pk, action="merged").exists()


def test_lead_conversion_creates_company_contact_and_deal(workspace, owner_client) -> None:
    with inside(workspace):
        lead = LeadFactory(
            title="Need 100 widgets", company_name="Zeta Ltd", contact_name="Oleg Ivanov", email="oleg@zeta.test"
        )
        ActivityFactory(lead=lead, subject="First call")
    url = reverse("leads:convert", args=[lead.pk])
    page = owner_client.get(url).content.decode()
    assert "Need 100 widgets" in page
    response = owner_client.post(
        url,
        {
            "company_mode": "create",
            "contact_mode": "create",
            "create_deal": "on",
            "deal_title": "Widgets for Zeta",
            "deal_amount": "5000",
            "deal_currency": "EUR",
        },
    )
    assert response.status_code == 302
    with inside(workspace):
        lead.refresh_from_db()
        assert lead.status == Lead.Status.CONVERTED
        assert lead.company.name == "Zeta Ltd" and lead.contact.emails == ["oleg@zeta.test"]
        assert (
            lead.deal.title == "Widgets for Zeta" and lead.deal.currency == "EUR" and str(lead.deal.amount) == "5000.00"
        )
        assert response["Location"] == lead.deal.get_absolute_url()
        assert list(lead.deal.contacts.all()) == [lead.contact]
        assert Activity.objects.get(subject="First call").company_id == lead.company_id
        assert ChangeRecord.objects.filter(record_type="lead", record_id=lead.pk, action="converted").exists()
    card = owner_client.get(lead.get_absolute_url()).content.decode()
    assert 'data-testid="converted-into"' in card and "Zeta Ltd" in card
    # A second conversion is not offered.
    assert owner_client.post(url, {"company_mode": "none", "contact_mode": "none"}).status_code == 302
    with inside(workspace):
        assert Deal.objects.count() == 1


def test_lead_conversion_links_an_existing_company_it_suggests(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Zeta Ltd")
        lead = LeadFactory(company_name="Zeta", contact_name="", email="", phone="")
    url = reverse("leads:convert", args=[lead.pk])
    page = owner_client.get(url).content.decode()
    assert 'data-testid="company-matches"' in page and company.get_absolute_url() in page
    response = owner_client.post(url, {"company_mode": "link", "contact_mode": "none"})
    assert response.status_code == 200 and "company" in response.context["form"].errors
    response = owner_client.post(url, {"company_mode": "link", "company": company.pk, "contact_mode": "none"})
    assert response.status_code == 302 and response["Location"] == company.get_absolute_url()
    with inside(workspace):
        lead.refresh_from_db()
        assert lead.company_id == company.pk and lead.deal is None and Company.objects.count() == 1


def test_failed_conversion_changes_nothing(workspace, owner_client) -> None:
    with inside(workspace):
        lead = LeadFactory(company_name="Zeta Ltd")
    response = owner_client.post(
        reverse("leads:convert", args=[lead.pk]),
        {"company_mode": "create", "contact_mode": "create", "create_deal": "on", "deal_title": "x" * 300},
    )
    assert response.status_code == 200 and "deal_title" in response.context["form"].errors
    with inside(workspace):
        lead.refresh_from_db()
        assert lead.status == Lead.Status.NEW
        assert not Company.objects.exists() and not Contact.objects.exists() and not Deal.objects.exists()
