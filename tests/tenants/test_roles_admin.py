"""The roles pages: built-in roles kept as shipped and copied, custom roles created, edited and deleted through
a record type × action matrix, validated, audited and guarded (last administrator, no self-raise)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tenants.utils import tenant_context

from crm.core.types import RecordType
from crm.customfields.services import custom_field_create
from tenants.accounts.models import AuditEvent, Role, User
from tenants.accounts.roles import ACTIONS, ADMIN, READ_ONLY, SALES_MANAGER, builtin_role
from tenants.accounts.services import role_create, role_update, user_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _in(workspace, fn: Callable[[], Any]) -> Any:
    with tenant_context(workspace.tenant):
        return fn()


def _roles(workspace) -> list[tuple[Any, ...]]:
    return _in(
        workspace,
        lambda: sorted(Role.objects.values_list("id", "name", "grants", "permissions", "hidden_fields")),
    )


def _audit(workspace) -> int:
    return _in(workspace, lambda: AuditEvent.objects.filter(action__startswith="role_").count())


def _form(
    name: str,
    grants: dict[str, dict[str, str]] | None = None,
    permissions: list[str] | None = None,
    hidden: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "description": "", "permissions": permissions or []}
    for t in RecordType:
        for a in ACTIONS:
            data[f"grant_{t}_{a}"] = (grants or {}).get(str(t), {}).get(a, "none")
    for t, fields in (hidden or {}).items():
        data[f"hidden_{t}"] = fields
    return data


@pytest.fixture
def custom(workspace) -> Role:
    return _in(
        workspace,
        lambda: Role.objects.create(name="Field sales", grants={"deal": {"view": "own"}}, permissions=[]),
    )


def test_a_sales_manager_is_refused_and_nothing_changes(workspace, custom) -> None:
    manager = _in(workspace, lambda: user_create(email="m@example.com", password=PASSWORD))
    client = workspace.client(logged_in_as=manager)
    before, audit = _roles(workspace), _audit(workspace)
    for url in ("/settings/roles/", "/settings/roles/new/", f"/settings/roles/{custom.pk}/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/settings/roles/new/", _form("Mine", permissions=["manage_users"])).status_code == 403
    assert client.post(f"/settings/roles/{custom.pk}/", _form("Renamed")).status_code == 403
    assert client.post(f"/settings/roles/{custom.pk}/copy/").status_code == 403
    assert client.post(f"/settings/roles/{custom.pk}/delete/").status_code == 403
    assert (_roles(workspace), _audit(workspace)) == (before, audit)


def test_other_workspace_gets_404_for_this_workspaces_role(workspace, other_workspace) -> None:
    roles = _in(
        workspace,
        lambda: [Role.objects.create(name=f"Secret role {n}", grants={}) for n in range(6)],
    )
    before = _roles(workspace)
    stranger = other_workspace.client(logged_in_as=other_workspace.owner)
    target = roles[-1]
    response = stranger.get(f"/settings/roles/{target.pk}/")
    assert response.status_code == 404 and b"Secret role" not in response.content
    assert stranger.post(f"/settings/roles/{target.pk}/", _form("Taken")).status_code == 404
    assert stranger.post(f"/settings/roles/{target.pk}/delete/").status_code == 404
    assert b"Secret role" not in stranger.get("/settings/roles/").content
    assert _roles(workspace) == before


def test_builtin_roles_are_listed_read_only_and_copied(workspace, owner_client) -> None:
    content = owner_client.get("/settings/roles/").content.decode()
    for name in ("Administrator", "Sales head", "Sales manager", "Read-only"):
        assert name in content
    manager_role = _in(workspace, lambda: builtin_role(SALES_MANAGER))
    before = _roles(workspace)
    assert owner_client.post(f"/settings/roles/{manager_role.pk}/", _form("Changed")).status_code == 403
    assert owner_client.post(f"/settings/roles/{manager_role.pk}/delete/").status_code == 403
    assert _roles(workspace) == before

    response = owner_client.post(f"/settings/roles/{manager_role.pk}/copy/")
    copy = _in(workspace, lambda: Role.objects.get(name="Copy of Sales manager"))
    assert response.status_code == 302 and response["Location"] == f"/settings/roles/{copy.pk}/"
    assert copy.builtin == "" and copy.grants == manager_role.grants
    page = owner_client.get(f"/settings/roles/{copy.pk}/")
    assert page.status_code == 200 and b"<fieldset disabled" not in page.content
    # A second copy gets a name of its own.
    owner_client.post(f"/settings/roles/{manager_role.pk}/copy/")
    assert _in(workspace, lambda: Role.objects.filter(name__startswith="Copy of Sales manager").count()) == 2


def test_create_and_edit_a_role_with_the_matrix(workspace, owner_client) -> None:
    field = _in(
        workspace,
        lambda: custom_field_create(
            actor=workspace.owner, record_type=RecordType.DEAL, label="Margin", field_type="number"
        ),
    )
    page = owner_client.get("/settings/roles/new/").content.decode()
    assert f"cf:{field.key}" in page and 'name="grant_product_view"' in page
    grants = {"deal": {"view": "team", "edit": "own"}, "product": {"view": "all"}}
    hidden = {"deal": ["amount", f"cf:{field.key}"]}
    response = owner_client.post("/settings/roles/new/", _form("Junior", grants, ["view_audit_log"], hidden))
    assert response.status_code == 302
    role = _in(workspace, lambda: Role.objects.get(name="Junior"))
    assert role.grants == grants and role.permissions == ["view_audit_log"]
    assert role.hidden_fields == {"deal": sorted(["amount", f"cf:{field.key}"])}
    created = _in(workspace, lambda: AuditEvent.objects.get(action="role_created"))
    assert created.details["after"]["grants"] == grants

    edited = {"deal": {"view": "all", "edit": "team"}, "product": {"view": "all"}}
    response = owner_client.post(f"/settings/roles/{role.pk}/", _form("Junior", edited, [], {}))
    assert response.status_code == 302
    role = _in(workspace, lambda: Role.objects.get(pk=role.pk))
    assert role.grants == edited and role.permissions == [] and role.hidden_fields == {}
    changed = _in(workspace, lambda: AuditEvent.objects.get(action="role_changed"))
    assert changed.details["before"]["grants"] == grants and changed.details["after"]["grants"] == edited
    assert changed.details["before"]["permissions"] == ["view_audit_log"]


def test_bad_grants_are_refused(workspace, owner_client) -> None:
    before, audit = _roles(workspace), _audit(workspace)
    # Products are a shared catalog: own and team scopes are not offered.
    response = owner_client.post("/settings/roles/new/", _form("Odd", {"product": {"view": "own"}}))
    assert response.status_code == 422 and response.context["form"].errors["grant_product_view"]
    response = owner_client.post("/settings/roles/new/", _form("Odd", {"deal": {"view": "everything"}}))
    assert response.status_code == 422
    response = owner_client.post("/settings/roles/new/", _form("Odd", hidden={"deal": ["nonexistent"]}))
    assert response.status_code == 422
    response = owner_client.post("/settings/roles/new/", _form("Administrator"))  # the name is taken
    assert response.status_code == 422 and response.context["form"].errors["name"]
    assert (_roles(workspace), _audit(workspace)) == (before, audit)

    owner = workspace.owner
    for kwargs, key in (
        ({"grants": {"spaceship": {"view": "all"}}}, "grants"),
        ({"grants": {"deal": {"fly": "all"}}}, "grants"),
        ({"grants": {"deal": {"view": "galaxy"}}}, "grants"),
        ({"grants": {"product": {"view": "team"}}}, "grants"),
        ({"grants": {}, "permissions": ["launch_rockets"]}, "permissions"),
        ({"grants": {}, "hidden_fields": {"deal": ["cf:missing"]}}, "hidden_fields"),
        ({"grants": {}, "hidden_fields": {"planet": ["x"]}}, "hidden_fields"),
    ):
        with pytest.raises(ValidationError) as caught:
            _in(workspace, lambda kwargs=kwargs: role_create(actor=owner, name="Bad", **kwargs))
        assert key in caught.value.message_dict, kwargs
    assert (_roles(workspace), _audit(workspace)) == (before, audit)


def test_delete_only_a_role_nobody_holds(workspace, owner_client, custom) -> None:
    holder = _in(workspace, lambda: user_create(email="h@example.com", password=PASSWORD, role=custom))
    before = _roles(workspace)
    response = owner_client.post(f"/settings/roles/{custom.pk}/delete/", follow=True)
    assert b"People hold this role" in response.content
    assert _roles(workspace) == before
    _in(workspace, lambda: User.objects.filter(pk=holder.pk).update(role=builtin_role(READ_ONLY)))
    assert owner_client.post(f"/settings/roles/{custom.pk}/delete/").status_code == 302
    assert not _in(workspace, lambda: Role.objects.filter(pk=custom.pk).exists())
    event = _in(workspace, lambda: AuditEvent.objects.get(action="role_deleted"))
    assert event.details["before"]["name"] == "Field sales"


def test_editing_roles_cannot_remove_the_last_administrators(workspace) -> None:
    admin = _in(workspace, lambda: builtin_role(ADMIN))
    chief = _in(
        workspace,
        lambda: Role.objects.create(name="Chief", grants=admin.grants, permissions=list(admin.permissions)),
    )
    # The only administrator holds a custom role; someone who manages roles (not users) edits it.
    _in(workspace, lambda: User.objects.filter(pk=workspace.owner.pk).update(role=chief))
    keeper = _in(
        workspace,
        lambda: Role.objects.create(name="Role keeper", grants=admin.grants, permissions=["manage_roles"]),
    )
    editor = _in(workspace, lambda: user_create(email="editor@example.com", password=PASSWORD, role=keeper))
    client = workspace.client(logged_in_as=editor)
    before, audit = _roles(workspace), _audit(workspace)
    response = client.post(f"/settings/roles/{chief.pk}/", _form("Chief", admin.grants, ["manage_roles"]))
    assert response.status_code == 422 and b"last active administrator" in response.content
    response = client.post(f"/settings/roles/{chief.pk}/delete/", follow=True)
    assert b"People hold this role" in response.content
    assert (_roles(workspace), _audit(workspace)) == (before, audit)
    # With another administrator around, the change goes through.
    _in(workspace, lambda: user_create(email="admin2@example.com", password=PASSWORD, role=admin))
    response = client.post(f"/settings/roles/{chief.pk}/", _form("Chief", admin.grants, ["manage_roles"]))
    assert response.status_code == 302


def test_nobody_raises_their_own_rights_through_roles(workspace, custom) -> None:
    keeper = _in(
        workspace,
        lambda: Role.objects.create(
            name="Role keeper", grants={"deal": {"view": "team", "edit": "own"}}, permissions=["manage_roles"]
        ),
    )
    editor = _in(workspace, lambda: user_create(email="editor@example.com", password=PASSWORD, role=keeper))
    client = workspace.client(logged_in_as=editor)
    before, audit = _roles(workspace), _audit(workspace)
    # Not their own role.
    page = client.get(f"/settings/roles/{keeper.pk}/")
    assert page.status_code == 200 and b"<fieldset disabled" in page.content
    grab = _form("Role keeper", {"deal": {"view": "all", "edit": "all"}}, ["manage_roles", "manage_users"])
    assert client.post(f"/settings/roles/{keeper.pk}/", grab).status_code == 403
    # Not a permission nor a scope they lack, in a new role or another one.
    response = client.post("/settings/roles/new/", _form("Side door", {"deal": {"view": "team"}}, ["manage_users"]))
    assert response.status_code == 422 and response.context["form"].errors["permissions"]
    response = client.post(f"/settings/roles/{custom.pk}/", _form("Field sales", {"deal": {"view": "all"}}))
    assert response.status_code == 422 and b"wider than your own role" in response.content
    # Copying the Administrator role would hand out what they lack too.
    client.post(f"/settings/roles/{_in(workspace, lambda: builtin_role(ADMIN)).pk}/copy/")
    assert (_roles(workspace), _audit(workspace)) == (before, audit)
    # Within their own rights is fine.
    response = client.post("/settings/roles/new/", _form("Narrow", {"deal": {"view": "own"}}))
    assert response.status_code == 302

    with pytest.raises(PermissionDenied):
        _in(workspace, lambda: role_update(actor=editor, role=keeper, name="Role keeper", grants={}))
