"""Every record page renders for a member, is a 404 with another workspace's ids and a login redirect for
an anonymous visitor; nothing changes on a refused request."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.deals.models import Deal, DealLineItem
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from crm.products.models import Product
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, LeadFactory, ProductFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(workspace) -> dict[str, Any]:
    with inside(workspace):
        company = CompanyFactory(name="Romashka LLC", owner=workspace.owner)
        contact = ContactFactory(company=company, first_name="Anna", last_name="Petrova")
        deal = DealFactory(company=company, title="Big order")
        deal.contacts.add(contact)
        product = ProductFactory(name="Widget")
        DealLineItem.objects.create(deal=deal, product=product, name="Widget", quantity=2, price=Decimal("100"))
        lead = LeadFactory(title="Website request")
        activity = ActivityFactory(company=company, deal=deal, subject="Call the buyer", assignee=workspace.owner)
        return {
            "company": company.pk,
            "contact": contact.pk,
            "deal": deal.pk,
            "lead": lead.pk,
            "product": product.pk,
            "activity": activity.pk,
        }


def _pages(r: dict[str, Any]) -> list[str]:
    return [
        reverse("companies:detail", args=[r["company"]]),
        reverse("companies:edit", args=[r["company"]]),
        reverse("companies:delete", args=[r["company"]]),
        reverse("companies:merge", args=[r["company"]]),
        reverse("companies:timeline", args=[r["company"]]),
        reverse("contacts:detail", args=[r["contact"]]),
        reverse("contacts:edit", args=[r["contact"]]),
        reverse("contacts:delete", args=[r["contact"]]),
        reverse("contacts:merge", args=[r["contact"]]),
        reverse("deals:detail", args=[r["deal"]]),
        reverse("deals:edit", args=[r["deal"]]),
        reverse("deals:line_items", args=[r["deal"]]),
        reverse("deals:delete", args=[r["deal"]]),
        reverse("deals:timeline", args=[r["deal"]]),
        reverse("leads:detail", args=[r["lead"]]),
        reverse("leads:edit", args=[r["lead"]]),
        reverse("leads:delete", args=[r["lead"]]),
        reverse("leads:convert", args=[r["lead"]]),
        reverse("products:detail", args=[r["product"]]),
        reverse("products:edit", args=[r["product"]]),
        reverse("products:delete", args=[r["product"]]),
        reverse("activities:detail", args=[r["activity"]]),
        reverse("activities:edit", args=[r["activity"]]),
        reverse("activities:delete", args=[r["activity"]]),
    ]


CREATE_PAGES = ["companies:create", "contacts:create", "deals:create", "leads:create", "products:create"]


def test_every_page_renders(workspace, owner_client, records) -> None:
    for url in _pages(records):
        response = owner_client.get(url)
        assert response.status_code == 200, url
    for name in [*CREATE_PAGES, "activities:create"]:
        assert owner_client.get(reverse(name)).status_code == 200, name


def test_company_card_shows_the_client(workspace, owner_client, records) -> None:
    response = owner_client.get(reverse("companies:detail", args=[records["company"]]))
    html = response.content.decode()
    assert "Romashka LLC" in html
    assert "Anna Petrova" in html
    assert "Big order" in html
    assert "Call the buyer" in html
    assert 'data-testid="next-action"' in html


def test_overdue_task_is_marked_overdue_on_card_and_page(workspace, owner_client, records) -> None:
    from django.utils import timezone

    with inside(workspace):
        Activity.objects.filter(pk=records["activity"]).update(due_at=timezone.now() - timezone.timedelta(days=2))
    for url in (
        reverse("companies:detail", args=[records["company"]]),
        reverse("deals:detail", args=[records["deal"]]),
        reverse("activities:detail", args=[records["activity"]]),
    ):
        assert 'data-testid="overdue"' in owner_client.get(url).content.decode(), url


def test_anonymous_visitor_is_sent_to_login(workspace, records) -> None:
    client = workspace.client()
    for url in _pages(records) + [reverse(n) for n in CREATE_PAGES]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert reverse("accounts:login") in response["Location"], url
    response = client.post(reverse("companies:delete", args=[records["company"]]))
    assert response.status_code == 302
    with inside(workspace):
        assert Company.objects.filter(pk=records["company"]).exists()


def test_another_workspace_sees_nothing_and_changes_nothing(workspace, other_workspace, records) -> None:
    stranger = other_workspace.client(logged_in_as=other_workspace.owner)
    for url in _pages(records):
        assert stranger.get(url).status_code == 404, url
    posts = [
        (reverse("companies:edit", args=[records["company"]]), {"name": "Hacked"}),
        (reverse("companies:delete", args=[records["company"]]), {}),
        (reverse("companies:merge", args=[records["company"]]), {"other": records["company"], "keep": "this"}),
        (reverse("companies:quick_add", args=[records["company"]]), {"kind": "note", "subject": "x"}),
        (reverse("contacts:edit", args=[records["contact"]]), {"first_name": "Hacked"}),
        (reverse("contacts:delete", args=[records["contact"]]), {}),
        (reverse("deals:edit", args=[records["deal"]]), {"title": "Hacked"}),
        (reverse("deals:line_items", args=[records["deal"]]), {}),
        (reverse("deals:delete", args=[records["deal"]]), {}),
        (reverse("leads:edit", args=[records["lead"]]), {"title": "Hacked"}),
        (reverse("leads:convert", args=[records["lead"]]), {"company_mode": "create", "contact_mode": "create"}),
        (reverse("leads:delete", args=[records["lead"]]), {}),
        (reverse("products:edit", args=[records["product"]]), {"name": "Hacked"}),
        (reverse("products:delete", args=[records["product"]]), {}),
        (reverse("activities:edit", args=[records["activity"]]), {"subject": "Hacked"}),
        (reverse("activities:done", args=[records["activity"]]), {"done": "on"}),
        (reverse("activities:delete", args=[records["activity"]]), {}),
    ]
    for url, data in posts:
        assert stranger.post(url, data).status_code == 404, url
    with inside(workspace):
        assert Company.objects.get(pk=records["company"]).name == "Romashka LLC"
        assert Contact.objects.get(pk=records["contact"]).first_name == "Anna"
        assert Deal.objects.get(pk=records["deal"]).title == "Big order"
        assert DealLineItem.objects.filter(deal_id=records["deal"]).count() == 1
        assert Lead.objects.get(pk=records["lead"]).status == Lead.Status.NEW
        assert Product.objects.get(pk=records["product"]).name == "Widget"
        activity = Activity.objects.get(pk=records["activity"])
        assert activity.subject == "Call the buyer" and not activity.is_done
        assert Activity.objects.count() == 1
        assert not ChangeRecord.objects.exists()


def test_missing_record_is_404(owner_client) -> None:
    for name in ("companies:detail", "contacts:detail", "deals:detail", "leads:detail", "products:detail"):
        assert owner_client.get(reverse(name, args=[999999])).status_code == 404
