"""The Content-Security-Policy holds in a real browser: the main pages and what people do on them (log in, my
day, the lists, the client card, the board with drag and drop and its filters, the global search, settings)
raise no CSP violation and no JavaScript error."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from crm.deals.models import Pipeline
from tests.browser.conftest import log_in
from tests.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.browser

# Runs in every document before its own scripts (injected by the browser, not subject to the page's CSP).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


class Problems:
    def __init__(self, page: Any) -> None:
        self.seen: list[str] = []
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"JS error on {page.url}: {error}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        text = message.text
        # Chromium reports a violation on the console itself too; a failed request (a 4xx the page expects) is no
        # script error.
        reported = "Content Security Policy" in text or "CSP violation" in text or message.type == "error"
        if reported and "Failed to load resource" not in text:
            self.seen.append(f"console {message.type}: {text}")

    def _response(self, response: Any) -> None:
        if response.request.resource_type == "document" and "content-security-policy" not in response.headers:
            self.seen.append(f"no Content-Security-Policy on {response.url}")


def test_the_main_pages_and_their_scripts_run_under_the_policy(page, ws, base: str) -> None:
    with tenant_context(ws.tenant):
        stages = {s.name: s for s in Pipeline.objects.get(name="Sales").stages.all()}
        company = CompanyFactory(name="Severstal Trading", phones=["+79031234567"])
        ContactFactory(first_name="Irina", last_name="Sokolova", company=company)
        deal = DealFactory(title="Forklift fleet", company=company, stage=stages["New"], amount=Decimal("12500"))
    problems = Problems(page)

    page.goto(f"{base}/login/")
    log_in(page, base, ws.owner.email)  # my day
    for path in ("/companies/", "/contacts/", "/deals/", "/leads/", "/activities/", "/calendar/"):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("load")

    # The client card and its htmx quick-add.
    page.goto(f"{base}/companies/{company.pk}/")
    assert page.get_by_role("heading", name="Severstal Trading").is_visible()

    # The board: drag and drop (board.js), the owner picker submits itself (kontor.js, no inline handler).
    page.goto(f"{base}/deals/board/")
    page.drag_and_drop(f"#deal-{deal.pk}", f"[data-drop-stage='{stages['Proposal'].pk}']")
    page.locator(f"#stage-cards-{stages['Proposal'].pk} #deal-{deal.pk}").wait_for()
    owner = page.get_by_role("combobox", name="Owner")
    owner.fill("Me")
    page.get_by_role("option", name="Me", exact=True).click()
    page.wait_for_url(re.compile(r".*/deals/board/\?.*owner=me"))

    # The global search (htmx) by a part of the phone, then a hit.
    page.get_by_test_id("global-search").fill("8 903 123")
    page.get_by_test_id("search-hit").filter(has_text="Severstal Trading").click()
    page.wait_for_url(f"{base}/companies/{company.pk}/")

    # The calendar, settings, the profile and the API docs.
    page.goto(f"{base}/calendar/")
    for path in (
        "/settings/teams/",
        "/settings/users/",
        "/settings/roles/",
        "/profile/",
        "/settings/pipelines/",
        "/api/v1/docs",
    ):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("load")

    assert problems.seen == []


def test_an_inline_script_would_be_reported(page, ws, base: str) -> None:
    """The check above can fail: an inline script in a page is refused and reported."""
    problems = Problems(page)
    page.goto(f"{base}/login/")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.ran = 1";
                   document.body.append(s); }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran") is None
    assert any("script-src" in p for p in problems.seen), problems.seen
