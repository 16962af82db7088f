"""Two-factor authentication: enrolment, the code step at login, recovery codes, turning it off, and the
workspace-wide requirement."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from tenants.accounts import views
from tenants.accounts.models import AuditEvent, WorkspaceSecurity
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tenants.accounts.security import is_locked_out, workspace_two_factor_require
from tests.api.conftest import key_for
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.tenants.security_support import (
    USER_AGENT,
    after_a_pause,
    browser,
    device_of,
    enrol,
    entries,
    fresh_code,
    get,
    log_in,
    log_in_with_code,
    post,
    signed_in,
)

pytestmark = pytest.mark.django_db

A = AuditEvent.Action


def _member(workspace):
    with schema_context(workspace.schema):
        return UserFactory(role=builtin_role(SALES_MANAGER))


def _signed_in_browser(workspace, user):
    client = browser(workspace)
    assert log_in(client, user.email).status_code == 302
    return client


# --- enrolment -----------------------------------------------------------------------------------------------


def test_enrolment_shows_a_secret_and_qr_code_and_needs_a_right_code(workspace) -> None:
    owner = workspace.owner
    client = _signed_in_browser(workspace, owner)
    page = get(client, "/profile/two-factor/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body and 'data-testid="two-factor-qr"' in body
    device = device_of(workspace, owner)
    assert not device.confirmed
    assert page.context["secret"] in body and len(page.context["secret"]) == 32
    # Reloading keeps the same secret, so a QR code already scanned stays valid.
    assert get(client, "/profile/two-factor/").context["secret"] == page.context["secret"]

    wrong = post(client, "/profile/two-factor/", {"action": "confirm", "token": "000000"})
    assert wrong.status_code == 422
    assert b"That code is not right" in wrong.content
    with schema_context(workspace.schema):
        device.refresh_from_db()
        assert not device.confirmed
        assert not StaticToken.objects.exists()
    assert entries(workspace, A.TWO_FACTOR_ENABLED) == []

    done = post(client, "/profile/two-factor/", {"action": "confirm", "token": fresh_code(workspace, device)})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert code in done.content.decode()
    with schema_context(workspace.schema):
        device.refresh_from_db()
        assert device.confirmed
        assert StaticToken.objects.filter(device__user=owner).count() == 10
    [entry] = entries(workspace, A.TWO_FACTOR_ENABLED)
    assert entry.actor_id == owner.pk and entry.actor_label == owner.email
    assert entry.ip == "127.0.0.1" and entry.user_agent == USER_AGENT
    assert entry.target_type == "user" and entry.target_id == str(owner.pk)

    # The codes are shown once: the page now says how many are left, not what they are.
    again = get(client, "/profile/two-factor/")
    assert again.status_code == 200 and again.context["codes_left"] == 10
    assert codes[0] not in again.content.decode()
    # This session was verified by the code: it stays signed in.
    assert signed_in(client)


def test_login_asks_for_the_code_and_refuses_a_wrong_one(workspace) -> None:
    owner = workspace.owner
    device, _codes = enrol(workspace, _signed_in_browser(workspace, owner))

    client = browser(workspace)
    first = log_in(client, owner.email)
    assert first.status_code == 302 and first.url == "/login/two-factor/"
    assert not signed_in(client)
    step = get(client, "/login/two-factor/")
    assert step.status_code == 200 and b"Enter your code" in step.content

    logins_before = len(entries(workspace, A.LOGIN))
    wrong = post(client, "/login/two-factor/", {"token": "123456"})
    assert wrong.status_code == 200 and b"That code is not right." in wrong.content
    assert not signed_in(client)
    failed = entries(workspace, A.LOGIN_FAILED)[-1]
    assert failed.actor_id is None and failed.actor_label == owner.email
    assert failed.details["step"] == "two_factor"
    assert "123456" not in str(failed.details)

    right = post(client, "/login/two-factor/", {"token": fresh_code(workspace, device)})
    assert right.status_code == 302 and right.url == "/"
    assert signed_in(client)
    assert len(entries(workspace, A.LOGIN)) == logins_before + 1
    # The pending step is used up: the page sends back to the login form.
    assert get(client, "/login/two-factor/").status_code == 302


def test_a_code_works_only_once(workspace) -> None:
    owner = workspace.owner
    device, _codes = enrol(workspace, _signed_in_browser(workspace, owner))
    code = fresh_code(workspace, device)
    first = browser(workspace)
    log_in(first, owner.email)
    assert post(first, "/login/two-factor/", {"token": code}).status_code == 302

    second = browser(workspace)
    log_in(second, owner.email)
    assert post(second, "/login/two-factor/", {"token": code}).status_code == 200
    assert not signed_in(second)


def test_the_code_step_keeps_where_the_user_was_going(workspace) -> None:
    owner = workspace.owner
    device, _codes = enrol(workspace, _signed_in_browser(workspace, owner))
    client = browser(workspace)
    assert (
        post(client, "/login/", {"username": owner.email, "password": PASSWORD, "next": "/deals/"}).status_code == 302
    )
    done = post(client, "/login/two-factor/", {"token": fresh_code(workspace, device)})
    assert done.status_code == 302 and done.url == "/deals/"


def test_the_code_step_without_a_password_first_or_after_it_expired_goes_back_to_login(workspace, monkeypatch) -> None:
    owner = workspace.owner
    device, _codes = enrol(workspace, _signed_in_browser(workspace, owner))
    client = browser(workspace)
    response = post(client, "/login/two-factor/", {"token": fresh_code(workspace, device)})
    assert response.status_code == 302 and response.url == "/login/"
    assert not signed_in(client)

    log_in(client, owner.email)
    monkeypatch.setattr(views, "PENDING_LOGIN_SECONDS", -1)
    late = post(client, "/login/two-factor/", {"token": fresh_code(workspace, device)})
    assert late.status_code == 302 and late.url == "/login/"
    assert not signed_in(client)


def test_wrong_codes_count_toward_the_lockout(workspace) -> None:
    owner = workspace.owner
    device, _codes = enrol(workspace, _signed_in_browser(workspace, owner))
    client = browser(workspace, ip="10.0.0.7")
    log_in(client, owner.email)
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        fresh_code(workspace, device)  # no pause needed between wrong codes in the test
        assert post(client, "/login/two-factor/", {"token": "000000"}).status_code == 200
    fresh_code(workspace, device)
    locked = post(client, "/login/two-factor/", {"token": "000000"})
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    with schema_context(workspace.schema):
        assert is_locked_out(owner)
    # Even the right code (after a new password step) no longer helps.
    again = browser(workspace, ip="10.0.0.8")
    assert log_in(again, owner.email).status_code == 429
    assert not signed_in(again)
    assert len(entries(workspace, A.LOCKOUT)) == 1


# --- recovery codes ------------------------------------------------------------------------------------------


def test_a_recovery_code_logs_in_once_and_is_audited(workspace) -> None:
    owner = workspace.owner
    _device, codes = enrol(workspace, _signed_in_browser(workspace, owner))
    client = browser(workspace)
    log_in(client, owner.email)
    # As printed, in capitals, without the dash: all the same code.
    used = post(client, "/login/two-factor/", {"token": codes[0].upper().replace("-", " ")})
    assert used.status_code == 302
    assert signed_in(client)
    [entry] = entries(workspace, A.RECOVERY_CODE_USED)
    assert entry.actor_id == owner.pk and entry.details == {"recovery_codes_left": 9}
    assert entry.ip == "127.0.0.1" and entry.user_agent == USER_AGENT

    other = browser(workspace)
    log_in(other, owner.email)
    assert post(other, "/login/two-factor/", {"token": codes[0]}).status_code == 200
    assert not signed_in(other)
    assert len(entries(workspace, A.RECOVERY_CODE_USED)) == 1


def test_new_recovery_codes_replace_the_old_ones(workspace) -> None:
    owner = workspace.owner
    session = _signed_in_browser(workspace, owner)
    _device, old_codes = enrol(workspace, session)
    response = post(session, "/profile/two-factor/", {"action": "regenerate"})
    assert response.status_code == 200
    new_codes = response.context["codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    [entry] = entries(workspace, A.RECOVERY_CODES_ISSUED)
    assert entry.actor_id == owner.pk and entry.target_id == str(owner.pk)

    old = browser(workspace)
    log_in(old, owner.email)
    assert post(old, "/login/two-factor/", {"token": old_codes[3]}).status_code == 200
    assert not signed_in(old)
    after_a_pause(workspace)
    new = browser(workspace)
    log_in(new, owner.email)
    assert post(new, "/login/two-factor/", {"token": new_codes[3]}).status_code == 302
    assert signed_in(new)


def test_right_after_a_wrong_code_the_device_asks_for_a_pause_without_counting_a_failure(workspace) -> None:
    owner = workspace.owner
    _device, codes = enrol(workspace, _signed_in_browser(workspace, owner))
    client = browser(workspace)
    log_in(client, owner.email)
    assert post(client, "/login/two-factor/", {"token": "aaaa-aaaa"}).status_code == 200
    failures = len(entries(workspace, A.LOGIN_FAILED))
    wait = post(client, "/login/two-factor/", {"token": codes[0]})
    assert wait.status_code == 200 and b"wait a few seconds" in wait.content
    assert len(entries(workspace, A.LOGIN_FAILED)) == failures
    after_a_pause(workspace)
    assert post(client, "/login/two-factor/", {"token": codes[0]}).status_code == 302


def test_recovery_codes_cannot_be_made_without_two_factor(workspace) -> None:
    session = _signed_in_browser(workspace, workspace.owner)
    response = post(session, "/profile/two-factor/", {"action": "regenerate"}, follow=True)
    assert response.status_code == 200 and response.context["codes"] == []
    with schema_context(workspace.schema):
        assert not StaticToken.objects.exists()
    assert entries(workspace, A.RECOVERY_CODES_ISSUED) == []


# --- turning it off ------------------------------------------------------------------------------------------


def test_turning_it_off_needs_the_password(workspace) -> None:
    owner = workspace.owner
    session = _signed_in_browser(workspace, owner)
    enrol(workspace, session)
    refused = post(session, "/profile/two-factor/", {"action": "disable", "password": "not-my-password"})
    assert refused.status_code == 422
    assert b"Your password was entered incorrectly." in refused.content
    with schema_context(workspace.schema):
        assert TOTPDevice.objects.filter(user=owner, confirmed=True).exists()
        assert StaticToken.objects.count() == 10
    assert entries(workspace, A.TWO_FACTOR_DISABLED) == []

    done = post(session, "/profile/two-factor/", {"action": "disable", "password": PASSWORD})
    assert done.status_code == 302
    with schema_context(workspace.schema):
        assert not TOTPDevice.objects.filter(user=owner, confirmed=True).exists()
        assert not StaticToken.objects.exists()
    [entry] = entries(workspace, A.TWO_FACTOR_DISABLED)
    assert entry.actor_id == owner.pk and entry.ip == "127.0.0.1" and entry.user_agent == USER_AGENT

    # Logging in is a password again.
    client = browser(workspace)
    assert log_in(client, owner.email).url == "/"


def test_profile_two_factor_pages_need_a_session(workspace, other_workspace) -> None:
    anonymous = browser(workspace)
    response = get(anonymous, "/profile/two-factor/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert post(anonymous, "/profile/two-factor/", {"action": "regenerate"}).status_code == 302
    # A session of another workspace is nobody here.
    theirs = _signed_in_browser(other_workspace, other_workspace.owner)
    foreign = browser(workspace)
    foreign.cookies["sessionid"] = theirs.cookies["sessionid"].value
    assert get(foreign, "/profile/two-factor/").status_code == 302
    with schema_context(workspace.schema):
        assert not TOTPDevice.objects.exists()


def test_a_user_of_another_workspace_with_two_factor_cannot_log_in_here(workspace, other_workspace) -> None:
    theirs = other_workspace.owner
    enrol(other_workspace, _signed_in_browser(other_workspace, theirs))
    client = browser(workspace)
    response = log_in(client, theirs.email)
    assert response.status_code == 200 and b"Wrong email or password" in response.content
    assert get(client, "/login/two-factor/").status_code == 302
    assert not signed_in(client)


# --- the workspace requirement -------------------------------------------------------------------------------


def test_only_user_managers_may_require_two_factor(workspace) -> None:
    member = _member(workspace)
    session = _signed_in_browser(workspace, member)
    assert get(session, "/security/").status_code == 403
    assert post(session, "/security/", {"require_two_factor": "on"}).status_code == 403
    with schema_context(workspace.schema):
        assert not WorkspaceSecurity.objects.filter(require_two_factor=True).exists()
    assert entries(workspace, A.TWO_FACTOR_REQUIREMENT) == []
    assert signed_in(session)  # nothing is required of anyone

    admin = _signed_in_browser(workspace, workspace.owner)
    page = get(admin, "/security/")
    assert page.status_code == 200 and page.context["without_two_factor"] == 2
    assert post(admin, "/security/", {"require_two_factor": "on"}).status_code == 302
    with schema_context(workspace.schema):
        assert WorkspaceSecurity.objects.get().require_two_factor
    [entry] = entries(workspace, A.TWO_FACTOR_REQUIREMENT)
    assert entry.actor_id == workspace.owner.pk and entry.details == {"required": True}
    assert entry.ip == "127.0.0.1" and entry.user_agent == USER_AGENT


def test_the_security_page_of_a_workspace_answers_nothing_to_another_workspace(workspace, other_workspace) -> None:
    theirs = _signed_in_browser(other_workspace, other_workspace.owner)
    foreign = browser(workspace)
    foreign.cookies["sessionid"] = theirs.cookies["sessionid"].value
    page = get(foreign, "/security/")
    assert page.status_code == 302 and page.url.startswith("/login/")
    changed = post(foreign, "/security/", {"require_two_factor": "on"})
    assert changed.status_code in (302, 403)
    with schema_context(workspace.schema):
        assert not WorkspaceSecurity.objects.filter(require_two_factor=True).exists()
        assert not AuditEvent.objects.filter(action=A.TWO_FACTOR_REQUIREMENT).exists()


def test_the_requirement_sends_members_without_two_factor_to_set_it_up(workspace) -> None:
    member = _member(workspace)
    session = _signed_in_browser(workspace, member)
    secret = key_for(workspace, member)
    with schema_context(workspace.schema):
        workspace_two_factor_require(actor=workspace.owner, required=True)

    for path in ("/", "/companies/", "/profile/", "/profile/api-keys/", "/security/"):
        response = get(session, path)
        assert response.status_code == 302 and response.url == "/profile/two-factor/", path
    page = get(session, "/profile/two-factor/")
    assert page.status_code == 200 and b"Your workspace requires two-factor authentication." in page.content
    api = get(session, "/api/v1/companies/")
    assert api.status_code == 403 and "two-factor" in api.json()["detail"]
    # API keys are their own credential: not affected.
    by_key = get(browser(workspace), "/api/v1/companies/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert by_key.status_code == 200
    # A bad key does not get round the requirement for the session that sends it.
    assert get(session, "/api/v1/companies/", HTTP_AUTHORIZATION="Bearer kontor_x_y").status_code == 401
    # Logging out stays possible.
    assert post(session, "/logout/").status_code == 302
    assert not signed_in(session)

    again = _signed_in_browser(workspace, member)
    device, _codes = enrol(workspace, again)
    assert signed_in(again)
    assert get(again, "/api/v1/companies/").status_code == 200
    # From now on logging in asks for the code.
    later = browser(workspace)
    assert log_in_with_code(workspace, later, member.email, device).status_code == 302
    assert signed_in(later)


def test_a_session_that_never_gave_a_code_must_log_in_again_once_two_factor_is_required(workspace) -> None:
    member = _member(workspace)
    old_session = _signed_in_browser(workspace, member)
    elsewhere = _signed_in_browser(workspace, member)
    device, _codes = enrol(workspace, elsewhere)
    assert signed_in(old_session)  # nothing required yet
    with schema_context(workspace.schema):
        workspace_two_factor_require(actor=workspace.owner, required=True)
    response = get(old_session, "/")
    assert response.status_code == 302 and response.url == "/login/"
    assert not signed_in(old_session)
    assert signed_in(elsewhere)
    assert device.pk


def test_requirement_off_again_frees_members(workspace) -> None:
    member = _member(workspace)
    session = _signed_in_browser(workspace, member)
    admin = _signed_in_browser(workspace, workspace.owner)
    assert post(admin, "/security/", {"require_two_factor": "on"}).status_code == 302
    assert get(session, "/").url == "/profile/two-factor/"
    # The administrator has no second factor either: set it up first, then switch the requirement off.
    assert get(admin, "/security/").url == "/profile/two-factor/"
    enrol(workspace, admin)
    assert post(admin, "/security/", {}).status_code == 302
    assert signed_in(session)
    assert [e.details for e in entries(workspace, A.TWO_FACTOR_REQUIREMENT)] == [
        {"required": True},
        {"required": False},
    ]


def test_an_administrator_resets_the_two_factor_of_someone_who_lost_it(workspace) -> None:
    member = _member(workspace)
    session = _signed_in_browser(workspace, member)
    enrol(workspace, session)
    reset_url = f"/settings/users/{member.pk}/two-factor-reset/"

    # A colleague without the right to manage people cannot, and nothing changes.
    colleague = _member(workspace)
    refused = post(_signed_in_browser(workspace, colleague), reset_url)
    assert refused.status_code == 403
    with schema_context(workspace.schema):
        assert TOTPDevice.objects.filter(user=member, confirmed=True).exists()
        assert StaticToken.objects.filter(device__user=member).count() == 10
    assert entries(workspace, A.TWO_FACTOR_DISABLED) == []
    assert log_in(browser(workspace), member.email).url != "/"  # still asks for the code

    admin = _signed_in_browser(workspace, workspace.owner)
    assert b"Reset two-factor authentication" in get(admin, f"/settings/users/{member.pk}/").content
    assert post(admin, reset_url).status_code == 302
    with schema_context(workspace.schema):
        assert not TOTPDevice.objects.filter(user=member).exists()
        assert not StaticToken.objects.filter(device__user=member).exists()
    [entry] = entries(workspace, A.TWO_FACTOR_DISABLED)
    assert entry.actor_id == workspace.owner.pk and entry.target_id == str(member.pk)
    assert entry.details == {"reset_by_administrator": True}
    assert log_in(browser(workspace), member.email).url == "/"

    # Their own two-factor is turned off on the profile page, with the password.
    own = post(admin, f"/settings/users/{workspace.owner.pk}/two-factor-reset/")
    assert own.status_code == 302
    assert entries(workspace, A.TWO_FACTOR_DISABLED) == [entry]
