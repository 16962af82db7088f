"""Small things in a real browser: the bulk bar appears only with a selection, a task done under "Next step"
makes room for the next one at once, and at 1366 px every stage column of the board is in view."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.deals.services import pipelines_ensure_default
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory, CompanyFactory, DealFactory

pytestmark = pytest.mark.browser


def _log_in(page, base: str, ws) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(ws.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def test_small_things(page, ws, base) -> None:
    now = timezone.now()
    with tenant_context(ws.tenant):
        pipelines_ensure_default()
        company = CompanyFactory(name="Romashka LLC", owner=ws.owner)
        CompanyFactory(name="Vector LLC", owner=ws.owner)
        ActivityFactory(
            company=company, subject="Call first", assignee=ws.owner, due_at=now + datetime.timedelta(hours=1)
        )
        ActivityFactory(
            company=company, subject="Then meet", assignee=ws.owner, due_at=now + datetime.timedelta(days=2)
        )
        DealFactory(title="Chairs", company=company, owner=ws.owner)
    _log_in(page, base, ws)

    # The bulk bar only with a selection, saying how many.
    page.goto(f"{base}/companies/")
    bar = page.get_by_test_id("bulk-bar")
    assert not bar.is_visible()
    page.get_by_role("checkbox", name="Select Romashka LLC").check()
    assert bar.is_visible() and page.get_by_test_id("bulk-count").inner_text().endswith("1")
    page.get_by_role("checkbox", name="Select all on this page").check()
    assert page.get_by_test_id("bulk-count").inner_text().endswith("2")
    page.get_by_role("checkbox", name="Select all on this page").uncheck()
    assert not bar.is_visible()

    # Done under "Next step": the next one takes its place, without a reload.
    page.goto(f"{base}/companies/{company.pk}/")
    next_step = page.get_by_test_id("next-action")
    next_step.get_by_role("button", name="Done").click()
    next_step.get_by_text("Then meet").wait_for()
    assert next_step.get_by_text("Call first").count() == 0

    # At 1366 px the board shows every open stage beside the others, none under the won/lost zones.
    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto(f"{base}/deals/board/")
    assert page.get_by_test_id("board-new-deal").is_visible()
    zones = [page.get_by_test_id(f"drop-{o}").bounding_box() for o in ("won", "lost")]
    box = page.locator(".board-columns").bounding_box()
    assert box is not None
    for column in page.get_by_test_id("board-column").all():
        c = column.bounding_box()
        assert c is not None and c["x"] + c["width"] <= box["x"] + box["width"] + 1
        for z in zones:
            assert z is not None
            overlap_x = c["x"] < z["x"] + z["width"] and z["x"] < c["x"] + c["width"]
            overlap_y = c["y"] < z["y"] + z["height"] and z["y"] < c["y"] + c["height"]
            assert not (overlap_x and overlap_y)
    page.get_by_test_id("board-new-deal").click()
    page.wait_for_url(f"{base}/deals/new/?pipeline=*")
