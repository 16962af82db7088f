"""Fields a role hides appear nowhere on the pages of its holders: lists (columns, filters, sorts), cards, forms
(which then keep the hidden values), the board, my day, the history timeline and the search dropdown. Linked
records the user may not see are not named either."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.contacts.services import contact_update
from crm.deals.models import Deal, DealLineItem
from crm.deals.services import deal_update
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory, CompanyFactory, DealFactory
from tests.hiding_support import (
    AMOUNT,
    CF_VALUE,
    EMAIL,
    PHONE,
    PHONE_DIGITS,
    assert_nothing_hidden_in,
    body,
    make_hiding,
)
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def hiding(workspace):
    return make_hiding(workspace)


@pytest.fixture
def blind(hiding):
    return hiding.workspace.client(logged_in_as=hiding.member)


def _pages(h) -> list[str]:
    return [
        reverse("deals:list"),
        reverse("contacts:list"),
        reverse("companies:list"),
        reverse("deals:detail", args=[h.deal.pk]),
        reverse("companies:detail", args=[h.company.pk]),
        reverse("contacts:detail", args=[h.contact.pk]),
        reverse("deals:board"),
        reverse("deals:edit", args=[h.deal.pk]),
        reverse("contacts:edit", args=[h.contact.pk]),
        reverse("companies:edit", args=[h.company.pk]),
        reverse("contacts:merge", args=[h.contact.pk]),
        reverse("home"),
    ]


def test_hidden_values_appear_on_no_page_of_the_role(hiding, blind, owner_client) -> None:
    for url in _pages(hiding):
        response = blind.get(url)
        assert response.status_code == 200, url
        assert_nothing_hidden_in(body(response))
    # The administrator sees them all.
    deal_card = body(owner_client.get(reverse("deals:detail", args=[hiding.deal.pk])))
    assert "12,345.67" in deal_card
    contact_card = body(owner_client.get(reverse("contacts:detail", args=[hiding.contact.pk])))
    assert PHONE in contact_card and EMAIL in contact_card
    assert CF_VALUE in body(owner_client.get(reverse("companies:detail", args=[hiding.company.pk])))
    assert CF_VALUE in body(owner_client.get(reverse("companies:list")))
    assert "12,345.67" in body(owner_client.get(reverse("deals:board")))


def test_lists_offer_no_column_filter_or_sort_of_a_hidden_field(hiding, blind, owner_client) -> None:
    cf = f"cf_{hiding.cf_key}"
    companies = body(blind.get(reverse("companies:list")))
    assert f'value="{cf}"' not in companies and f'name="{cf}"' not in companies
    assert 'value="amount"' not in body(blind.get(reverse("deals:list")))
    contacts = body(blind.get(reverse("contacts:list")))
    assert 'value="phone"' not in contacts and 'value="email"' not in contacts
    assert f'value="{cf}"' in body(owner_client.get(reverse("companies:list")))


def test_a_filter_or_sort_by_a_hidden_field_in_the_query_is_ignored(hiding, blind, owner_client) -> None:
    with inside(hiding.workspace):
        CompanyFactory(name="Ordinary Co", owner=hiding.workspace.owner)
    query = {f"cf_{hiding.cf_key}": CF_VALUE, "sort": f"cf_{hiding.cf_key}"}
    owner_page = body(owner_client.get(reverse("companies:list"), query))
    assert "Hidden Values Co" in owner_page and "Ordinary Co" not in owner_page
    member_page = body(blind.get(reverse("companies:list"), query))
    # Not applied: filtering would tell the member which company holds the value.
    assert "Hidden Values Co" in member_page and "Ordinary Co" in member_page
    # The text search does not match through a hidden field either.
    assert "Ivan" not in body(blind.get(reverse("contacts:list"), {"q": PHONE_DIGITS}))
    assert "Ivan" in body(owner_client.get(reverse("contacts:list"), {"q": PHONE_DIGITS}))
    assert "Ivan" not in body(blind.get(reverse("contacts:list"), {"q": EMAIL}))


def test_the_board_shows_counts_without_sums_and_cards_without_amounts(hiding, blind, owner_client) -> None:
    page = body(blind.get(reverse("deals:board")))
    assert "Big secret deal" in page and 'data-testid="stage-count"' in page
    assert 'data-testid="stage-sum"' not in page
    assert 'data-testid="stage-sum"' in body(owner_client.get(reverse("deals:board")))


def test_the_company_card_lists_deals_without_amounts_and_no_totals(hiding, blind) -> None:
    page = body(blind.get(reverse("companies:detail", args=[hiding.company.pk])))
    assert "Big secret deal" in page and "Ivan" in page
    assert 'data-testid="deal-totals"' not in page


def test_line_items_are_hidden_with_the_amount(hiding, blind) -> None:
    with inside(hiding.workspace):
        DealLineItem.objects.create(
            deal=hiding.deal, name="Secret widget", quantity=1, unit="pcs", price=Decimal("777.77"), position=1
        )
    page = body(blind.get(reverse("deals:detail", args=[hiding.deal.pk])))
    assert "Secret widget" not in page and "777.77" not in page
    response = blind.get(reverse("deals:line_items", args=[hiding.deal.pk]))
    assert response.status_code == 403
    assert "777.77" not in body(response)
    refused = blind.post(reverse("deals:line_items", args=[hiding.deal.pk]), {"items-TOTAL_FORMS": "0"})
    assert refused.status_code == 403
    with inside(hiding.workspace):
        assert DealLineItem.objects.filter(deal=hiding.deal).count() == 1
        assert Deal.objects.get(pk=hiding.deal.pk).amount == AMOUNT


def test_forms_leave_hidden_fields_out_and_saving_keeps_their_values(hiding, blind) -> None:
    page = body(blind.get(reverse("contacts:edit", args=[hiding.contact.pk])))
    assert 'name="phones"' not in page and 'name="emails"' not in page and 'name="first_name"' in page
    with inside(hiding.workspace):
        contact = Contact.objects.get(pk=hiding.contact.pk)
    response = blind.post(
        reverse("contacts:edit", args=[contact.pk]),
        {
            "first_name": "Ivan",
            "last_name": "Renamed",
            "company": hiding.company.pk,
            "owner": contact.owner_id or "",
            "version": contact.version,
        },
    )
    assert response.status_code == 302, body(response)
    with inside(hiding.workspace):
        contact.refresh_from_db()
        assert contact.last_name == "Renamed"
        assert contact.phones == [PHONE] and contact.emails == [EMAIL]

    deal_page = body(blind.get(reverse("deals:edit", args=[hiding.deal.pk])))
    assert 'name="amount"' not in deal_page
    response = blind.post(
        reverse("deals:edit", args=[hiding.deal.pk]),
        {"title": "Renamed deal", "currency": "RUB", "company": hiding.company.pk, "version": hiding.deal.version},
    )
    assert response.status_code == 302, body(response)
    with inside(hiding.workspace):
        deal = Deal.objects.get(pk=hiding.deal.pk)
        assert deal.title == "Renamed deal" and deal.amount == AMOUNT

    company_page = body(blind.get(reverse("companies:edit", args=[hiding.company.pk])))
    assert f'name="cf_{hiding.cf_key}"' not in company_page
    response = blind.post(
        reverse("companies:edit", args=[hiding.company.pk]),
        {"name": "Hidden Values Co", "industry": "Mining", "version": hiding.company.version},
    )
    assert response.status_code == 302, body(response)
    with inside(hiding.workspace):
        company = Company.objects.get(pk=hiding.company.pk)
        assert company.industry == "Mining" and company.custom_fields == {hiding.cf_key: CF_VALUE}


def test_the_timeline_shows_a_hidden_field_changed_without_its_values(hiding, blind, owner_client) -> None:
    with inside(hiding.workspace):
        deal_update(actor=hiding.workspace.owner, deal=hiding.deal, data={"amount": Decimal("55555.00")})
        contact_update(actor=hiding.workspace.owner, contact=hiding.contact, data={"phones": ["+79169990011"]})
    deal_page = body(blind.get(reverse("deals:detail", args=[hiding.deal.pk])))
    assert 'data-testid="timeline-change"' in deal_page and "changed" in deal_page
    assert "55555" not in deal_page and "55,555" not in deal_page
    contact_page = body(blind.get(reverse("contacts:detail", args=[hiding.contact.pk])))
    assert "9169990011" not in contact_page and PHONE_DIGITS not in contact_page
    assert "55,555.00" in body(owner_client.get(reverse("deals:detail", args=[hiding.deal.pk])))


def test_the_search_dropdown_finds_nothing_through_a_hidden_field(hiding, blind, owner_client) -> None:
    for query in (PHONE_DIGITS, "8 916 123-45-67", EMAIL):
        found = body(blind.get(reverse("search"), {"q": query}, **HX))
        assert "Secretov" not in found, query
        assert "Secretov" in body(owner_client.get(reverse("search"), {"q": query}, **HX)), query
    by_name = body(blind.get(reverse("search"), {"q": "Secretov"}, **HX))
    assert "Secretov" in by_name
    assert_nothing_hidden_in(by_name)
    deals = body(blind.get(reverse("search"), {"q": "Big secret"}, **HX))
    assert "Big secret deal" in deals
    assert_nothing_hidden_in(deals)


# --- linked records the user may not see -------------------------------------------------------------------


@pytest.fixture
def manager(workspace):
    """A sales manager (scope own) with a deal of their own at a company owned by someone else."""
    with inside(workspace):
        user = user_create(
            email="own@example.com", password=PASSWORD, full_name="Own Scope", role=builtin_role(SALES_MANAGER)
        )
        from crm.deals.services import pipelines_ensure_default

        pipelines_ensure_default()
        company = CompanyFactory(name="Somebody Elses Client", owner=workspace.owner)
        deal = DealFactory(title="My own deal", company=company, owner=user)
        ActivityFactory(
            subject="My task there",
            company=company,
            deal=deal,
            assignee=user,
            created_by=user,
            due_at=timezone.now() - datetime.timedelta(hours=1),
        )
    return user, company, deal


def test_linked_records_the_user_may_not_see_are_not_named(workspace, manager) -> None:
    user, _company, deal = manager
    client = workspace.client(logged_in_as=user)
    with inside(workspace):
        task = Activity.objects.get(subject="My task there")
    pages = [
        reverse("deals:detail", args=[deal.pk]),
        reverse("deals:list"),
        reverse("deals:board"),
        reverse("deals:edit", args=[deal.pk]),
        reverse("activities:list"),
        reverse("activities:detail", args=[task.pk]),
        reverse("activities:edit", args=[task.pk]),
        reverse("home"),
        reverse("calendar:week"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        page = body(response)
        assert "Somebody Elses Client" not in page, url
    assert "My own deal" in body(client.get(reverse("deals:board")))


def test_saving_a_deal_keeps_a_link_the_user_may_not_see(workspace, manager) -> None:
    user, company, deal = manager
    client = workspace.client(logged_in_as=user)
    response = client.post(
        reverse("deals:edit", args=[deal.pk]),
        {"title": "My own deal, renamed", "amount": "10", "currency": "RUB", "version": deal.version},
    )
    assert response.status_code == 302, body(response)
    with inside(workspace):
        deal.refresh_from_db()
        assert deal.title == "My own deal, renamed" and deal.company_id == company.pk


def test_another_workspace_sees_none_of_it(hiding, other_workspace) -> None:
    other = other_workspace.client(logged_in_as=other_workspace.owner)
    for url in _pages(hiding)[3:6]:
        response = other.get(url)
        assert response.status_code == 404, url
        assert_nothing_hidden_in(body(response))
    with inside(hiding.workspace):
        assert Deal.objects.get(pk=hiding.deal.pk).amount == AMOUNT
