"""Every main page on a phone (390 x 844): nothing scrolls sideways, the navigation folds behind a button, the
board's columns swipe inside their own box."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.deals.models import Pipeline
from crm.deals.services import pipelines_ensure_default
from tenants.accounts.models import Role, Team
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, LeadFactory, ProductFactory

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
LONG = "Общество с ограниченной ответственностью «Торговый дом Северо-Западный регион»"


def _pages(ws) -> list[str]:
    with tenant_context(ws.tenant):
        pipelines_ensure_default()
        company = CompanyFactory(
            name=LONG,
            owner=ws.owner,
            emails=["very.long.address.of.the.purchasing.department@severo-zapadny-torgovy-dom.example.com"],
            website="https://www.severo-zapadny-torgovy-dom.example.com/about/contacts/departments/purchasing",
            tags=["ключевой клиент", "оптовый покупатель", "постоянный"],
        )
        contact = ContactFactory(first_name="Константин", last_name="Ковальчук-Преображенский", company=company)
        deal = DealFactory(title=f"Поставка оборудования для {LONG}", company=company, owner=ws.owner)
        lead = LeadFactory(title=f"Заявка с сайта от {LONG}", owner=ws.owner)
        product = ProductFactory(name="Стеллаж складской металлический усиленный", sku="STL-2000-XL")
        task = ActivityFactory(company=company, subject=f"Позвонить: {LONG}", assignee=ws.owner, due_at=timezone.now())
        pipeline = Pipeline.objects.first()
        role = Role.objects.order_by("pk").first()
        team = Team.objects.create(name="Отдел продаж Северо-Запад")
    today = datetime.date.today().isoformat()
    return [
        "/",
        *(reverse(f"{ns}:list") for ns in ("companies", "contacts", "leads", "deals", "products", "activities")),
        reverse("companies:detail", args=[company.pk]),
        reverse("contacts:detail", args=[contact.pk]),
        reverse("deals:detail", args=[deal.pk]),
        reverse("leads:detail", args=[lead.pk]),
        reverse("products:detail", args=[product.pk]),
        reverse("activities:detail", args=[task.pk]),
        reverse("companies:create"),
        reverse("deals:create"),
        reverse("deals:line_items", args=[deal.pk]),
        reverse("companies:merge", args=[company.pk]),
        reverse("leads:convert", args=[lead.pk]),
        reverse("deals:board"),
        f"{reverse('calendar:week')}?date={today}",
        f"{reverse('calendar:day')}?date={today}",
        f"{reverse('search')}?q=общество",
        reverse("settings:pipelines"),
        reverse("settings:pipeline", args=[pipeline.pk]),
        reverse("settings:custom_fields"),
        reverse("manage:users"),
        reverse("manage:invite"),
        reverse("manage:user", args=[ws.owner.pk]),
        reverse("manage:teams"),
        reverse("manage:team", args=[team.pk]),
        reverse("manage:roles"),
        reverse("manage:role", args=[role.pk]),
        reverse("manage:audit"),
        reverse("accounts:security"),
        reverse("accounts:profile"),
        reverse("accounts:api_keys"),
        reverse("accounts:two_factor"),
        reverse("accounts:password"),
    ]


def _sideways(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_no_page_scrolls_sideways_on_a_phone(page, ws, base) -> None:
    pages = _pages(ws)
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/login/")
    assert _sideways(page) <= 0
    page.get_by_label("Email").fill(ws.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    wide = {}
    for path in pages:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        if (extra := _sideways(page)) > 0:
            wide[path] = extra
    assert wide == {}


def test_the_navigation_folds_behind_a_button_and_the_search_keeps_its_width(page, ws, base) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(ws.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not nav.is_visible()
    content = page.locator("main.content").bounding_box()
    assert content is not None and content["width"] >= 380
    search = page.get_by_test_id("global-search").bounding_box()
    assert search is not None and search["width"] >= 300
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true" and nav.is_visible()
    nav.get_by_role("link", name="Companies").click()
    page.wait_for_url(f"{base}/companies/")
    # On a desktop the navigation is always there and the button is not.
    page.set_viewport_size({"width": 1366, "height": 800})
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert not page.get_by_role("button", name="Menu").is_visible()


def test_the_board_swipes_its_columns_inside_its_own_box(page, ws, base) -> None:
    with tenant_context(ws.tenant):
        pipelines_ensure_default()
        DealFactory(title="Поставка стульев", owner=ws.owner)
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(ws.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/deals/board/")
    columns = page.locator(".board-columns")
    style = columns.evaluate("e => [getComputedStyle(e).scrollSnapType, e.scrollWidth > e.clientWidth]")
    assert style[0].startswith("x") and style[1] is True
    first = page.locator(".board-column").first.bounding_box()
    assert first is not None and 250 <= first["width"] <= 390
    assert _sideways(page) <= 0
