"""An administrator turns on the shipped "Discount approval" process in the browser; a big discount holds the
deal; the team head sees the approval in My day, rejects it without a reason (told in place), then approves it;
the deal's card shows the process finished and the manager is told."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from crm.deals.models import Deal, Pipeline
from crm.deals.services import deal_set_line_items
from crm.processes.models import Instance, Notification, ProcessDefinition
from tenants.accounts.models import Team
from tenants.accounts.roles import SALES_HEAD, builtin_role
from tenants.accounts.services import user_create
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.browser


def test_a_discount_waits_for_the_heads_approval(page, ws, base: str) -> None:
    with tenant_context(ws.tenant):
        head = user_create(
            email="helen@example.com", password=PASSWORD, full_name="Helen Head", role=builtin_role(SALES_HEAD)
        )
        team = Team.objects.create(name="Sales team", head=head)
        manager = user_create(email="mark@example.com", password=PASSWORD, full_name="Mark Manager", team=team)
        stage = Pipeline.objects.get(name="Sales").stages.get(name="New")
        deal = DealFactory(title="Tractor fleet", company=CompanyFactory(), stage=stage, owner=manager)
        deal_id = deal.pk

    # The administrator installs the template, publishes it and turns it on.
    log_in(page, base, ws.owner.email)
    page.goto(f"{base}/settings/processes/")
    form = page.get_by_test_id("new-process")
    form.get_by_label("Start from").select_option(label="Discount approval")
    form.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r".*/settings/processes/\d+/$"))
    page.get_by_test_id("publish").click()
    page.get_by_test_id("activate").click()
    page.get_by_test_id("deactivate").wait_for()
    with tenant_context(ws.tenant):
        definition = ProcessDefinition.objects.get(template="discount_approval")
        assert definition.is_active and definition.current is not None

    # The manager gives a 20% discount: the process starts and holds the deal.
    with tenant_context(ws.tenant):
        items = [{"name": "Tractor", "quantity": 3, "price": "1000000", "discount_percent": "20"}]
        deal_set_line_items(actor=manager, deal=Deal.objects.get(pk=deal_id), items=items)
        instance = Instance.objects.get(definition=definition, record_id=deal_id)
        assert instance.state == "running" and instance.holds_record

    # The head finds it in My day: a rejection needs a reason, said beside the form; then they approve.
    head_page = page.context.browser.new_context().new_page()
    head_page.set_default_timeout(15_000)
    log_in(head_page, base, head.email)
    approvals = head_page.get_by_test_id("my-approvals")
    approvals.get_by_text("Tractor fleet").wait_for()
    approvals.get_by_role("button", name="Reject").click()
    head_page.get_by_test_id("comment-error").wait_for()
    with tenant_context(ws.tenant):
        assert Instance.objects.get(pk=instance.pk).state == "running"
    head_page.get_by_test_id("my-approvals").get_by_role("button", name="Approve").click()
    head_page.get_by_test_id("approvals-message").wait_for()
    with tenant_context(ws.tenant):
        instance.refresh_from_db()
        assert instance.state == "completed" and not instance.holds_record
        assert Notification.objects.filter(user=manager, text="Discount approved.").exists()

    # The deal's card shows the finished process.
    head_page.goto(f"{base}/deals/{deal_id}/")
    panel = head_page.get_by_test_id("process-panel")
    panel.get_by_text("Discount approval").wait_for()
    assert "Recently finished" in panel.inner_text()
