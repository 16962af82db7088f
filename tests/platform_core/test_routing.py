"""Routing by host: the public site, workspaces, and nothing else."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tenants.models import Domain, Tenant

pytestmark = pytest.mark.django_db


def test_public_site_answers_on_the_base_domain(public_client) -> None:
    response = public_client.get("/")
    assert response.status_code == 200
    assert b"/signup/" in response.content


def test_unknown_subdomain_is_a_404_with_a_link_to_the_public_site() -> None:
    response = Client(HTTP_HOST=f"nosuchco.{settings.BASE_DOMAIN}").get("/")
    assert response.status_code == 404
    assert b"No such workspace" in response.content
    assert f'href="http://{settings.BASE_DOMAIN}/"'.encode() in response.content


def test_unknown_subdomain_404_on_any_path() -> None:
    client = Client(HTTP_HOST=f"nosuchco.{settings.BASE_DOMAIN}")
    for path in ("/login/", "/signup/", "/welcome/?token=x", "/static/nothing"):
        assert client.get(path).status_code == 404


def test_workspace_urls_do_not_exist_on_the_public_site(public_client) -> None:
    assert public_client.get("/welcome/").status_code == 404
    assert public_client.get("/password-reset/").status_code == 404


def test_public_urls_do_not_exist_in_a_workspace(workspace) -> None:
    assert Client(HTTP_HOST=workspace.domain).get("/signup/").status_code == 404


def test_a_pooled_schema_given_a_domain_is_still_not_routable() -> None:
    pooled = Tenant.objects.filter(kind=Tenant.Kind.POOLED).first()
    Domain.objects.create(domain=f"sneaky.{settings.BASE_DOMAIN}", tenant=pooled, is_primary=True)
    assert Client(HTTP_HOST=f"sneaky.{settings.BASE_DOMAIN}").get("/login/").status_code == 404


def test_a_host_outside_the_base_domain_is_refused() -> None:
    response = Client(HTTP_HOST="evil.example.com").get("/")
    assert response.status_code == 404
    assert b"signup" not in response.content
