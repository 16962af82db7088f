"""Who may call the API: personal API keys (hashed, shown once, revocable) and the browser session with CSRF."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.companies.models import Company
from tenants.accounts.models import ApiKey
from tenants.accounts.services import api_key_revoke
from tests.api.conftest import ApiClient, bearer_client, inside, key_for
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_created_key_works_and_is_stored_hashed(workspace) -> None:
    secret = key_for(workspace, name="Accounting sync")
    api = bearer_client(workspace, secret)
    response = api.post("/companies/", {"name": "By key"})
    assert response.status_code == 201
    assert response.json()["owner"] == workspace.owner.pk
    with inside(workspace):
        key = ApiKey.objects.get()
        assert key.user == workspace.owner and key.name == "Accounting sync"
        assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret.startswith(f"kontor_{key.prefix}_") and len(secret) > 40
        stored = [str(v) for v in ApiKey.objects.values_list().get()]
        assert not any(secret in v or secret.split("_")[-1] in v for v in stored)
        assert key.last_used_at is not None
        company = Company.objects.get()
        assert company.created_by == workspace.owner


def test_unknown_malformed_and_foreign_keys_answer_401(workspace, other_workspace) -> None:
    secret = key_for(workspace)
    prefix = secret.split("_")[1]
    foreign = key_for(other_workspace)
    for bad in (f"kontor_{prefix}_wrong-secret", "kontor__", "nonsense", foreign, secret + "x"):
        response = bearer_client(workspace, bad).get("/companies/")
        assert response.status_code == 401, bad
    no_auth = ApiClient(Client(HTTP_HOST=workspace.domain))
    anonymous = no_auth.get("/companies/")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert no_auth.post("/companies/", {"name": "Anonymous"}).status_code == 401
    with inside(workspace):
        assert not Company.objects.exists()


def test_a_revoked_key_answers_401(workspace) -> None:
    secret = key_for(workspace)
    api = bearer_client(workspace, secret)
    assert api.get("/companies/").status_code == 200
    with inside(workspace):
        api_key_revoke(actor=workspace.owner, key=ApiKey.objects.get())
    assert api.get("/companies/").status_code == 401
    assert api.post("/companies/", {"name": "After revocation"}).status_code == 401
    with inside(workspace):
        assert not Company.objects.exists()


def test_a_deactivated_users_key_answers_401(workspace) -> None:
    with inside(workspace):
        member = UserFactory()
    api = bearer_client(workspace, key_for(workspace, member))
    assert api.get("/companies/").status_code == 200
    with inside(workspace):
        member.is_active = False
        member.save(update_fields=["is_active"])
    assert api.get("/companies/").status_code == 401
    assert api.post("/companies/", {"name": "Ghost"}).status_code == 401
    with inside(workspace):
        assert not Company.objects.exists()


def test_a_bad_key_is_refused_even_with_a_session(workspace) -> None:
    client = workspace.client(logged_in_as=workspace.owner)
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer kontor_00000000_nope"
    assert ApiClient(client).get("/companies/").status_code == 401


def test_session_writes_need_the_csrf_token(workspace) -> None:
    client = Client(HTTP_HOST=workspace.domain, enforce_csrf_checks=True)
    login_page = client.get("/login/")
    token = login_page.cookies["csrftoken"].value
    logged_in = client.post(
        "/login/", {"username": workspace.owner.email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert logged_in.status_code == 302
    connection.set_schema_to_public()
    api = ApiClient(client)
    assert api.get("/companies/").status_code == 200  # reads need no token

    refused = api.post("/companies/", {"name": "Forged"})
    assert refused.status_code == 403
    with inside(workspace):
        assert not Company.objects.exists()

    token = client.cookies["csrftoken"].value
    allowed = api.request("POST", "/companies/", {"name": "Genuine"}, HTTP_X_CSRFTOKEN=token)
    assert allowed.status_code == 201, allowed.content
    with inside(workspace):
        assert list(Company.objects.values_list("name", flat=True)) == ["Genuine"]


def test_bearer_requests_need_no_csrf_token(workspace) -> None:
    secret = key_for(workspace)
    client = Client(HTTP_HOST=workspace.domain, enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert ApiClient(client).post("/companies/", {"name": "Scripted"}).status_code == 201


def test_a_deactivated_users_session_answers_401(workspace) -> None:
    with inside(workspace):
        member = UserFactory()
    client = workspace.client(logged_in_as=member)
    assert ApiClient(client).get("/companies/").status_code == 200
    with inside(workspace):
        member.is_active = False
        member.save(update_fields=["is_active"])
    assert ApiClient(client).get("/companies/").status_code == 401


def test_last_used_is_recorded_without_a_write_per_request(workspace, monkeypatch) -> None:
    api = bearer_client(workspace, key_for(workspace))
    api.get("/companies/")
    with inside(workspace):
        first = ApiKey.objects.get().last_used_at
    with CaptureQueriesContext(connection) as queries:
        api.get("/companies/")
    assert not [q for q in queries.captured_queries if "accounts_apikey" in q["sql"]]
    with inside(workspace):
        assert ApiKey.objects.get().last_used_at == first
    # An hour later, the next request records it again (once: the cached key knows it was just recorded).
    later = first + timezone.timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    api.get("/companies/")
    with inside(workspace):
        assert ApiKey.objects.get().last_used_at == later
    with CaptureQueriesContext(connection) as queries:
        api.get("/companies/")
    assert not [q for q in queries.captured_queries if "accounts_apikey" in q["sql"]]


# --- the profile page -------------------------------------------------------------------------------------


def test_profile_page_creates_a_key_shown_once_and_revokes_it(workspace, owner_client) -> None:
    page = owner_client.get("/profile/api-keys/")
    assert page.status_code == 200
    assert "You have no API keys yet." in page.content.decode()

    created = owner_client.post("/profile/api-keys/", {"name": "CI"})
    connection.set_schema_to_public()
    assert created.status_code == 200
    assert "no-store" in created.headers.get("Cache-Control", "")
    secret = created.context["issued"].secret
    assert secret in created.content.decode()
    assert bearer_client(workspace, secret).get("/companies/").status_code == 200

    again = owner_client.get("/profile/api-keys/")
    connection.set_schema_to_public()
    html = again.content.decode()
    assert "CI" in html and secret not in html and secret.split("_", 2)[-1] not in html

    with inside(workspace):
        key = ApiKey.objects.get()
    revoked = owner_client.post(f"/profile/api-keys/{key.pk}/revoke/")
    connection.set_schema_to_public()
    assert revoked.status_code == 302
    assert bearer_client(workspace, secret).get("/companies/").status_code == 401


def test_profile_page_refuses_a_blank_name_and_others_keys(workspace, owner_client) -> None:
    blank = owner_client.post("/profile/api-keys/", {"name": "  "})
    connection.set_schema_to_public()
    assert blank.status_code == 422
    with inside(workspace):
        assert not ApiKey.objects.exists()
        colleague = UserFactory()
        CompanyFactory()
    theirs = key_for(workspace, colleague)
    with inside(workspace):
        their_key = ApiKey.objects.get(user=colleague)
    response = owner_client.post(f"/profile/api-keys/{their_key.pk}/revoke/")
    connection.set_schema_to_public()
    assert response.status_code == 404
    assert bearer_client(workspace, theirs).get("/companies/").status_code == 200


def test_profile_page_needs_a_login(workspace) -> None:
    response = Client(HTTP_HOST=workspace.domain).get("/profile/api-keys/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
