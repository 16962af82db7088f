"""Self-service signup on the public site."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import DatabaseError
from django.test import Client
from django_tenants.utils import schema_exists

from tenants import services
from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

FORM = {
    "company_name": "Northwind Trading",
    "subdomain": "Northwind",
    "owner_name": "Olga Ivanova",
    "owner_email": "Olga@Northwind.TEST",
    "owner_password": PASSWORD,
}


def test_signup_lands_the_owner_logged_in_in_the_new_workspace(public_client) -> None:
    response = public_client.post("/signup/", FORM)

    assert response.status_code == 302
    target = urlsplit(response.url)
    assert target.hostname == f"northwind.{settings.BASE_DOMAIN}"
    assert target.path == "/welcome/"

    workspace_client = Client(HTTP_HOST=target.netloc)
    landed = workspace_client.get(f"{target.path}?{target.query}", follow=True)
    assert landed.status_code == 200
    assert b"Northwind Trading" in landed.content
    assert b"Your role: Administrator." in landed.content  # my day tells the owner their role
    assert landed.context["user"].email == "olga@northwind.test"


def test_signup_form_shows_field_errors_and_keeps_what_was_typed(public_client) -> None:
    before = (Tenant.objects.count(), Domain.objects.count())
    response = public_client.post("/signup/", {**FORM, "subdomain": "WWW", "owner_password": "password"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["subdomain"] == ["This address is reserved. Please choose another."]
    assert "This password is too common." in form.errors["owner_password"]
    content = response.content.decode()
    assert 'value="Northwind Trading"' in content
    assert 'value="Olga@Northwind.TEST"' in content
    assert 'value="WWW"' in content
    password_input = re.search(r"<input[^>]*name=\"owner_password\"[^>]*>", content).group(0)
    assert "value=" not in password_input  # a password is never echoed back
    assert (Tenant.objects.count(), Domain.objects.count()) == before


def test_signup_with_missing_fields(public_client) -> None:
    response = public_client.post("/signup/", {})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == set(FORM)


def test_signup_with_a_taken_address(public_client, workspace_factory) -> None:
    workspace_factory(subdomain="northwind")
    response = public_client.post("/signup/", FORM)
    assert response.status_code == 200
    assert response.context["form"].errors["subdomain"] == ["This address is already taken."]


def test_failure_half_way_shows_a_plain_page_and_leaves_nothing(public_client, monkeypatch) -> None:
    def broken_owner(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(services, "user_create", broken_owner)
    pooled_before = Tenant.objects.filter(kind=Tenant.Kind.POOLED).count()

    response = public_client.post("/signup/", FORM)

    assert response.status_code == 500
    assert b"We could not create your workspace" in response.content
    assert b"Traceback" not in response.content and b"connection lost" not in response.content
    assert not Tenant.objects.filter(schema_name="ws_northwind").exists()
    assert not Domain.objects.filter(domain__startswith="northwind.").exists()
    assert not schema_exists("ws_northwind")
    assert Tenant.objects.filter(kind=Tenant.Kind.POOLED).count() == pooled_before


def test_subdomain_check_as_you_type(public_client, workspace_factory) -> None:
    workspace_factory(subdomain="taken-one")
    assert b"is available" in public_client.get("/signup/check-subdomain/", {"subdomain": "Free-One"}).content
    assert b"already taken" in public_client.get("/signup/check-subdomain/", {"subdomain": "TAKEN-ONE"}).content
    assert b"reserved" in public_client.get("/signup/check-subdomain/", {"subdomain": "api"}).content


def test_signup_page_renders(public_client) -> None:
    response = public_client.get("/signup/")
    assert response.status_code == 200
    assert b'name="subdomain"' in response.content
    assert b"htmx" in response.content


def test_find_workspace_sends_to_its_login_page(public_client, workspace_factory) -> None:
    ws = workspace_factory(subdomain="findme")
    response = public_client.post("/login/", {"subdomain": " FindMe "})
    assert response.status_code == 302
    assert response.url == f"http://{ws.domain}/login/"


def test_find_workspace_unknown_or_pooled_address(public_client) -> None:
    from tenants.models import Tenant

    pooled = Tenant.objects.filter(kind=Tenant.Kind.POOLED).first()
    Domain.objects.create(domain=f"hidden.{settings.BASE_DOMAIN}", tenant=pooled)
    for address in ("nosuch", "hidden", ""):
        response = public_client.post("/login/", {"subdomain": address})
        assert response.status_code == 200
        assert response.context["form"].errors["subdomain"]
