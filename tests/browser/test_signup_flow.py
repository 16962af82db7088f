"""A visitor signs up on the public site, lands in the new workspace, logs out and logs back in."""

from __future__ import annotations

import re
import secrets

import pytest
from django.conf import settings

from tenants.models import Tenant
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_up_land_log_out_log_in(page, live_url: str) -> None:
    subdomain = f"e2e-{secrets.token_hex(3)}"
    port = live_url.rsplit(":", 1)[1]

    page.goto(f"{live_url}/")
    page.get_by_role("link", name="Create your workspace").click()
    page.get_by_label("Company name").fill("Browser Test LLC")
    page.get_by_label("Workspace address").fill(subdomain)
    page.wait_for_selector("text=is available")  # the htmx check as you type
    page.get_by_label("Your name").fill("Maria Test")
    page.get_by_label("Work email").fill("Maria@Example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create workspace").click()

    workspace_url = f"http://{subdomain}.{settings.BASE_DOMAIN}:{port}/"
    page.wait_for_url(workspace_url)
    assert page.get_by_test_id("workspace-name").inner_text() == "Browser Test LLC"
    assert page.get_by_test_id("current-user").inner_text() == "Maria Test"
    assert Tenant.objects.filter(schema_name=f"ws_{subdomain.replace('-', '_')}", kind="workspace").exists()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login/$"))
    assert page.get_by_test_id("current-user").count() == 0

    page.get_by_label("Email").fill("maria@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("Wrong email or password for this workspace.").is_visible()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(workspace_url)
    assert page.get_by_test_id("current-user").inner_text() == "Maria Test"


def test_signup_takes_the_browser_s_language_and_time_zone(page, live_url: str) -> None:
    subdomain = f"e2e-{secrets.token_hex(3)}"
    port = live_url.rsplit(":", 1)[1]
    context = page.context.browser.new_context(locale="ru-RU", timezone_id="Asia/Vladivostok")
    visitor = context.new_page()
    visitor.set_default_timeout(15_000)
    try:
        visitor.goto(f"{live_url}/signup/")
        assert visitor.locator("html").get_attribute("lang") == "ru"
        assert visitor.locator("select[name=currency]").input_value() == "RUB"
        visitor.fill("input[name=company_name]", "Vladivostok LLC")
        visitor.fill("input[name=subdomain]", subdomain)
        visitor.wait_for_selector("#subdomain-check .ok")
        visitor.fill("input[name=owner_name]", "Ivan Test")
        visitor.fill("input[name=owner_email]", "ivan@example.com")
        visitor.fill("input[name=owner_password]", PASSWORD)
        visitor.locator("form button[type=submit]").last.click()
        visitor.wait_for_url(f"http://{subdomain}.{settings.BASE_DOMAIN}:{port}/")
        assert visitor.locator("html").get_attribute("lang") == "ru"
    finally:
        context.close()
    tenant = Tenant.objects.get(schema_name=f"ws_{subdomain.replace('-', '_')}")
    assert (tenant.language, tenant.currency, tenant.time_zone) == ("ru", "RUB", "Asia/Vladivostok")
