"""The flows a salesperson does every day, in a real browser: a company with a contact, a deal dragged across
the board, and the global search."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline
from crm.history.models import ChangeRecord
from tests.browser.conftest import log_in
from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.browser


def test_create_a_company_with_a_contact(page, ws, base: str) -> None:
    log_in(page, base, ws.owner.email)
    page.goto(f"{base}/companies/new/")
    page.get_by_label("Name", exact=True).fill("Lastochka Logistics LLC")
    page.get_by_label("Tax id (INN / VAT no.)").fill("7712345678")
    page.get_by_role("button", name="Create", exact=True).click()
    page.wait_for_url(re.compile(r".*/companies/\d+/$"))
    assert page.get_by_role("heading", name="Lastochka Logistics LLC").is_visible()
    company_url = page.url

    page.get_by_role("link", name="New contact").click()
    page.wait_for_url(re.compile(r".*/contacts/new/\?company=\d+$"))
    page.get_by_label("First name").fill("Irina")
    page.get_by_label("Last name").fill("Sokolova")
    page.get_by_label("Emails").fill("irina@lastochka.test")
    page.get_by_role("button", name="Create", exact=True).click()
    page.wait_for_url(re.compile(r".*/contacts/\d+/$"))

    page.goto(company_url)
    assert page.get_by_test_id("contacts").get_by_role("link", name=re.compile("Irina")).is_visible()
    with tenant_context(ws.tenant):
        company = Company.objects.get(name="Lastochka Logistics LLC")
        contact = Contact.objects.get(first_name="Irina", last_name="Sokolova")
        assert contact.company_id == company.pk and contact.emails == ["irina@lastochka.test"]


def test_drag_a_deal_across_the_board_and_close_it_as_lost(page, ws, base: str) -> None:
    with tenant_context(ws.tenant):
        pipeline = Pipeline.objects.get(name="Sales")
        stages = {s.name: s for s in pipeline.stages.all()}
        deal = DealFactory(title="Forklift fleet", stage=stages["New"], amount=Decimal("12500"), owner=ws.owner)
        other = DealFactory(title="Spare parts", stage=stages["New"], amount=Decimal("400"), owner=ws.owner)
    log_in(page, base, ws.owner.email)
    page.goto(f"{base}/deals/board/")
    new_head = page.locator(f"#stage-head-{stages['New'].pk}")
    assert "2 deals" in new_head.inner_text()

    page.drag_and_drop(f"#deal-{deal.pk}", f"[data-drop-stage='{stages['Proposal'].pk}']")
    page.locator(f"#stage-cards-{stages['Proposal'].pk} #deal-{deal.pk}").wait_for()
    assert page.locator(f"#stage-cards-{stages['New'].pk} #deal-{deal.pk}").count() == 0
    assert "1 deal" in page.locator(f"#stage-head-{stages['New'].pk}").inner_text()
    assert "RUB 12,500.00" in page.locator(f"#stage-head-{stages['Proposal'].pk}").inner_text().replace("\xa0", " ")
    with tenant_context(ws.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages["Proposal"].pk
        assert ChangeRecord.objects.filter(
            record_type=RecordType.DEAL, record_id=deal.pk, action=ChangeRecord.Action.STAGE_MOVED
        ).exists()

    # Still there after a reload: it was saved, not just moved on screen.
    page.reload()
    page.locator(f"#stage-cards-{stages['Proposal'].pk} #deal-{deal.pk}").wait_for()

    # Dropping on "lost" asks why.
    page.drag_and_drop(f"#deal-{other.pk}", "[data-testid=drop-lost]")
    dialog = page.locator("#lost-dialog")
    dialog.get_by_label("Lost reason").fill("Chose a cheaper supplier")
    dialog.get_by_role("button", name="Close as lost").click()
    page.locator(f"#deal-{other.pk}").wait_for(state="detached")
    with tenant_context(ws.tenant):
        other.refresh_from_db()
        assert other.stage_id == stages["Lost"].pk and other.lost_reason == "Chose a cheaper supplier"
        assert other.closed_at is not None


def test_a_refused_move_is_explained_and_the_card_stays(page, ws, base: str) -> None:
    with tenant_context(ws.tenant):
        stages = {s.name: s for s in Pipeline.objects.get(name="Sales").stages.all()}
        deal = DealFactory(title="Keyboard move", stage=stages["New"])
    log_in(page, base, ws.owner.email)
    page.goto(f"{base}/deals/board/")
    card = page.locator(f"#deal-{deal.pk}")
    # The keyboard way: the card's own move form, without a lost reason.
    card.get_by_text("Move", exact=True).first.click()
    card.get_by_label("Stage").select_option(label="Lost")
    card.get_by_role("button", name="Move").click()
    page.get_by_test_id("board-status").get_by_text("Say why the deal was lost.").wait_for()
    assert page.locator(f"#stage-cards-{stages['New'].pk} #deal-{deal.pk}").count() == 1
    with tenant_context(ws.tenant):
        assert Deal.objects.get(pk=deal.pk).stage_id == stages["New"].pk


def test_find_a_deal_with_the_global_search_and_open_it(page, ws, base: str) -> None:
    with tenant_context(ws.tenant):
        company = CompanyFactory(name="Severstal Trading")
        deal = DealFactory(title="Cold-rolled steel supply", company=company)
    log_in(page, base, ws.owner.email)
    search = page.get_by_test_id("global-search")
    search.fill("cold-rol")
    hit = page.get_by_test_id("search-hit").filter(has_text="Cold-rolled steel supply")
    hit.click()
    page.wait_for_url(f"{base}/deals/{deal.pk}/")
    assert page.get_by_role("heading", name="Cold-rolled steel supply").is_visible()

    search = page.get_by_test_id("global-search")
    search.fill("severst")
    page.get_by_test_id("search-hit").filter(has_text="Severstal Trading").click()
    page.wait_for_url(f"{base}/companies/{company.pk}/")


def test_an_admin_renames_a_stage_and_the_board_shows_it(page, ws, base: str) -> None:
    with tenant_context(ws.tenant):
        pipeline = Pipeline.objects.get(name="Sales")
        stage = pipeline.stages.get(name="Qualification")
    log_in(page, base, ws.owner.email)
    page.get_by_role("link", name="Pipelines").click()
    page.get_by_role("link", name="Sales").click()
    row = page.get_by_test_id("stage-row").filter(has=page.locator(f"#stage-{stage.pk}"))
    row.get_by_label("Name").fill("Discovery")
    row.get_by_label("Win probability, %").fill("25")
    row.get_by_role("button", name="Save").click()
    page.get_by_text("Stage saved.").wait_for()
    with tenant_context(ws.tenant):
        stage.refresh_from_db()
        assert (stage.name, stage.probability) == ("Discovery", 25)
    page.goto(f"{base}/deals/board/")
    assert page.locator(f"#stage-head-{stage.pk}").get_by_role("heading", name="Discovery").is_visible()
