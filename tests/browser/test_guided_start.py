"""A new workspace in a real browser: My day guides the first steps; sample data comes and goes in one click."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.companies.models import Company
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_try_the_crm_on_sample_data_then_remove_it(page, ws, base) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(ws.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    start = page.get_by_test_id("guided-start")
    assert start.get_by_role("link", name="Invite your colleagues").is_visible()
    assert start.get_by_role("link", name="Set up your first pipeline").is_visible()
    start.get_by_role("button", name="Add sample data").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/companies/")
    assert page.get_by_role("link", name="Ромашка ООО").is_visible()
    page.goto(f"{base}/")
    page.get_by_test_id("guided-start").get_by_role("button", name="Remove the sample data").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_test_id("sample-add").is_visible()
    with tenant_context(ws.tenant):
        assert not Company.objects.exists()
