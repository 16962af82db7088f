"""Workspace administration of people: the users page, invitations, role and team changes, deactivation,
the last-administrator guard and owner transfer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail, signing
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.deals.models import Deal
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from tenants.accounts.models import ApiKey, AuditEvent, Invitation, Role, Team, User
from tenants.accounts.roles import ADMIN, READ_ONLY, SALES_HEAD, SALES_MANAGER, builtin_role
from tenants.accounts.services import (
    INVITATION_LIFETIME,
    api_key_authenticate,
    api_key_create,
    invitation_token_make,
    records_transfer,
    user_create,
)
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase-42"


def _in(workspace, fn: Callable[[], Any]) -> Any:
    with tenant_context(workspace.tenant):
        return fn()


def _person(workspace, email: str, role_key: str = SALES_MANAGER, **extra: Any) -> User:
    return _in(
        workspace,
        lambda: user_create(
            email=email, password=PASSWORD, full_name=email.split("@")[0], role=builtin_role(role_key), **extra
        ),
    )


def _state(workspace) -> dict[str, Any]:
    """Everything the administration pages can change, to assert that a refused request changed nothing."""

    def read() -> dict[str, Any]:
        return {
            "users": sorted(User.objects.values_list("id", "email", "role_id", "team_id", "is_active")),
            "invitations": sorted(Invitation.objects.values_list("id", "email", "accepted_at", "revoked_at")),
            "owners": sorted(Company.objects.values_list("id", "owner_id"))
            + sorted(Deal.objects.values_list("id", "owner_id")),
            "audit": AuditEvent.objects.exclude(action__in=["login", "login_failed"]).count(),
            "mail": len(mail.outbox),
        }

    return _in(workspace, read)


@pytest.fixture
def manager(workspace) -> User:
    return _person(workspace, "manager@example.com")


@pytest.fixture
def manager_client(workspace, manager) -> Client:
    return workspace.client(logged_in_as=manager)


def _invite(client: Client, email: str = "new@example.com", role: Role | None = None, **extra: Any):
    return client.post(
        "/settings/users/invite/", {"email": email, "full_name": "New Person", "role": role.pk if role else "", **extra}
    )


def _token_of(message) -> str:
    match = re.search(r"/invitation/([^/\s]+)/", message.body)
    assert match, message.body
    return match.group(1)


# --- access -------------------------------------------------------------------------------------------------


def test_pages_refuse_a_sales_manager_and_change_nothing(workspace, manager, manager_client) -> None:
    target = _person(workspace, "target@example.com")
    head = _in(workspace, lambda: builtin_role(SALES_HEAD))
    before = _state(workspace)
    for url in ("/settings/users/", "/settings/users/invite/", f"/settings/users/{target.pk}/"):
        assert manager_client.get(url).status_code == 403, url
    assert _invite(manager_client, role=head).status_code == 403
    assert manager_client.post(f"/settings/users/{target.pk}/", {"role": head.pk}).status_code == 403
    assert manager_client.post(f"/settings/users/{target.pk}/deactivate/").status_code == 403
    assert manager_client.post(f"/settings/users/{target.pk}/transfer/", {"target": manager.pk}).status_code == 403
    assert _state(workspace) == before
    # And no menu entry pointing there.
    assert b"/settings/users/" not in manager_client.get("/").content


def test_other_workspace_sees_nothing(workspace, owner_client, other_workspace) -> None:
    # Ids of this workspace's records, made above anything the other workspace has.
    for n in range(3):
        _person(workspace, f"filler{n}@example.com")
    target = _person(workspace, "secret-person@example.com")
    _invite(owner_client, "secret-invitee@example.com", role=_in(workspace, lambda: builtin_role(READ_ONLY)))
    invitation = _in(workspace, lambda: Invitation.objects.get(email="secret-invitee@example.com"))
    before = _state(workspace)

    stranger = other_workspace.client(logged_in_as=other_workspace.owner)
    for url in (f"/settings/users/{target.pk}/",):
        response = stranger.get(url)
        assert response.status_code == 404 and b"secret-person" not in response.content
    assert stranger.post(f"/settings/users/{target.pk}/deactivate/").status_code == 404
    assert stranger.post(f"/settings/invitations/{invitation.pk}/revoke/").status_code == 404
    assert b"secret-" not in stranger.get("/settings/users/").content
    # The other workspace's session does not reach this workspace's host: the login page.
    foreign_session = Client(HTTP_HOST=workspace.domain)
    foreign_session.cookies = stranger.cookies
    response = foreign_session.get("/settings/users/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    # A token of this workspace is worthless on the other one.
    token = _in(workspace, lambda: invitation_token_make(invitation))
    response = Client(HTTP_HOST=other_workspace.domain).get(f"/invitation/{token}/")
    assert response.status_code == 404
    assert _state(workspace) == before


def test_anonymous_visitors_go_to_login(workspace) -> None:
    response = Client(HTTP_HOST=workspace.domain).get("/settings/users/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- the users page ----------------------------------------------------------------------------------------


def test_users_page_lists_role_team_and_status(workspace, owner_client) -> None:
    team = _in(workspace, lambda: Team.objects.create(name="North"))
    _person(workspace, "alice@example.com", SALES_HEAD, team=team)
    gone = _person(workspace, "gone@example.com")
    _in(workspace, lambda: User.objects.filter(pk=gone.pk).update(is_active=False))
    content = owner_client.get("/settings/users/").content.decode()
    assert "alice@example.com" in content and "Sales head" in content and "North" in content
    assert "deactivated" in content
    assert "/settings/users/" in owner_client.get("/").content.decode()


def test_locked_out_people_show_as_locked(workspace, owner_client) -> None:
    _person(workspace, "locked@example.com")
    _person(workspace, "fine@example.com")
    assert "locked out" not in owner_client.get("/settings/users/").content.decode()
    intruder = workspace.client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        intruder.post("/login/", {"username": "locked@example.com", "password": "not-the-password"})
    connection.set_schema_to_public()
    content = owner_client.get("/settings/users/").content.decode()
    rows = {row.split("</tr>")[0] for row in content.split("<tr")}
    assert any("locked@example.com" in row and "locked out" in row for row in rows)
    assert not any("fine@example.com" in row and "locked out" in row for row in rows)


# --- invitations ------------------------------------------------------------------------------------------


def test_invite_accept_and_log_in(workspace, owner_client, django_capture_on_commit_callbacks) -> None:
    head = _in(workspace, lambda: builtin_role(SALES_HEAD))
    team = _in(workspace, lambda: Team.objects.create(name="Sales"))
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(owner_client, "New@Example.com", role=head, team=team.pk)
    assert response.status_code == 302
    invitation = _in(workspace, lambda: Invitation.objects.get())
    assert invitation.email == "new@example.com" and invitation.role == head and invitation.team == team
    assert abs((invitation.expires_at - timezone.now()) - INVITATION_LIFETIME).total_seconds() < 60
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    token = _token_of(mail.outbox[0])
    assert workspace.domain in mail.outbox[0].body
    assert b"new@example.com" in owner_client.get("/settings/users/").content

    visitor = Client(HTTP_HOST=workspace.domain)
    page = visitor.get(f"/invitation/{token}/")
    assert page.status_code == 200 and b"new@example.com" in page.content
    # Django's password validators apply.
    weak = visitor.post(f"/invitation/{token}/", {"full_name": "New", "password1": "123", "password2": "123"})
    assert weak.status_code == 422 and not _in(workspace, lambda: User.objects.filter(email="new@example.com").exists())
    response = visitor.post(
        f"/invitation/{token}/", {"full_name": "New Person", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user = _in(workspace, lambda: User.objects.select_related("role", "team").get(email="new@example.com"))
    assert (user.role, user.team, user.full_name) == (head, team, "New Person")
    assert visitor.get("/").status_code == 200  # signed in
    actions = _in(workspace, lambda: list(AuditEvent.objects.values_list("action", flat=True)))
    assert "invitation_sent" in actions and "invitation_accepted" in actions

    # Single use: the link now explains and creates nothing.
    again = Client(HTTP_HOST=workspace.domain).post(
        f"/invitation/{token}/", {"full_name": "Again", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert again.status_code == 410 and b"already been used" in again.content
    assert _in(workspace, lambda: User.objects.filter(email="new@example.com").count()) == 1


def test_invitation_refuses_members_and_pending_addresses(workspace, owner_client) -> None:
    role = _in(workspace, lambda: builtin_role(READ_ONLY))
    _person(workspace, "member@example.com")
    assert _invite(owner_client, "new@example.com", role=role).status_code == 302
    before = _state(workspace)
    for email in ("member@example.com", "NEW@example.com", workspace.owner.email):
        response = _invite(owner_client, email, role=role)
        assert response.status_code == 422 and response.context["form"].errors["email"], email
    assert _state(workspace) == before


def test_expired_link_creates_nothing(workspace, owner_client) -> None:
    role = _in(workspace, lambda: builtin_role(READ_ONLY))
    _invite(owner_client, "late@example.com", role=role)
    invitation = _in(workspace, lambda: Invitation.objects.get())
    token = _in(workspace, lambda: invitation_token_make(invitation))
    form = {"full_name": "Late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    visitor = Client(HTTP_HOST=workspace.domain)

    # The signature's own age: 72 hours and a minute later.
    later = signing.time.time() + INVITATION_LIFETIME.total_seconds() + 60
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = visitor.post(f"/invitation/{token}/", form)
    assert response.status_code == 410 and b"expired" in response.content

    # The invitation's own expiry, should the signature still hold.
    _in(workspace, lambda: Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now()))
    response = visitor.post(f"/invitation/{token}/", form)
    assert response.status_code == 410 and b"expired" in response.content
    assert not _in(workspace, lambda: User.objects.filter(email="late@example.com").exists())


def test_tampered_and_revoked_links_create_nothing(workspace, owner_client) -> None:
    role = _in(workspace, lambda: builtin_role(READ_ONLY))
    _invite(owner_client, "maybe@example.com", role=role)
    invitation = _in(workspace, lambda: Invitation.objects.get())
    token = _in(workspace, lambda: invitation_token_make(invitation))
    form = {"full_name": "Maybe", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    visitor = Client(HTTP_HOST=workspace.domain)

    forged = signing.dumps({"i": invitation.pk, "s": workspace.schema}, salt="something else")
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nonsense"):
        response = visitor.post(f"/invitation/{bad}/", form)
        assert response.status_code == 404 and b"not valid" in response.content

    assert owner_client.post(f"/settings/invitations/{invitation.pk}/revoke/").status_code == 302
    response = visitor.post(f"/invitation/{token}/", form)
    assert response.status_code == 410 and b"withdrawn" in response.content
    assert not _in(workspace, lambda: User.objects.filter(email="maybe@example.com").exists())
    assert _in(workspace, lambda: AuditEvent.objects.filter(action="invitation_revoked").count()) == 1


def test_cannot_invite_with_more_rights_than_one_holds(workspace) -> None:
    # Someone managing users but not roles cannot bring in an administrator.
    limited = _in(
        workspace,
        lambda: Role.objects.create(
            name="People office", grants=builtin_role(READ_ONLY).grants, permissions=["manage_users"]
        ),
    )
    clerk = _in(workspace, lambda: user_create(email="clerk@example.com", password=PASSWORD, role=limited))
    client = workspace.client(logged_in_as=clerk)
    before = _state(workspace)
    response = _invite(client, "friend@example.com", role=_in(workspace, lambda: builtin_role(ADMIN)))
    assert response.status_code == 422 and response.context["form"].errors["role"]
    assert _state(workspace) == before
    assert (
        _invite(client, "friend@example.com", role=_in(workspace, lambda: builtin_role(READ_ONLY))).status_code == 302
    )


# --- role, team, deactivation ------------------------------------------------------------------------------


def test_change_role_and_team(workspace, owner_client) -> None:
    person = _person(workspace, "p@example.com")
    team = _in(workspace, lambda: Team.objects.create(name="East"))
    head = _in(workspace, lambda: builtin_role(SALES_HEAD))
    response = owner_client.post(f"/settings/users/{person.pk}/", {"role": head.pk, "team": team.pk})
    assert response.status_code == 302
    person = _in(workspace, lambda: User.objects.get(pk=person.pk))
    assert (person.role_id, person.team_id) == (head.pk, team.pk)
    event = _in(workspace, lambda: AuditEvent.objects.get(action="user_changed"))
    assert event.details["role"] == ["Sales manager", "Sales head"] and event.details["team"] == ["", "East"]


def test_deactivated_person_cannot_log_in_nor_use_api_keys(workspace, owner_client) -> None:
    person = _person(workspace, "leaver@example.com")
    issued = _in(workspace, lambda: api_key_create(actor=person, name="script"))
    person_client = workspace.client(logged_in_as=person)
    assert owner_client.post(f"/settings/users/{person.pk}/deactivate/").status_code == 302
    assert _in(workspace, lambda: User.objects.get(pk=person.pk).is_active) is False
    # Their open session is gone and they cannot sign in again.
    assert person_client.get("/").status_code == 302
    response = Client(HTTP_HOST=workspace.domain).post("/login/", {"username": person.email, "password": PASSWORD})
    assert response.status_code != 302
    assert _in(workspace, lambda: api_key_authenticate(issued.secret)) is None
    assert _in(workspace, lambda: ApiKey.objects.filter(user=person).exists())
    assert _in(
        workspace, lambda: AuditEvent.objects.filter(action="user_deactivated", target_id=str(person.pk)).exists()
    )

    assert owner_client.post(f"/settings/users/{person.pk}/reactivate/").status_code == 302
    assert _in(workspace, lambda: User.objects.get(pk=person.pk).is_active) is True


def test_last_administrator_cannot_be_demoted_or_deactivated(workspace, owner_client) -> None:
    owner = workspace.owner
    second = _person(workspace, "second@example.com", ADMIN)
    head = _in(workspace, lambda: builtin_role(SALES_HEAD))
    # With two administrators, one may be demoted...
    assert owner_client.post(f"/settings/users/{second.pk}/", {"role": head.pk}).status_code == 302
    before = _state(workspace)
    # ...but not the last one: not by themselves, nor by someone who manages users only.
    response = owner_client.post(f"/settings/users/{owner.pk}/", {"role": head.pk})
    assert response.status_code == 422 and "last active administrator" in str(response.context["form"].errors["role"])
    response = owner_client.post(f"/settings/users/{owner.pk}/deactivate/", follow=True)
    assert b"last active administrator" in response.content
    office = _in(
        workspace,
        lambda: Role.objects.create(name="Office", grants=builtin_role(ADMIN).grants, permissions=["manage_users"]),
    )
    clerk = _in(workspace, lambda: user_create(email="clerk@example.com", password=PASSWORD, role=office))
    before = _state(workspace)
    clerk_client = workspace.client(logged_in_as=clerk)
    assert clerk_client.post(f"/settings/users/{owner.pk}/", {"role": head.pk}).status_code == 422
    clerk_client.post(f"/settings/users/{owner.pk}/deactivate/")
    assert _state(workspace) == before
    assert _in(workspace, lambda: User.objects.get(pk=owner.pk).is_active)


def test_nobody_raises_their_own_rights(workspace) -> None:
    office = _in(
        workspace,
        lambda: Role.objects.create(name="Office", grants=builtin_role(READ_ONLY).grants, permissions=["manage_users"]),
    )
    clerk = _in(workspace, lambda: user_create(email="clerk@example.com", password=PASSWORD, role=office))
    admin_role = _in(workspace, lambda: builtin_role(ADMIN))
    client = workspace.client(logged_in_as=clerk)
    before = _state(workspace)
    # Not their own role...
    response = client.post(f"/settings/users/{clerk.pk}/", {"role": admin_role.pk})
    assert response.status_code == 422 and response.context["form"].errors["role"]
    # ...nor a colleague's to a role above their own, nor touching someone above them.
    colleague = _person(workspace, "colleague@example.com", READ_ONLY)
    before = _state(workspace)
    response = client.post(f"/settings/users/{colleague.pk}/", {"role": admin_role.pk})
    assert response.status_code == 422 and response.context["form"].errors["role"]
    assert client.post(f"/settings/users/{workspace.owner.pk}/", {"role": office.pk}).status_code in (403, 422)
    assert _state(workspace) == before
    # A team change of themselves is fine.
    team = _in(workspace, lambda: Team.objects.create(name="Back office"))
    assert client.post(f"/settings/users/{clerk.pk}/", {"role": office.pk, "team": team.pk}).status_code == 302


# --- owner transfer ----------------------------------------------------------------------------------------


def _owned_by(user: User) -> dict[str, int]:
    return {
        "companies": Company.objects.filter(owner=user).count(),
        "contacts": Contact.objects.filter(owner=user).count(),
        "leads": Lead.objects.filter(owner=user).count(),
        "deals": Deal.objects.filter(owner=user).count(),
        "activities": Activity.objects.filter(assignee=user, is_done=False).count(),
    }


@pytest.fixture
def leaver_with_records(workspace) -> User:
    leaver = _person(workspace, "leaver@example.com")

    def make() -> None:
        companies = CompanyFactory.create_batch(3, owner=leaver)
        ContactFactory.create_batch(2, owner=leaver, company=companies[0])
        LeadFactory.create_batch(2, owner=leaver)
        DealFactory.create_batch(2, owner=leaver, company=companies[1])
        ActivityFactory.create_batch(2, assignee=leaver, created_by=leaver)
        ActivityFactory(assignee=leaver, created_by=leaver, is_done=True, done_at=timezone.now())

    _in(workspace, make)
    return leaver


def test_owner_transfer_moves_everything_and_writes_history(workspace, owner_client, leaver_with_records) -> None:
    leaver = leaver_with_records
    heir = _person(workspace, "heir@example.com")
    response = owner_client.post(f"/settings/users/{leaver.pk}/transfer/", {"target": heir.pk})
    assert response.status_code == 302
    assert _in(workspace, lambda: _owned_by(leaver)) == {
        "companies": 0,
        "contacts": 0,
        "leads": 0,
        "deals": 0,
        "activities": 0,
    }
    assert _in(workspace, lambda: _owned_by(heir)) == {
        "companies": 3,
        "contacts": 2,
        "leads": 2,
        "deals": 2,
        "activities": 2,
    }
    # The finished activity keeps its assignee.
    assert _in(workspace, lambda: Activity.objects.filter(assignee=leaver, is_done=True).count()) == 1
    history = _in(
        workspace,
        lambda: list(ChangeRecord.objects.filter(record_type="deal", action="updated", actor=workspace.owner)),
    )
    assert len(history) == 2 and all(any(c["field"] == "owner" for c in h.changes) for h in history)
    event = _in(workspace, lambda: AuditEvent.objects.get(action="records_transferred"))
    assert event.target_id == str(leaver.pk) and event.details["deals"] == 2 and event.details["to"]["id"] == heir.pk


def test_owner_transfer_to_a_bad_target_moves_nothing(workspace, owner_client, leaver_with_records) -> None:
    leaver = leaver_with_records
    inactive = _person(workspace, "inactive@example.com")
    _in(workspace, lambda: User.objects.filter(pk=inactive.pk).update(is_active=False))
    before = _state(workspace)
    owned = _in(workspace, lambda: _owned_by(leaver))
    for target in (inactive.pk, leaver.pk, 999999, ""):
        response = owner_client.post(f"/settings/users/{leaver.pk}/transfer/", {"target": target})
        assert response.status_code == 422, target
    # Through the service too: an inactive person is refused.
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _in(workspace, lambda: records_transfer(actor=workspace.owner, source=leaver, target=inactive))
    assert _in(workspace, lambda: _owned_by(leaver)) == owned
    assert _state(workspace) == before


def test_owner_transfer_needs_edit_rights_on_every_record(workspace, leaver_with_records) -> None:
    # Managing users without editing every deal: the transfer is refused as a whole.
    partial = _in(
        workspace,
        lambda: Role.objects.create(
            name="People office",
            grants={**builtin_role(ADMIN).grants, "deal": {"view": "all", "edit": "own"}},
            permissions=["manage_users"],
        ),
    )
    clerk = _in(workspace, lambda: user_create(email="clerk@example.com", password=PASSWORD, role=partial))
    heir = _person(workspace, "heir@example.com")
    before = _state(workspace)
    response = workspace.client(logged_in_as=clerk).post(
        f"/settings/users/{leaver_with_records.pk}/transfer/", {"target": heir.pk}
    )
    assert response.status_code == 403
    assert _state(workspace) == before
    assert _in(workspace, lambda: _owned_by(heir))["companies"] == 0
