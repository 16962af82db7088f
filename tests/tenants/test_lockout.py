"""Login lockout after repeated failures, per account and per client address; its page, cool-off, unlock
by an administrator and its audit entries."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django_tenants.utils import schema_context

from tenants.accounts.models import AuditEvent
from tenants.accounts.roles import SALES_HEAD, builtin_role
from tenants.accounts.security import account_unlock, is_locked_out, locked_out_emails
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.tenants.security_support import USER_AGENT, browser, entries, get, log_in, post, signed_in

pytestmark = pytest.mark.django_db

A = AuditEvent.Action
WRONG = "not-the-password-1"


def _member(workspace, **kwargs):
    with schema_context(workspace.schema):
        return UserFactory(**kwargs)


def _lock_account(workspace, email: str) -> None:
    """The limit of wrong passwords for one account, each from another address (so no address is locked)."""
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit - 1):
        response = log_in(browser(workspace, ip=f"192.0.2.{i + 1}"), email, WRONG)
        assert response.status_code == 200 and b"Wrong email or password" in response.content
    last = log_in(browser(workspace, ip="192.0.2.200"), email, WRONG)
    assert last.status_code == 429


def test_an_account_is_locked_after_the_limit_of_failures_with_a_clear_message(workspace) -> None:
    user = _member(workspace)
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit - 1):
        assert log_in(browser(workspace, ip=f"198.51.100.{i + 1}"), user.email, WRONG).status_code == 200
    locked = log_in(browser(workspace, ip="198.51.100.99"), user.email.upper(), WRONG)
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "Too many failed logins" in body
    assert f"for the next {settings.LOGIN_COOLOFF_MINUTES} minutes" in body
    assert "ask your workspace administrator to unlock your account" in body
    with schema_context(workspace.schema):
        assert is_locked_out(user)

    # The right password from a fresh address is refused too, and nobody is signed in.
    client = browser(workspace, ip="203.0.113.5")
    refused = log_in(client, user.email, PASSWORD)
    assert refused.status_code == 429 and b"Too many failed logins" in refused.content
    assert not signed_in(client)

    # Other people log in as usual.
    other = _member(workspace)
    with schema_context(workspace.schema):
        assert locked_out_emails([user.email.upper(), other.email]) == {user.email}
    client = browser(workspace, ip="203.0.113.6")
    assert log_in(client, other.email, PASSWORD).status_code == 302
    assert signed_in(client)


def test_failures_and_the_lockout_are_audited_without_the_password(workspace) -> None:
    user = _member(workspace)
    _lock_account(workspace, user.email)
    log_in(browser(workspace, ip="203.0.113.9"), user.email, PASSWORD)
    failed = entries(workspace, A.LOGIN_FAILED)
    assert len(failed) == settings.AXES_FAILURE_LIMIT + 1
    for entry in failed:
        assert entry.actor_id is None and entry.actor_label == user.email
        assert entry.target_type == "user" and entry.target_id == str(user.pk)
        assert entry.user_agent == USER_AGENT and entry.ip
        assert WRONG not in str(entry.details) and PASSWORD not in str(entry.details)
    assert failed[0].ip == "192.0.2.1"
    assert failed[-1].ip == "203.0.113.9" and failed[-1].details == {"step": "password", "while_locked_out": True}
    [lockout] = entries(workspace, A.LOCKOUT)
    assert lockout.actor_id is None and lockout.actor_label == user.email
    assert lockout.target_id == str(user.pk) and lockout.ip == "192.0.2.200" and lockout.user_agent == USER_AGENT
    with schema_context(workspace.schema):
        stored = list(AccessAttempt.objects.values_list("post_data", flat=True))
    assert stored and not any(WRONG in data for data in stored)


def test_failures_for_an_unknown_address_are_audited_too(workspace) -> None:
    log_in(browser(workspace), "Nobody@Example.com", WRONG)
    [entry] = entries(workspace, A.LOGIN_FAILED)
    assert entry.actor_label == "nobody@example.com" and entry.target_id == ""


def test_an_address_is_locked_after_the_limit_of_failures_whatever_the_accounts(workspace) -> None:
    user = _member(workspace)
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit - 1):
        assert log_in(browser(workspace, ip="198.51.100.7"), f"guess{i}@example.com", WRONG).status_code == 200
    assert log_in(browser(workspace, ip="198.51.100.7"), "guess-last@example.com", WRONG).status_code == 429

    # Anyone trying from that address is refused, right password or not ...
    same_address = browser(workspace, ip="198.51.100.7")
    assert log_in(same_address, user.email, PASSWORD).status_code == 429
    assert not signed_in(same_address)
    # ... while the account itself is not locked: from elsewhere it works.
    with schema_context(workspace.schema):
        assert not is_locked_out(user)
    elsewhere = browser(workspace, ip="198.51.100.8")
    assert log_in(elsewhere, user.email, PASSWORD).status_code == 302


def test_a_successful_login_clears_that_accounts_failures_only(workspace) -> None:
    user = _member(workspace)
    other = _member(workspace)
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 2):
        log_in(browser(workspace, ip="198.51.100.20"), other.email, WRONG)
    for _ in range(limit - 1):
        log_in(browser(workspace, ip=f"198.51.100.{30 + _}"), user.email, WRONG)
    assert log_in(browser(workspace, ip="198.51.100.40"), user.email, PASSWORD).status_code == 302
    with schema_context(workspace.schema):
        assert not AccessAttempt.objects.filter(username=user.email).exists()
        assert AccessAttempt.objects.get(username=other.email).failures_since_start == limit - 2
    # A fresh count: the limit minus one failures again leave the account open.
    for _ in range(limit - 1):
        assert log_in(browser(workspace, ip="198.51.100.50"), user.email, WRONG).status_code == 200


def test_the_lockout_lifts_after_the_cool_off(workspace) -> None:
    user = _member(workspace)
    _lock_account(workspace, user.email)
    cool_off = datetime.timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES)
    with schema_context(workspace.schema):
        attempt_time = AccessAttempt.objects.order_by("-attempt_time").first().attempt_time
        AccessAttempt.objects.update(attempt_time=attempt_time - cool_off - datetime.timedelta(seconds=1))
        assert not is_locked_out(user)
    client = browser(workspace, ip="203.0.113.20")
    assert log_in(client, user.email, PASSWORD).status_code == 302
    assert signed_in(client)


def test_without_a_cool_off_only_an_administrator_unlocks(workspace, settings) -> None:
    settings.AXES_COOLOFF_TIME = None
    user = _member(workspace)
    _lock_account(workspace, user.email)
    page = log_in(browser(workspace, ip="203.0.113.21"), user.email, PASSWORD)
    assert page.status_code == 429
    assert b"until it is unlocked" in page.content and b"Ask your workspace administrator" in page.content


def test_an_administrator_unlocks_an_account(workspace) -> None:
    user = _member(workspace)
    _lock_account(workspace, user.email)
    admin_session = browser(workspace, ip="203.0.113.30")
    assert log_in(admin_session, workspace.owner.email).status_code == 302
    page = get(admin_session, f"/settings/users/{user.pk}/")
    assert b'data-testid="locked-out"' in page.content
    assert post(admin_session, f"/settings/users/{user.pk}/unlock/").status_code == 302
    with schema_context(workspace.schema):
        assert not is_locked_out(user)
    assert b'data-testid="locked-out"' not in get(admin_session, f"/settings/users/{user.pk}/").content
    client = browser(workspace, ip="203.0.113.31")
    assert log_in(client, user.email, PASSWORD).status_code == 302
    [entry] = entries(workspace, A.UNLOCK)
    assert entry.actor_id == workspace.owner.pk and entry.target_id == str(user.pk)
    assert entry.target_type == "user" and entry.details["failure_records"] >= 1


def test_a_member_without_user_management_cannot_unlock(workspace) -> None:
    user = _member(workspace)
    head = _member(workspace, role=builtin_role(SALES_HEAD))
    _lock_account(workspace, user.email)
    with schema_context(workspace.schema):
        before = AccessAttempt.objects.count()
        with pytest.raises(PermissionDenied):
            account_unlock(actor=head, user=user)
        with pytest.raises(PermissionDenied):
            account_unlock(actor=user, user=user)
    head_session = browser(workspace, ip="203.0.113.41")
    assert log_in(head_session, head.email).status_code == 302
    assert post(head_session, f"/settings/users/{user.pk}/unlock/").status_code == 403
    with schema_context(workspace.schema):
        assert is_locked_out(user)
        assert AccessAttempt.objects.count() == before
    assert entries(workspace, A.UNLOCK) == []
    assert log_in(browser(workspace, ip="203.0.113.40"), user.email, PASSWORD).status_code == 429


def test_a_lockout_in_one_workspace_does_not_reach_another(workspace, other_workspace) -> None:
    # The same address fails at A until it is locked there; B neither counts nor refuses it.
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit):
        log_in(browser(workspace, ip="198.51.100.60"), workspace.owner.email, WRONG)
    assert log_in(browser(workspace, ip="198.51.100.60"), workspace.owner.email, PASSWORD).status_code == 429
    client = browser(other_workspace, ip="198.51.100.60")
    assert log_in(client, other_workspace.owner.email, PASSWORD).status_code == 302
    assert signed_in(client)
    with schema_context(other_workspace.schema):
        assert not AccessAttempt.objects.exists()
        assert not AuditEvent.objects.filter(action__in=[A.LOGIN_FAILED, A.LOCKOUT]).exists()


def test_api_keys_are_not_password_logins(workspace) -> None:
    from tests.api.conftest import bearer_client, key_for

    secret = key_for(workspace)
    _lock_account(workspace, workspace.owner.email)
    assert bearer_client(workspace, secret).get("/companies/").status_code == 200
    assert bearer_client(workspace, "kontor_bad_key").get("/companies/").status_code == 401
    with schema_context(workspace.schema):
        assert AccessAttempt.objects.filter(username=workspace.owner.email).count() == settings.AXES_FAILURE_LIMIT
