"""An administrator hides deal amounts from a role in the browser; a person given that role works the board and
the deal's card without ever seeing an amount."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from crm.deals.models import Pipeline
from tenants.accounts.models import Role, User
from tenants.accounts.roles import SALES_HEAD, builtin_role
from tenants.accounts.services import user_create
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.browser

AMOUNTS = ("987,654", "987654", "987 654", "987\xa0654")


def _shows_no_amount(text: str) -> bool:
    return not any(amount in text for amount in AMOUNTS)


def test_a_role_that_hides_deal_amounts(page, ws, base: str) -> None:
    with tenant_context(ws.tenant):
        kate = user_create(
            email="kate@example.com", password=PASSWORD, full_name="Kate Analyst", role=builtin_role(SALES_HEAD)
        )
        stage = Pipeline.objects.get(name="Sales").stages.get(name="New")
        company = CompanyFactory(name="Uralmash Service")
        deal = DealFactory(
            title="Turbine overhaul", company=company, stage=stage, amount=Decimal("987654.00"), owner=ws.owner
        )

    # The administrator copies the built-in sales head role, hides deal amounts and gives it to Kate.
    log_in(page, base, ws.owner.email)
    page.goto(f"{base}/settings/roles/")
    page.get_by_role("row", name=re.compile("Sales head")).get_by_role("button", name="Copy").click()
    page.wait_for_url(re.compile(r".*/settings/roles/\d+/$"))
    page.get_by_label("Name", exact=True).fill("Sales analyst")
    page.get_by_label(re.compile("amount, line items and totals")).check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Sales analyst").first.wait_for()
    with tenant_context(ws.tenant):
        role = Role.objects.get(name="Sales analyst")
        assert role.hidden_fields == {"deal": ["amount"]} and not role.builtin
        kate_id = kate.pk
    page.goto(f"{base}/settings/users/{kate_id}/")
    page.get_by_label("Role", exact=True).select_option(label="Sales analyst")
    page.get_by_role("button", name="Save").first.click()
    page.wait_for_load_state()
    with tenant_context(ws.tenant):
        assert User.objects.get(pk=kate_id).role_id == role.pk

    # The administrator still sees the amount...
    page.goto(f"{base}/deals/{deal.pk}/")
    assert not _shows_no_amount(page.content())
    page.context.clear_cookies()

    # ...Kate sees the deal, its stage and company, never its amount: not on the board, not in the column's sum,
    # not on the deal's card nor the client card.
    log_in(page, base, "kate@example.com")
    page.goto(f"{base}/deals/board/")
    card = page.locator(f"#deal-{deal.pk}")
    card.wait_for()
    assert "Turbine overhaul" in card.inner_text()
    assert _shows_no_amount(page.content())
    assert _shows_no_amount(page.locator(f"#stage-head-{stage.pk}").inner_text())
    card.get_by_role("link", name="Turbine overhaul").click()
    page.wait_for_url(f"{base}/deals/{deal.pk}/")
    assert page.get_by_role("heading", name="Turbine overhaul").is_visible()
    assert _shows_no_amount(page.content())
    page.goto(f"{base}/companies/{company.pk}/")
    assert "Turbine overhaul" in page.content()
    assert _shows_no_amount(page.content())
