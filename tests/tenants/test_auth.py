"""Workspace login, logout, password reset, the signup hand-off, and that users never cross workspaces."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tenants.accounts.models import User
from tenants.accounts.tokens import handoff_token_make
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_and_logout(workspace) -> None:
    client = Client(HTTP_HOST=workspace.domain)
    assert client.get("/").status_code == 302

    response = client.post("/login/", {"username": workspace.owner.email.upper(), "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert workspace.tenant.name.encode() in home.content

    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_clear_message(workspace) -> None:
    client = Client(HTTP_HOST=workspace.domain)
    response = client.post("/login/", {"username": workspace.owner.email, "password": "wrong-password-1"})
    assert response.status_code == 200
    assert b"Wrong email or password for this workspace." in response.content
    assert SESSION_KEY not in client.session


def test_a_user_of_workspace_a_cannot_log_in_at_workspace_b(workspace, other_workspace) -> None:
    client = Client(HTTP_HOST=other_workspace.domain)
    response = client.post("/login/", {"username": workspace.owner.email, "password": PASSWORD})
    assert response.status_code == 200
    assert b"Wrong email or password" in response.content
    assert client.get("/").status_code == 302


def test_a_session_of_workspace_a_is_not_valid_at_workspace_b(workspace, other_workspace) -> None:
    client = workspace.client(logged_in_as=workspace.owner)
    session_cookie = client.cookies["sessionid"].value
    other = Client(HTTP_HOST=other_workspace.domain)
    other.cookies["sessionid"] = session_cookie
    assert other.get("/").status_code == 302  # the session row lives in A's schema only
    connection.set_schema_to_public()
    with schema_context(other_workspace.schema):
        from django.contrib.sessions.models import Session

        assert not Session.objects.filter(session_key=session_cookie).exists()


def test_inactive_user_cannot_log_in(workspace) -> None:
    with schema_context(workspace.schema):
        User.objects.filter(pk=workspace.owner.pk).update(is_active=False)
    client = Client(HTTP_HOST=workspace.domain)
    response = client.post("/login/", {"username": workspace.owner.email, "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/").status_code == 302


def test_password_reset_by_email(workspace, django_capture_on_commit_callbacks) -> None:
    client = Client(HTTP_HOST=workspace.domain)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/password-reset/", {"email": workspace.owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/password-reset/\S+/\S+/", mail.outbox[0].body).group(0)
    assert link.startswith(f"http://{workspace.domain}/")

    path = link.split(workspace.domain, 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    new_password = "a-brand-new-secret-42"
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302

    fresh = Client(HTTP_HOST=workspace.domain)
    assert fresh.post("/login/", {"username": workspace.owner.email, "password": PASSWORD}).status_code == 200
    assert fresh.post("/login/", {"username": workspace.owner.email, "password": new_password}).status_code == 302


def test_password_reset_for_an_address_of_another_workspace_sends_nothing(workspace, other_workspace) -> None:
    client = Client(HTTP_HOST=other_workspace.domain)
    assert client.post("/password-reset/", {"email": workspace.owner.email}).status_code == 302
    assert mail.outbox == []


def test_signup_handoff_logs_in_once(workspace) -> None:
    token = handoff_token_make(user=workspace.owner, schema_name=workspace.schema)
    client = Client(HTTP_HOST=workspace.domain)
    response = client.get("/welcome/", {"token": token})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/").status_code == 200

    again = Client(HTTP_HOST=workspace.domain)
    assert again.get("/welcome/", {"token": token}).url == "/login/"
    assert again.get("/").status_code == 302


def test_signup_handoff_token_of_workspace_a_is_useless_at_workspace_b(workspace, other_workspace) -> None:
    token = handoff_token_make(user=workspace.owner, schema_name=workspace.schema)
    client = Client(HTTP_HOST=other_workspace.domain)
    assert client.get("/welcome/", {"token": token}).url == "/login/"
    assert client.get("/").status_code == 302


def test_tampered_handoff_token_is_refused(workspace) -> None:
    token = handoff_token_make(user=workspace.owner, schema_name=workspace.schema)
    client = Client(HTTP_HOST=workspace.domain)
    assert client.get("/welcome/", {"token": token[:-2] + "xx"}).url == "/login/"


def test_a_reset_link_is_mailed_only_after_commit_and_its_token_is_never_stored(
    workspace, django_capture_on_commit_callbacks
) -> None:
    from tenants.events.models import Event

    client = Client(HTTP_HOST=workspace.domain)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/password-reset/", {"email": workspace.owner.email})
    assert response.status_code == 302
    assert mail.outbox == []  # nothing is mailed from inside the request's transaction
    with schema_context(workspace.schema):
        event = Event.objects.get(type="user.password_reset_requested")
        assert event.record_id == workspace.owner.pk
        assert event.snapshot == {} and set(event.context) == {"domain", "protocol"}
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    token = re.search(r"/password-reset/[^/]+/([^/]+)/", mail.outbox[0].body).group(1)
    with schema_context(workspace.schema):
        assert token not in str(list(Event.objects.values_list("snapshot", "context")))


def test_a_reset_for_an_unknown_email_records_nothing_and_says_the_same(workspace) -> None:
    from tenants.events.models import Event

    client = Client(HTTP_HOST=workspace.domain)
    response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    with schema_context(workspace.schema):
        assert not Event.objects.filter(type="user.password_reset_requested").exists()
