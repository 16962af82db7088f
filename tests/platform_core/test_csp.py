"""Every page carries the Content-Security-Policy, and no template needs what it forbids: no inline script, no
on*= handler, no javascript: URL, no inline style (the browser test checks the pages in Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
TEMPLATES = sorted(
    p for p in ROOT.rglob("templates/**/*.html") if ".venv" not in p.parts and "node_modules" not in p.parts
)


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.django_db
def test_pages_of_the_public_site_and_of_a_workspace_carry_the_policy(public_client, owner_client) -> None:
    for response in (
        public_client.get("/"),
        public_client.get("/signup/"),
        owner_client.get("/"),
        owner_client.get("/companies/"),
        owner_client.get("/deals/board/"),
    ):
        assert response.status_code == 200
        policy = _directives(response["Content-Security-Policy"])
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"]
        assert policy["form-action"][0] == "'self'"
        assert not any("unsafe" in source for sources in policy.values() for source in sources)


def test_templates_have_no_inline_script_handler_or_style() -> None:
    assert len(TEMPLATES) > 50
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    found = []
    for path in TEMPLATES:
        text = path.read_text()
        for name, pattern in (
            ("inline script", inline_script),
            ("on*= handler", handler),
            ("javascript: URL", re.compile(r"javascript:", re.I)),
            ("style attribute", re.compile(r"\sstyle\s*=", re.I)),
            ("<style> element", re.compile(r"<style\b", re.I)),
            ("htmx eval (hx-on, js: values)", re.compile(r"hx-on|hx-vals=['\"]js:|hx-vars", re.I)),
        ):
            if pattern.search(text):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []
