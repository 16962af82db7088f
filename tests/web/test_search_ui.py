"""The global search box: an htmx dropdown as you type, a full results page, scoped to the workspace."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_tenants.utils import tenant_context

from crm.deals.services import pipelines_ensure_default
from tests.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
# Tenant, session, user, the term scan, one query per record type; django-tenants adds a `SET search_path` each.
MAX_SEARCH_QUERIES = 2 * 8


def _get(client: Client, q: str, **extra: str) -> tuple[int, str]:
    response = client.get(reverse("search"), {"q": q}, **extra)
    connection.set_schema_to_public()
    return response.status_code, response.content.decode()


def test_search_requires_login(workspace) -> None:
    response = Client(HTTP_HOST=workspace.domain).get(reverse("search"), {"q": "acme"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_dropdown_fragment_for_htmx_and_full_page_otherwise(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        CompanyFactory(name="Romashka Trading", tax_id="7701999999")
        ContactFactory(first_name="Ivan", last_name="Romashkin", company=None)
    status, fragment = _get(owner_client, "romash", **HX)
    assert status == 200
    assert "<html" not in fragment and 'data-testid="search-results"' in fragment
    assert "Romashka Trading" in fragment and "Romashkin" in fragment
    assert "Companies" in fragment and "Contacts" in fragment
    status, page = _get(owner_client, "romash")
    assert status == 200 and "<html" in page and "Romashka Trading" in page
    assert 'data-testid="workspace-name"' in page
    # By tax id too.
    assert "Romashka Trading" in _get(owner_client, "7701999999", **HX)[1]


def test_short_or_empty_query_gives_an_empty_dropdown(owner_client) -> None:
    assert _get(owner_client, "", **HX) == (200, "")
    assert _get(owner_client, "r", **HX) == (200, "")
    status, html = _get(owner_client, "nothing-like-this", **HX)
    assert status == 200 and "Nothing found" in html


def test_search_finds_deals_and_leads(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        pipelines_ensure_default()
        DealFactory(title="Turbine retrofit")
        LeadFactory(title="Turbine enquiry")
    html = _get(owner_client, "turbine", **HX)[1]
    assert "Turbine retrofit" in html and "Turbine enquiry" in html


def test_other_workspace_records_are_never_found(workspace, other_workspace, owner_client) -> None:
    with tenant_context(other_workspace.tenant):
        CompanyFactory(name="Foreignco Secret")
    assert "Foreignco" not in _get(owner_client, "foreignco", **HX)[1]
    assert "Foreignco" not in _get(owner_client, "foreignco")[1]


def test_search_query_count_is_flat(workspace, owner_client, django_assert_max_num_queries) -> None:
    with tenant_context(workspace.tenant):
        CompanyFactory.create_batch(30, name="Samename Industries")
    with django_assert_max_num_queries(MAX_SEARCH_QUERIES):
        status, html = _get(owner_client, "samename", **HX)
    assert status == 200 and html.count('data-testid="search-hit"') == 5
