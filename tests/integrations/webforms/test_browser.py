"""In a real browser: the code for the website, served by another website, sends the form to Kontor (with
its Origin, the spam trap hidden); a field's error comes back on Kontor's page, and corrected there the form
goes through; a script on the website posts JSON across origins (CORS preflight)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from crm.leads.models import Lead
from integrations.webforms.selectors import webform_of
from integrations.webforms.snippet import snippet_html
from tests.browser.conftest import base, live_url, page, ws  # noqa: F401 - the browser's fixtures
from tests.integrations.webforms.conftest import make_form

pytestmark = pytest.mark.browser


@pytest.fixture
def website() -> Iterator[dict[str, Any]]:
    """Another website (its own origin) serving `site["html"]` at /."""
    site: dict[str, Any] = {"html": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site["origin"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def test_the_code_on_a_website_sends_leads(page, ws, base, website) -> None:  # noqa: F811
    form = make_form(ws, "Site form")
    url = f"{base}{form.url}"
    with tenant_context(ws.tenant):
        form.save(allowed_origins=[website["origin"]])
        code = snippet_html(webform_of(form.connection()), url)
    connection.set_schema_to_public()
    website["html"] = f"<!doctype html><html><head><meta charset='utf-8'></head><body>{code}</body></html>"

    page.goto(website["origin"] + "/")
    assert not page.locator("input[name=website]").is_visible()
    page.locator("input[name=name]").fill("Anna Smirnova")
    page.locator("input[name=email]").fill("anna@example.com")
    page.locator("input[name=phone]").fill("12")
    page.get_by_role("button", name="Send").click()
    page.get_by_test_id("webform-answer").wait_for()
    assert page.locator("[data-error-for=phone]").is_visible()
    assert page.locator("input[name=name]").input_value() == "Anna Smirnova"
    page.locator("input[name=phone]").fill("8 916 222-33-44")
    page.get_by_role("button", name="Send").click()
    page.get_by_test_id("webform-thanks").wait_for()

    page.goto(website["origin"] + "/")
    answer = page.evaluate(
        """async (url) => {
            const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify({name: "Boris", email: "boris@example.com"})});
            return {status: r.status, body: await r.json()};
        }""",
        url,
    )
    assert answer["status"] == 201 and answer["body"]["received"] is True
    with tenant_context(ws.tenant):
        leads = list(Lead.objects.order_by("id").values_list("contact_name", "phone"))
    connection.set_schema_to_public()
    assert leads == [("Anna Smirnova", "+79162223344"), ("Boris", "")]
