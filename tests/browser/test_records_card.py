"""The client card in a real browser: quick-add a note and a task, mark the task done, page the timeline."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory, CompanyFactory

pytestmark = pytest.mark.browser


def test_work_the_client_card(page, committed_db, live_url: str) -> None:
    ws = committed_db()
    base = f"http://{ws.domain}:{live_url.rsplit(':', 1)[1]}"
    assert ws.domain.endswith(f".{settings.BASE_DOMAIN}")
    now = timezone.now()
    with tenant_context(ws.tenant):
        company = CompanyFactory(name="Romashka LLC", owner=ws.owner)
        overdue = ActivityFactory(
            company=company, subject="Send the offer", assignee=ws.owner, due_at=now - datetime.timedelta(days=1)
        )
        for i in range(60):
            ActivityFactory(
                company=company,
                kind="note",
                subject=f"Old note {i}",
                is_done=True,
                created_at=now - datetime.timedelta(days=30, minutes=i),
            )
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(ws.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/companies/{company.pk}/")
    next_step = page.get_by_test_id("next-action")
    assert next_step.get_by_text("Send the offer").is_visible()
    assert next_step.get_by_test_id("overdue").is_visible()

    quick = page.get_by_test_id("quick-add")
    quick.locator("select[name=kind]").select_option("note")
    quick.locator("input[name=subject]").fill("Client called: wants a discount")
    quick.get_by_role("button", name="Add").click()
    timeline = page.get_by_test_id("timeline")
    timeline.get_by_text("Client called: wants a discount").wait_for()
    # The form came back empty, ready for the next one.
    assert page.get_by_test_id("quick-add").locator("input[name=subject]").input_value() == ""

    row = next_step.locator(f"#next-activity-{overdue.pk}")
    row.locator("input[name=result]").fill("Sent by email")
    row.get_by_role("button", name="Done").click()
    # Done: it leaves "Next step" at once and shows its result in the timeline.
    timeline.get_by_text("Sent by email").wait_for()
    next_step.get_by_text("Nothing planned").wait_for()
    assert next_step.get_by_text("Send the offer").count() == 0
    with tenant_context(ws.tenant):
        overdue.refresh_from_db()
        assert overdue.is_done and overdue.result == "Sent by email"
        assert Activity.objects.filter(company=company, subject__startswith="Client called").exists()

    assert timeline.get_by_text("Old note 59").count() == 0
    # "Older" loads the next page in place until the first entry is reached.
    for _ in range(10):
        if page.get_by_test_id("timeline-older").count() == 0:
            break
        older = page.get_by_test_id("timeline-older").element_handle()
        older.click()
        older.wait_for_element_state("hidden")  # replaced by the next page
    timeline.get_by_text("Old note 59").wait_for()
    assert page.get_by_test_id("timeline-older").count() == 0
