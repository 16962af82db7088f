"""The teams page: a tree with heads and members; create, edit (no cycles), delete only when empty."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from tenants.accounts.models import AuditEvent, Team, User
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _in(workspace, fn: Callable[[], Any]) -> Any:
    with tenant_context(workspace.tenant):
        return fn()


def _teams(workspace) -> list[tuple[Any, ...]]:
    return _in(workspace, lambda: sorted(Team.objects.values_list("id", "name", "parent_id", "head_id")))


def _audit(workspace) -> int:
    return _in(workspace, lambda: AuditEvent.objects.filter(action__startswith="team_").count())


@pytest.fixture
def tree(workspace) -> dict[str, Team]:
    def make() -> dict[str, Team]:
        sales = Team.objects.create(name="Sales")
        north = Team.objects.create(name="North", parent=sales)
        south = Team.objects.create(name="South", parent=sales)
        city = Team.objects.create(name="City", parent=north)
        return {"sales": sales, "north": north, "south": south, "city": city}

    return _in(workspace, make)


def test_tree_is_indented_with_members(workspace, owner_client, tree) -> None:
    _in(
        workspace,
        lambda: user_create(email="n@example.com", password=PASSWORD, full_name="Nina North", team=tree["north"]),
    )
    response = owner_client.get("/settings/teams/")
    assert response.status_code == 200
    content = response.content.decode()
    order = [content.index(f">{name}</a>") for name in ("Sales", "North", "City", "South")]
    assert order == sorted(order)
    assert 'data-depth="2"' in content and "Nina North" in content
    page = owner_client.get(f"/settings/teams/{tree['north'].pk}/").content.decode()
    assert "Nina North" in page


def test_create_and_edit_a_team(workspace, owner_client, tree) -> None:
    head = _in(workspace, lambda: user_create(email="h@example.com", password=PASSWORD, full_name="Head"))
    response = owner_client.post("/settings/teams/", {"name": "East", "parent": tree["sales"].pk, "head": head.pk})
    assert response.status_code == 302
    east = _in(workspace, lambda: Team.objects.get(name="East"))
    assert (east.parent_id, east.head_id) == (tree["sales"].pk, head.pk)
    response = owner_client.post(f"/settings/teams/{east.pk}/", {"name": "Far East", "parent": tree["north"].pk})
    assert response.status_code == 302
    east = _in(workspace, lambda: Team.objects.get(pk=east.pk))
    assert (east.name, east.parent_id, east.head_id) == ("Far East", tree["north"].pk, None)
    actions = _in(
        workspace, lambda: list(AuditEvent.objects.filter(action__startswith="team_").values_list("action", flat=True))
    )
    assert sorted(actions) == ["team_changed", "team_created"]


def test_no_cycles_and_no_inactive_head(workspace, owner_client, tree) -> None:
    gone = _in(workspace, lambda: user_create(email="g@example.com", password=PASSWORD))
    _in(workspace, lambda: User.objects.filter(pk=gone.pk).update(is_active=False))
    before, audit = _teams(workspace), _audit(workspace)
    response = owner_client.post(f"/settings/teams/{tree['sales'].pk}/", {"name": "Sales", "parent": tree["city"].pk})
    assert response.status_code == 422 and response.context["form"].errors["parent"]
    response = owner_client.post(f"/settings/teams/{tree['sales'].pk}/", {"name": "Sales", "parent": tree["sales"].pk})
    assert response.status_code == 422
    response = owner_client.post("/settings/teams/", {"name": "Ghosts", "head": gone.pk})
    assert response.status_code == 422 and response.context["form"].errors["head"]
    response = owner_client.post("/settings/teams/", {"name": "North"})
    assert response.status_code == 422 and response.context["form"].errors["name"]
    assert (_teams(workspace), _audit(workspace)) == (before, audit)


def test_delete_only_without_members_or_children(workspace, owner_client, tree) -> None:
    member = _in(workspace, lambda: user_create(email="c@example.com", password=PASSWORD, team=tree["city"]))
    before = _teams(workspace)
    response = owner_client.post(f"/settings/teams/{tree['north'].pk}/delete/", follow=True)
    assert b"sub-teams" in response.content
    response = owner_client.post(f"/settings/teams/{tree['city'].pk}/delete/", follow=True)
    assert b"still has members" in response.content
    assert _teams(workspace) == before
    _in(workspace, lambda: User.objects.filter(pk=member.pk).update(team=None))
    assert owner_client.post(f"/settings/teams/{tree['city'].pk}/delete/").status_code == 302
    assert not _in(workspace, lambda: Team.objects.filter(pk=tree["city"].pk).exists())
    assert _in(workspace, lambda: AuditEvent.objects.filter(action="team_deleted", target_label="City").exists())


def test_refused_without_permission_and_across_workspaces(workspace, other_workspace, tree) -> None:
    manager = _in(workspace, lambda: user_create(email="m@example.com", password=PASSWORD))
    client = workspace.client(logged_in_as=manager)
    before, audit = _teams(workspace), _audit(workspace)
    team = tree["city"]
    assert client.get("/settings/teams/").status_code == 403
    assert client.post("/settings/teams/", {"name": "Mine"}).status_code == 403
    assert client.get(f"/settings/teams/{team.pk}/").status_code == 403
    assert client.post(f"/settings/teams/{team.pk}/", {"name": "Renamed"}).status_code == 403
    assert client.post(f"/settings/teams/{team.pk}/delete/").status_code == 403

    stranger = other_workspace.client(logged_in_as=other_workspace.owner)
    response = stranger.get(f"/settings/teams/{team.pk}/")
    assert response.status_code == 404 and b"City" not in response.content
    assert stranger.post(f"/settings/teams/{team.pk}/", {"name": "Renamed"}).status_code == 404
    assert stranger.post(f"/settings/teams/{team.pk}/delete/").status_code == 404
    assert b"North" not in stranger.get("/settings/teams/").content
    assert (_teams(workspace), _audit(workspace)) == (before, audit)
