"""Who is asking comes from the cache (tenants/accounts/identity.py): no query for the API key, the user, the
role or the two-factor rule on a repeated request, and any change to them applies at the very next request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.accounts.models import ApiKey, Role, User, WorkspaceSecurity
from tenants.accounts.services import api_key_revoke, user_deactivate
from tests.api.conftest import bearer_client, inside, key_for
from tests.conftest import Workspace
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

IDENTITY_TABLES = ("accounts_apikey", "accounts_role", "accounts_workspacesecurity", "django_session")


def _identity_queries(call) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    connection.set_schema_to_public()
    assert response.status_code == 200, response.content
    # The page's own reads of people (owner filters) are not the signed-in user's lookup by id.
    return [
        q["sql"]
        for q in queries.captured_queries
        if any(t in q["sql"] for t in IDENTITY_TABLES) or 'WHERE "accounts_user"."id" =' in q["sql"]
    ]


def test_a_repeated_api_request_reads_no_identity_and_sets_no_search_path(workspace: Workspace) -> None:
    api = bearer_client(workspace, key_for(workspace))
    api.get("/companies/")
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/companies/").status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 1 and statements[0].startswith('SELECT "companies_company"'), statements


def test_a_repeated_page_reads_no_session_user_role_or_security_row(workspace: Workspace, owner_client) -> None:
    owner_client.get("/companies/")
    assert _identity_queries(lambda: owner_client.get("/companies/")) == []


def test_a_role_change_applies_at_the_next_api_request(workspace: Workspace) -> None:
    with inside(workspace):
        role = Role.objects.create(name="Viewer", grants={"company": {"view": "all"}})
        member = UserFactory(role=role)
    api = bearer_client(workspace, key_for(workspace, member))
    assert api.get("/companies/").status_code == 200
    with inside(workspace):
        role.grants = {}
        role.save()
    assert api.get("/companies/").status_code == 403


def test_moving_a_person_to_another_role_applies_at_the_next_request(workspace: Workspace) -> None:
    with inside(workspace):
        nothing = Role.objects.create(name="Nothing", grants={})
        member = UserFactory()
    api = bearer_client(workspace, key_for(workspace, member))
    assert api.get("/companies/").status_code == 200
    with inside(workspace):
        member.role = nothing
        member.save(update_fields=["role"])
    assert api.get("/companies/").status_code == 403


def test_revoking_a_key_or_deactivating_its_user_refuses_the_next_request(workspace: Workspace) -> None:
    with inside(workspace):
        member = UserFactory()
    first, second = key_for(workspace, member, "first"), key_for(workspace, member, "second")
    assert bearer_client(workspace, first).get("/companies/").status_code == 200
    assert bearer_client(workspace, second).get("/companies/").status_code == 200
    with inside(workspace):
        api_key_revoke(actor=member, key=ApiKey.objects.get(name="first"))
    assert bearer_client(workspace, first).get("/companies/").status_code == 401
    assert bearer_client(workspace, second).get("/companies/").status_code == 200
    with inside(workspace):
        user_deactivate(actor=workspace.owner, user=member)
    assert bearer_client(workspace, second).get("/companies/").status_code == 401


def test_a_deactivated_person_s_session_ends_at_the_next_page(workspace: Workspace) -> None:
    with inside(workspace):
        member = UserFactory()
    client = workspace.client(logged_in_as=member)
    assert client.get("/companies/").status_code == 200
    with inside(workspace):
        user_deactivate(actor=workspace.owner, user=User.objects.get(pk=member.pk))
    response = client.get("/companies/")
    connection.set_schema_to_public()
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_new_key_works_at_once_after_an_unknown_prefix_was_cached(workspace: Workspace) -> None:
    secret = key_for(workspace, name="made")
    prefix = secret.split("_")[1]
    with inside(workspace):
        ApiKey.objects.all().delete()
    assert bearer_client(workspace, secret).get("/companies/").status_code == 401  # "no such prefix" is cached
    with inside(workspace):
        key = ApiKey.objects.create(user=workspace.owner, name="again", prefix=prefix, key_hash="0" * 64)
        key.key_hash = __import__("hashlib").sha256(secret.encode()).hexdigest()
        key.save()
    assert bearer_client(workspace, secret).get("/companies/").status_code == 200


def test_requiring_two_factor_applies_at_the_next_page(workspace: Workspace, owner_client) -> None:
    assert owner_client.get("/companies/").status_code == 200
    with inside(workspace):
        WorkspaceSecurity.objects.create(require_two_factor=True)
    response = owner_client.get("/companies/")
    connection.set_schema_to_public()
    assert response.status_code == 302 and "two-factor" in response["Location"]


def test_cached_identities_never_cross_workspaces(workspace: Workspace, other_workspace: Workspace) -> None:
    """Same user ids, same key prefixes in two workspaces: each workspace only ever gets its own rows."""
    with inside(other_workspace):
        twin = UserFactory(id=workspace.owner.pk, email="twin@example.com")
    own = workspace.client(logged_in_as=workspace.owner)
    other = other_workspace.client(logged_in_as=twin)
    for _ in range(2):
        for client, email in ((own, workspace.owner.email), (other, twin.email)):
            response = client.get("/profile/")
            connection.set_schema_to_public()
            assert response.status_code == 200
            assert email in response.content.decode()
    # A session cookie of one workspace means nothing in the other, cached or not.
    stolen = other_workspace.client()
    stolen.cookies = own.cookies
    response = stolen.get("/companies/")
    connection.set_schema_to_public()
    assert response.status_code == 302 and "/login/" in response["Location"]
    # A key of one workspace is unknown in the other, even with the same prefix cached there.
    secret = key_for(workspace)
    assert bearer_client(workspace, secret).get("/companies/").status_code == 200
    assert bearer_client(other_workspace, secret).get("/companies/").status_code == 401


def test_sign_in_and_api_keys_work_while_the_caches_are_unreachable(workspace: Workspace, settings) -> None:
    from tenants import routing
    from tenants.accounts import identity

    nothing_listens = "redis://127.0.0.1:1/0"
    settings.CACHES = {alias: {**config, "LOCATION": nothing_listens} for alias, config in settings.CACHES.items()}
    try:
        secret = key_for(workspace)
        assert bearer_client(workspace, secret).get("/companies/").status_code == 200
        client = workspace.client(logged_in_as=workspace.owner)
        response = client.get("/companies/")
        connection.set_schema_to_public()
        assert response.status_code == 200
    finally:
        # Both caches are tried again by the next test.
        identity._identities._down_until = routing._routes._down_until = 0.0


def test_a_repeated_page_asks_the_cache_twice_for_who_is_asking(workspace: Workspace, owner_client) -> None:
    """The session, then the user with their role and the two-factor rule in one round trip."""
    from django.core.cache import caches

    owner_client.get("/companies/")
    calls: list[str] = []
    for alias in ("default", "shared"):
        cache = caches[alias]
        for name in ("get", "get_many"):
            original = getattr(cache, name)

            def counting(keys, *args, _original=original, _name=f"{alias}.{name}", **kwargs):
                first = keys[0] if isinstance(keys, list | tuple) else keys
                # What the call is about: "shared.get_many identity", "default.get session".
                about = "session" if "sessions" in str(first) else str(first).split(":")[0]
                calls.append(f"{_name} {about}")
                return _original(keys, *args, **kwargs)

            setattr(cache, name, counting)
    try:
        response = owner_client.get("/companies/")
    finally:
        for alias in ("default", "shared"):
            for name in ("get", "get_many"):
                caches[alias].__dict__.pop(name, None)
    connection.set_schema_to_public()
    assert response.status_code == 200
    # The host's tenant, the session, the user (with the two-factor rule); the page's own fragments come after.
    assert calls[:3] == ["shared.get_many routing", "default.get session", "shared.get_many identity"], calls
    assert [c for c in calls if c.endswith((" routing", " session", " identity"))] == calls[:3], calls
