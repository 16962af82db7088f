"""The registry of record kinds and the workspace initialisers: the layers above register, the access layer and
provisioning follow what is registered without knowing the apps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import translation
from django_tenants.utils import schema_context, schema_exists

from crm.core.types import RecordType
from crm.deals.models import Pipeline
from tenants import initialisers
from tenants.accounts import kinds, policy
from tenants.accounts.models import Role, Scope, Team, User
from tenants.accounts.roles import roles_ensure_builtin
from tenants.accounts.services import hideable_fields, records_transfer, scopes_for, user_create
from tenants.models import Domain, Tenant
from tenants.services import workspace_create
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "company_name": "Acme LLC",
    "subdomain": "acme",
    "owner_email": "anna@acme.test",
    "owner_password": PASSWORD,
}


def test_the_crm_registers_its_kinds_with_their_ownership() -> None:
    assert kinds.all_keys() == ["company", "contact", "lead", "deal", "activity", "product", "file"]
    assert kinds.get(RecordType.DEAL).owner_paths == ("owner",)
    assert "deal__owner" in kinds.get("activity").owner_paths
    assert not kinds.get("product").owned and scopes_for("product") == (Scope.NONE, Scope.ALL)
    assert kinds.get("deal").model.__name__ == "Deal"
    assert [t.plural for _k, t in kinds.transfers()] == ["companies", "contacts", "leads", "deals", "activities"]


def test_a_key_cannot_be_registered_twice_with_another_definition() -> None:
    with pytest.raises(ValueError, match="already registered"):
        kinds.register(kinds.RecordKind(key="deal", label="Deal", model_name="deals.Deal"))
    assert kinds.get("deal").transfer is not None  # the CRM's definition stands


@pytest.fixture
def team_kind() -> Iterator[kinds.RecordKind]:
    """A kind the access layer has never heard of, registered as an app would: teams, owned by their head."""
    kind = kinds.register(
        kinds.RecordKind(
            key="squad",
            label="Squad",
            model_name="accounts.Team",
            order=200,
            owner_paths=("head",),
            hideable=(kinds.HideableField("name", "name", also_hides=("title",)),),
        )
    )
    yield kind
    kinds.unregister("squad")


def test_the_policy_governs_a_newly_registered_kind_from_the_registry_alone(in_workspace, team_kind) -> None:
    role = Role.objects.create(
        name="Squad leads",
        grants={"squad": {"view": "own"}},
        hidden_fields={"squad": ["name"]},
    )
    lead = user_create(email="lead@example.com", password=PASSWORD, role=role)
    other = user_create(email="other@example.com", password=PASSWORD, role=role)
    mine = Team.objects.create(name="Mine", head=lead)
    Team.objects.create(name="Theirs", head=other)

    assert list(policy.visible(lead, Team.objects.all(), "squad")) == [mine]
    assert policy.can_on(lead, policy.Action.VIEW, "squad", mine)
    assert scopes_for("squad") == tuple(Scope)
    assert hideable_fields("squad") == {"name": "name"}
    # What a hidden field also hides is hidden with it.
    assert policy.hides(lead, "squad", "name") and policy.hides(lead, "squad", "title")
    assert not policy.hides(lead, "squad", "parent")
    # The administrator's role, rebuilt from the registry, now covers the kind too.
    admin = User.objects.get(role__builtin="admin")
    assert policy.scope_of(admin, policy.Action.EDIT, "squad") == Scope.NONE  # stored before the kind existed
    roles_ensure_builtin()
    admin.refresh_from_db()
    assert policy.scope_of(admin, policy.Action.EDIT, "squad") == Scope.ALL


def test_a_hidden_deal_amount_hides_its_line_items_and_its_history(in_workspace) -> None:
    role = Role.objects.create(
        name="No amounts", grants={"deal": {"view": "all"}}, hidden_fields={"deal": ["amount", "cf:budget"]}
    )
    user = user_create(email="seller@example.com", password=PASSWORD, role=role)
    assert policy.hides(user, RecordType.DEAL, "amount")
    assert policy.hides(user, RecordType.DEAL, "line_items") and policy.hides(user, RecordType.DEAL, "totals")
    assert policy.hides(user, RecordType.DEAL, "custom_fields.budget")
    assert not policy.hides(user, RecordType.DEAL, "title")
    assert not policy.hides(user, RecordType.COMPANY, "line_items")


def test_an_owner_transfer_moves_the_registered_kinds(in_workspace) -> None:
    admin = User.objects.get(role__builtin="admin")
    source = user_create(email="leaver@example.com", password=PASSWORD)
    target = user_create(email="heir@example.com", password=PASSWORD)
    company = CompanyFactory(owner=source)
    counts = records_transfer(actor=admin, source=source, target=target)
    assert counts == {"companies": 1, "contacts": 0, "leads": 0, "deals": 0, "activities": 0}
    company.refresh_from_db()
    assert company.owner_id == target.pk


@pytest.fixture
def recorded() -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    initialisers.register("test.recorder", lambda: seen.append((connection.schema_name, translation.get_language())))
    yield seen
    initialisers.unregister("test.recorder")


def test_provisioning_runs_the_registered_initialisers_in_the_new_workspace(recorded) -> None:
    assert "deals.default_pipeline" in initialisers.registered()
    workspace_create(**SIGNUP, language="fr")
    assert recorded == [("ws_acme", "fr")]
    with schema_context("ws_acme"):
        assert Pipeline.objects.count() == 1  # the CRM's initialiser ran too


def test_a_failing_initialiser_leaves_no_workspace_behind() -> None:
    def broken() -> None:
        raise RuntimeError("initialiser failed")

    initialisers.register("test.broken", broken)
    try:
        with pytest.raises(RuntimeError, match="initialiser failed"):
            workspace_create(**SIGNUP)
    finally:
        initialisers.unregister("test.broken")
    assert not Tenant.objects.filter(schema_name="ws_acme").exists()
    assert not Domain.objects.filter(domain__startswith="acme.").exists()
    assert not schema_exists("ws_acme")
