"""Each user's profile pages: name, password; links from the header."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from tenants.accounts.models import AuditEvent, User
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.tenants.security_support import USER_AGENT, browser, entries, get, log_in, post, signed_in

pytestmark = pytest.mark.django_db

A = AuditEvent.Action
NEW_PASSWORD = "a-new-and-long-secret-77"


def _member(workspace, **kwargs):
    with schema_context(workspace.schema):
        return UserFactory(**kwargs)


def _session(workspace, user):
    client = browser(workspace)
    assert log_in(client, user.email).status_code == 302
    return client


def _reload(workspace, user) -> User:
    with schema_context(workspace.schema):
        return User.objects.get(pk=user.pk)


def test_the_header_links_to_the_profile_and_the_profile_to_its_pages(workspace) -> None:
    session = _session(workspace, workspace.owner)
    home = get(session, "/").content.decode()
    assert 'href="/profile/"' in home and 'data-testid="current-user"' in home
    page = get(session, "/profile/")
    assert page.status_code == 200
    body = page.content.decode()
    assert workspace.owner.email in body
    for href in ("/profile/password/", "/profile/two-factor/", "/profile/api-keys/", "/security/"):
        assert f'href="{href}"' in body, href


def test_the_security_link_is_only_for_user_managers(workspace) -> None:
    member = _member(workspace)
    body = get(_session(workspace, member), "/profile/").content.decode()
    assert 'href="/profile/two-factor/"' in body
    assert 'href="/security/"' not in body


def test_a_user_changes_their_name(workspace) -> None:
    member = _member(workspace, full_name="Old Name")
    session = _session(workspace, member)
    response = post(session, "/profile/", {"full_name": "  Anna Petrova "})
    assert response.status_code == 302 and response.url == "/profile/"
    assert _reload(workspace, member).full_name == "Anna Petrova"
    [entry] = entries(workspace, A.PROFILE_CHANGED)
    assert entry.actor_id == member.pk and entry.target_id == str(member.pk)
    assert entry.details == {"full_name": {"from": "Old Name", "to": "Anna Petrova"}}
    assert entry.ip == "127.0.0.1" and entry.user_agent == USER_AGENT

    too_long = post(session, "/profile/", {"full_name": "x" * 151})
    assert too_long.status_code == 422 and too_long.context["form"].errors["full_name"]
    assert _reload(workspace, member).full_name == "Anna Petrova"
    assert len(entries(workspace, A.PROFILE_CHANGED)) == 1


def _change(old: str, new1: str, new2: str | None = None) -> dict[str, str]:
    return {"old_password": old, "new_password1": new1, "new_password2": new1 if new2 is None else new2}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_change("wrong-old-password", NEW_PASSWORD), "old_password"),
        (_change(PASSWORD, "short1"), "new_password2"),
        (_change(PASSWORD, "password123"), "new_password2"),
        (_change(PASSWORD, "83749261538"), "new_password2"),
        (_change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x"), "new_password2"),
    ],
    ids=["wrong-old", "too-short", "common", "numeric", "mismatch"],
)
def test_a_bad_password_change_shows_field_errors_and_changes_nothing(workspace, data, field) -> None:
    member = _member(workspace)
    session = _session(workspace, member)
    hash_before = _reload(workspace, member).password
    response = post(session, "/profile/password/", data)
    assert response.status_code == 422
    assert response.context["form"].errors[field]
    assert _reload(workspace, member).password == hash_before
    assert entries(workspace, A.PASSWORD_CHANGED) == []
    assert signed_in(session)


def test_a_password_change_keeps_this_session_ends_the_others_and_is_audited(workspace) -> None:
    member = _member(workspace)
    session = _session(workspace, member)
    other_session = _session(workspace, member)
    response = post(
        session,
        "/profile/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response.url == "/profile/"
    assert signed_in(session)
    assert not signed_in(other_session)

    assert log_in(browser(workspace), member.email, PASSWORD).status_code == 200
    assert log_in(browser(workspace), member.email, NEW_PASSWORD).status_code == 302
    [entry] = entries(workspace, A.PASSWORD_CHANGED)
    assert entry.actor_id == member.pk and entry.target_id == str(member.pk) and entry.target_type == "user"
    assert entry.ip == "127.0.0.1" and entry.user_agent == USER_AGENT
    assert NEW_PASSWORD not in str(entry.details) and PASSWORD not in str(entry.details)


def test_profile_pages_need_a_session_of_this_workspace(workspace, other_workspace) -> None:
    anonymous = browser(workspace)
    for path in ("/profile/", "/profile/password/", "/profile/two-factor/", "/security/"):
        response = get(anonymous, path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path

    theirs = _session(other_workspace, other_workspace.owner)
    foreign = browser(workspace)
    foreign.cookies["sessionid"] = theirs.cookies["sessionid"].value
    hash_before = _reload(workspace, workspace.owner).password
    for path in ("/profile/", "/profile/password/"):
        assert get(foreign, path).status_code == 302, path
    changed = post(
        foreign,
        "/profile/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code in (302, 403)
    assert post(foreign, "/profile/", {"full_name": "Intruder"}).status_code in (302, 403)
    owner = _reload(workspace, workspace.owner)
    assert owner.password == hash_before and owner.full_name != "Intruder"
    with schema_context(workspace.schema):
        assert not AuditEvent.objects.filter(action__in=[A.PASSWORD_CHANGED, A.PROFILE_CHANGED]).exists()


def test_logins_and_logouts_are_audited(workspace) -> None:
    member = _member(workspace)
    session = _session(workspace, member)
    [login] = entries(workspace, A.LOGIN)
    assert login.actor_id == member.pk and login.ip == "127.0.0.1" and login.user_agent == USER_AGENT
    assert login.target_id == str(member.pk)
    assert post(session, "/logout/").status_code == 302
    [logout] = entries(workspace, A.LOGOUT)
    assert logout.actor_id == member.pk and logout.user_agent == USER_AGENT
