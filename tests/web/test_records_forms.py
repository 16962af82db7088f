"""Create and edit through the forms: the services do the work (history written), their errors come back as
field errors next to what was typed, and a refused change changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.models import Deal, Stage
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from crm.products.models import Product
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, ProductFactory
from tests.web.records_support import errors_of, inside

pytestmark = pytest.mark.django_db


def _company_form(**overrides: str) -> dict[str, str]:
    data = {"name": "Vector Ltd", "tax_id": "", "phones": "", "emails": "", "tags": "", "owner": ""}
    data.update(overrides)
    return data


def test_company_create_goes_through_the_service(workspace, owner_client) -> None:
    response = owner_client.post(
        reverse("companies:create"),
        _company_form(phones="8 (916) 123-45-67", emails="Sales@Vector.test", tags="vip, key"),
    )
    assert response.status_code == 302
    with inside(workspace):
        company = Company.objects.get()
        assert response["Location"] == company.get_absolute_url()
        assert company.phones == ["+79161234567"] and company.emails == ["sales@vector.test"]
        assert company.tags == ["vip", "key"] and company.owner == workspace.owner
        [created] = ChangeRecord.objects.filter(record_type=RecordType.COMPANY, record_id=company.pk)
        assert created.action == ChangeRecord.Action.CREATED and created.actor == workspace.owner


def test_company_bad_input_shows_field_errors_and_keeps_what_was_typed(workspace, owner_client) -> None:
    response = owner_client.post(
        reverse("companies:create"), _company_form(name="", phones="12", emails="nope", industry="Steel")
    )
    assert response.status_code == 200
    assert {"name", "phones", "emails"} <= set(errors_of(response))
    assert 'value="Steel"' in response.content.decode()
    with inside(workspace):
        assert not Company.objects.exists()
        assert not ChangeRecord.objects.exists()


def test_custom_fields_are_inputs_by_type_and_their_errors_are_field_errors(workspace, owner_client) -> None:
    with inside(workspace):
        CustomField.objects.create(record_type="company", key="employees", label="Employees", field_type="number")
        CustomField.objects.create(
            record_type="company", key="segment", label="Segment", field_type="choice", choices=["SMB", "Enterprise"]
        )
        CustomField.objects.create(record_type="company", key="budget", label="Budget", field_type="money")
        CustomField.objects.create(record_type="company", key="since", label="Client since", field_type="date")
        CustomField.objects.create(
            record_type="company", key="regions", label="Regions", field_type="multi_choice", choices=["EU", "CIS"]
        )
        CustomField.objects.create(record_type="company", key="manager", label="Manager", field_type="user")
        CustomField.objects.create(record_type="company", key="partner", label="Partner", field_type="boolean")
        CustomField.objects.create(record_type="company", key="about", label="About", field_type="long_text")
        CustomField.objects.create(record_type="company", key="crm", label="Their CRM", field_type="link")
    page = owner_client.get(reverse("companies:create")).content.decode()
    for name in ("cf_employees", "cf_segment", "cf_budget_0", "cf_budget_1", "cf_since", "cf_regions", "cf_manager"):
        assert f'name="{name}"' in page, name
    assert 'type="date"' in page and "<textarea" in page and 'type="url"' in page
    response = owner_client.post(
        reverse("companies:create"), _company_form(cf_employees="many", cf_budget_0="10", cf_budget_1="")
    )
    assert response.status_code == 200
    assert {"cf_employees", "cf_budget"} <= set(errors_of(response))
    assert 'value="many"' in response.content.decode()
    response = owner_client.post(
        reverse("companies:create"),
        _company_form(
            cf_employees="251",
            cf_segment="SMB",
            cf_budget_0="1500.5",
            cf_budget_1="EUR",
            cf_since="2024-03-01",
            cf_regions=["EU", "CIS"],
            cf_manager=str(workspace.owner.pk),
            cf_partner="true",
            cf_crm="https://crm.vector.test",
        ),
    )
    assert response.status_code == 302, errors_of(response)
    with inside(workspace):
        company = Company.objects.get()
        assert company.custom_fields == {
            "employees": "251",
            "segment": "SMB",
            "budget": {"amount": "1500.50", "currency": "EUR"},
            "since": "2024-03-01",
            "regions": ["EU", "CIS"],
            "manager": workspace.owner.pk,
            "partner": True,
            "crm": "https://crm.vector.test",
        }
    card = owner_client.get(company.get_absolute_url()).content.decode()
    assert "€1,500.50" in card and "EU, CIS" in card and workspace.owner.get_full_name() in card
    edit = owner_client.get(reverse("companies:edit", args=[company.pk])).content.decode()
    assert 'value="251"' in edit and 'value="2024-03-01"' in edit


def test_company_edit_writes_history_and_refused_edit_changes_nothing(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Old name", owner=workspace.owner)
    url = reverse("companies:edit", args=[company.pk])
    response = owner_client.post(url, _company_form(name="New name", version=str(company.version)))
    assert response.status_code == 302
    with inside(workspace):
        company.refresh_from_db()
        assert company.name == "New name" and company.version == 2
        [change] = ChangeRecord.objects.filter(record_id=company.pk, action=ChangeRecord.Action.UPDATED)
        assert {"field": "name", "label": "name", "old": "Old name", "new": "New name"} in change.changes
    response = owner_client.post(url, _company_form(name="", emails="bad", version="2"))
    assert response.status_code == 200 and {"name", "emails"} <= set(errors_of(response))
    # Someone else saved in the meantime: the stale form is refused, not silently applied.
    response = owner_client.post(url, _company_form(name="Stale", version="1"))
    assert response.status_code == 200 and "Someone changed this record" in response.content.decode()
    with inside(workspace):
        company.refresh_from_db()
        assert company.name == "New name" and company.version == 2
        assert ChangeRecord.objects.filter(record_id=company.pk).count() == 1
    assert "New name" in owner_client.get(company.get_absolute_url()).content.decode()


def test_contact_create_and_edit(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory()
    response = owner_client.post(
        reverse("contacts:create"),
        {"first_name": "Ivan", "last_name": "Sidorov", "company": company.pk, "phones": "+7 916 000-11-22"},
    )
    assert response.status_code == 302
    with inside(workspace):
        contact = Contact.objects.get()
        assert contact.company == company and contact.phones == ["+79160001122"]
    response = owner_client.post(reverse("contacts:create"), {"first_name": "", "last_name": "", "emails": ""})
    assert response.status_code == 200 and "last_name" in errors_of(response)
    response = owner_client.post(
        reverse("contacts:edit", args=[contact.pk]),
        {"first_name": "Ivan", "last_name": "Sidorov", "position": "CEO", "consent_to_contact": "on", "version": "1"},
    )
    assert response.status_code == 302
    with inside(workspace):
        contact.refresh_from_db()
        assert contact.position == "CEO" and contact.consent_to_contact and contact.consent_at is not None
        assert contact.company is None  # the form sent no company: it was cleared
        assert ChangeRecord.objects.filter(record_id=contact.pk, record_type="contact").count() == 2


def test_deal_create_with_contacts_and_line_items(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory()
        contact = ContactFactory(company=company)
        product = ProductFactory(price=Decimal("100.00"), vat_rate=Decimal("20"))
    form = {
        "title": "Supply",
        "company": company.pk,
        "contacts": [contact.pk],
        "currency": "RUB",
        "items-TOTAL_FORMS": "3",
        "items-INITIAL_FORMS": "0",
        "items-0-product": product.pk,
        "items-0-quantity": "2",
        "items-0-discount_percent": "10",
        "items-1-name": "Installation",
        "items-1-price": "50",
        "items-1-quantity": "1",
    }
    response = owner_client.post(reverse("deals:create"), form)
    assert response.status_code == 302, response.context and errors_of(response)
    with inside(workspace):
        deal = Deal.objects.get()
        assert list(deal.contacts.all()) == [contact]
        # 2 x 100 - 10% = 180 + 20% VAT = 216; plus 50 without VAT.
        assert deal.amount == Decimal("266.00")
        assert deal.line_items.count() == 2
    card = owner_client.get(deal.get_absolute_url()).content.decode()
    assert "266.00" in card and contact.full_name in card


def test_line_item_errors_land_on_their_row(workspace, owner_client) -> None:
    form = {
        "title": "Supply",
        "currency": "RUB",
        "items-TOTAL_FORMS": "3",
        "items-INITIAL_FORMS": "0",
        "items-1-name": "Consulting",
        "items-1-quantity": "1",
        "items-1-price": "-5",
    }
    response = owner_client.post(reverse("deals:create"), form)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert "price" in formset.forms[1].errors and not formset.forms[0].errors
    with inside(workspace):
        assert not Deal.objects.exists()


def test_deal_line_item_editor_replaces_items(workspace, owner_client) -> None:
    with inside(workspace):
        deal = DealFactory()
    form = {
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-0-name": "Service",
        "items-0-quantity": "3",
        "items-0-price": "10",
        "items-0-vat_rate": "20",
    }
    response = owner_client.post(reverse("deals:line_items", args=[deal.pk]), form)
    assert response.status_code == 302
    with inside(workspace):
        deal.refresh_from_db()
        assert deal.amount == Decimal("36.00")
        assert ChangeRecord.objects.filter(record_id=deal.pk, record_type="deal").exists()


def test_deal_moved_to_lost_needs_a_reason(workspace, owner_client) -> None:
    with inside(workspace):
        deal = DealFactory(title="Tender")
        lost = Stage.objects.get(pipeline=deal.pipeline, outcome="lost")
    base = {"title": "Tender", "company": deal.company_id, "currency": "RUB", "amount": "1000", "version": "1"}
    base["pipeline"] = deal.pipeline_id
    response = owner_client.post(reverse("deals:edit", args=[deal.pk]), {**base, "stage": lost.pk})
    assert response.status_code == 200 and "lost_reason" in errors_of(response)
    with inside(workspace):
        deal.refresh_from_db()
        assert deal.stage_id != lost.pk and deal.version == 1
    response = owner_client.post(
        reverse("deals:edit", args=[deal.pk]), {**base, "stage": lost.pk, "lost_reason": "Price"}
    )
    assert response.status_code == 302
    with inside(workspace):
        deal.refresh_from_db()
        assert deal.stage_id == lost.pk and deal.closed_at is not None and deal.lost_reason == "Price"
    card = owner_client.get(reverse("companies:detail", args=[deal.company_id])).content.decode()
    assert 'data-testid="closed-deals"' in card and "Tender" in card


def test_lead_create_and_edit(workspace, owner_client) -> None:
    response = owner_client.post(
        reverse("leads:create"), {"title": "Website form", "status": "new", "email": "Client@Example.test"}
    )
    assert response.status_code == 302
    with inside(workspace):
        lead = Lead.objects.get()
        assert lead.email == "client@example.test"
    response = owner_client.post(
        reverse("leads:edit", args=[lead.pk]), {"title": "Website form", "status": "new", "phone": "12", "version": "1"}
    )
    assert response.status_code == 200 and "phone" in errors_of(response)
    response = owner_client.post(
        reverse("leads:edit", args=[lead.pk]), {"title": "Website form", "status": "in_progress", "version": "1"}
    )
    assert response.status_code == 302
    with inside(workspace):
        lead.refresh_from_db()
        assert lead.status == "in_progress"


def test_product_create_edit_delete(workspace, owner_client) -> None:
    data = {"sku": "W-1", "name": "Widget", "unit": "pcs", "price": "10", "currency": "RUB", "is_active": "on"}
    assert owner_client.post(reverse("products:create"), data).status_code == 302
    response = owner_client.post(reverse("products:create"), {**data, "price": ""})
    assert response.status_code == 200 and "price" in errors_of(response)
    with inside(workspace):
        product = Product.objects.get()
    response = owner_client.post(reverse("products:edit", args=[product.pk]), {**data, "name": "Widget 2"})
    assert response.status_code == 302
    assert owner_client.get(reverse("products:delete", args=[product.pk])).status_code == 200
    with inside(workspace):
        assert Product.objects.get().name == "Widget 2"
    assert owner_client.post(reverse("products:delete", args=[product.pk])).status_code == 302
    with inside(workspace):
        assert not Product.objects.exists()


def test_delete_asks_first_then_deletes_through_the_service(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Doomed")
    url = reverse("companies:delete", args=[company.pk])
    assert "Doomed" in owner_client.get(url).content.decode()
    with inside(workspace):
        assert Company.objects.filter(pk=company.pk).exists()
    response = owner_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("companies:list")
    with inside(workspace):
        assert not Company.objects.filter(pk=company.pk).exists()
        assert ChangeRecord.objects.filter(record_id=company.pk, action="deleted").exists()


def test_activity_create_edit_done_and_undone(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory()
    response = owner_client.post(
        reverse("activities:create") + f"?company={company.pk}",
        {"kind": "call", "subject": "Call back", "company": company.pk, "due_at": "2030-01-02T10:30"},
    )
    assert response.status_code == 302 and response["Location"] == company.get_absolute_url()
    with inside(workspace):
        activity = Activity.objects.get()
        assert activity.assignee is None or activity.company == company
    response = owner_client.post(reverse("activities:edit", args=[activity.pk]), {"kind": "call", "subject": ""})
    assert response.status_code == 200 and "subject" in errors_of(response)
    response = owner_client.post(
        reverse("activities:done", args=[activity.pk]), {"done": "on", "result": "Agreed on a meeting"}
    )
    assert response.status_code == 302
    with inside(workspace):
        activity.refresh_from_db()
        assert activity.is_done and activity.done_at and activity.result == "Agreed on a meeting"
    response = owner_client.post(reverse("activities:done", args=[activity.pk]), {"done": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f'id="activity-{activity.pk}"' in response.content.decode()
    with inside(workspace):
        activity.refresh_from_db()
        assert not activity.is_done and activity.done_at is None


def test_quick_add_from_a_card(workspace, owner_client) -> None:
    with inside(workspace):
        deal = DealFactory()
        ActivityFactory(deal=deal, company=deal.company, subject="Existing")
    url = reverse("deals:quick_add", args=[deal.pk])
    response = owner_client.post(
        url, {"kind": "note", "subject": "Client asked for a discount"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-swap-oob="afterbegin:#timeline"' in html and "Client asked for a discount" in html
    response = owner_client.post(url, {"kind": "task", "subject": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "hx-swap-oob" not in response.content.decode()
    response = owner_client.post(url, {"kind": "task", "subject": "Send the offer", "due_at": "2030-05-01T09:00"})
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    with inside(workspace):
        note = Activity.objects.get(subject="Client asked for a discount")
        assert note.deal == deal and note.company_id == deal.company_id and note.is_done
        assert Activity.objects.count() == 3
    card = owner_client.get(reverse("companies:detail", args=[deal.company_id])).content.decode()
    assert "Send the offer" in card and "Client asked for a discount" in card
