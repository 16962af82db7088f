"""Workspace address rules: format, reserved names and taken names, case-insensitively."""

from __future__ import annotations

import pytest

from tenants.services import subdomain_errors
from tenants.validators import normalize_subdomain, schema_name_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("acme", True),
        ("abc", True),
        ("a1b", True),
        ("123", True),
        ("acme-trade", True),
        ("a-b-c", True),
        ("x" * 30, True),
        ("ACME", True),  # normalized to lowercase
        ("  acme  ", True),  # surrounding spaces are a typing slip, not a different name
        ("ab", False),
        ("x" * 31, False),
        ("-acme", False),
        ("acme-", False),
        ("ac--me", False),
        ("xn--80ak6aa92e", False),
        ("ac_me", False),
        ("ac.me", False),
        ("ac me", False),
        ("acmé", False),
        ("", False),
    ],
)
def test_format(raw: str, ok: bool) -> None:
    assert (subdomain_errors(normalize_subdomain(raw)) == []) is ok


@pytest.mark.parametrize("name", ["www", "api", "admin", "app", "support", "public", "static", "media", "mail"])
def test_reserved_names_refused_in_any_case(name: str) -> None:
    for variant in (name, name.upper(), name.capitalize()):
        errors = subdomain_errors(normalize_subdomain(variant))
        assert errors == ["This address is reserved. Please choose another."]


def test_taken_name_refused_in_any_case(workspace_factory) -> None:
    workspace_factory(subdomain="taken-co")
    for variant in ("taken-co", "TAKEN-CO", "Taken-Co"):
        assert subdomain_errors(normalize_subdomain(variant)) == ["This address is already taken."]
    assert subdomain_errors("taken-co2") == []


def test_schema_names_are_valid_postgres_identifiers() -> None:
    assert schema_name_for("1st-choice") == "ws_1st_choice"
