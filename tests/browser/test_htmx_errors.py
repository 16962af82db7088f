"""htmx forms in a real browser: a refused quick add shows its error beside the subject, and the next try
works; nothing is added meanwhile."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from tests.browser.conftest import log_in
from tests.factories import CompanyFactory

pytestmark = pytest.mark.browser


def test_quick_add_errors_show_where_the_input_is(page, ws, base) -> None:
    with tenant_context(ws.tenant):
        company = CompanyFactory(name="Romashka LLC", owner=ws.owner)
    log_in(page, base, ws.owner.email)
    page.goto(f"{base}/companies/{company.pk}/")
    quick = page.get_by_test_id("quick-add")
    quick.get_by_role("button", name="Add").click()
    error = page.get_by_test_id("quick-add-subject-errors")
    error.wait_for()
    assert "This field cannot be blank." in error.inner_text()
    subject = page.get_by_role("textbox", name="Subject")
    assert subject.get_attribute("aria-invalid") == "true"
    with tenant_context(ws.tenant):
        assert not Activity.objects.exists()
    subject.fill("Call back on Monday")
    page.get_by_test_id("quick-add").get_by_role("button", name="Add").click()
    page.get_by_test_id("timeline").get_by_text("Call back on Monday").wait_for()
    assert page.get_by_test_id("quick-add-subject-errors").count() == 0


def test_a_read_only_workspace_says_why_beside_the_form(page, ws, base, settings) -> None:
    """The workspace became read-only (billing) while its page was open: the quick add is refused in words."""
    from tenants.models import Tenant

    settings.BILLING_ENABLED = True
    with tenant_context(ws.tenant):
        company = CompanyFactory(name="Closed Ltd", owner=ws.owner)
    log_in(page, base, ws.owner.email)
    page.goto(f"{base}/companies/{company.pk}/")
    tenant = Tenant.objects.get(pk=ws.tenant.pk)
    tenant.read_only, tenant.billing_state = True, "read_only"
    tenant.save(update_fields=["read_only", "billing_state"])
    page.get_by_role("textbox", name="Subject").fill("Call back")
    page.get_by_test_id("quick-add").get_by_role("button", name="Add").click()
    note = page.get_by_test_id("htmx-failed")
    note.wait_for()
    assert note.inner_text().startswith("This workspace is read-only")
    with tenant_context(ws.tenant):
        assert not Activity.objects.exists()
