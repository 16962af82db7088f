"""The host -> tenant lookup on the request path: cached in Redis, shared by every worker, following every change
of a domain or workspace at once; and connections recycled once they have served too many schemas."""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.backends.signals import connection_created
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenants import routing
from tenants.accounts.security import workspace_locale_update
from tenants.models import Domain, Tenant
from tenants.routing import tenant_for_host
from tenants.services import workspace_delete
from tests.conftest import Workspace, make_workspace


def _lookups(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "tenants_domain" in q["sql"] or "tenants_tenant" in q["sql"]]


def _served_by(host: str) -> Tenant | None:
    """The tenant a request to `host` was served by, or None for a 404."""
    # The public site has no login page; every workspace has one.
    response = Client(HTTP_HOST=host).get("/" if host == settings.BASE_DOMAIN else "/login/")
    connection.set_schema_to_public()
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.status_code
    return response.wsgi_request.tenant  # type: ignore[attr-defined]


def _fresh_host() -> str:
    return f"r{secrets.token_hex(4)}.{settings.BASE_DOMAIN}"


@pytest.mark.django_db
def test_a_second_request_for_a_host_runs_no_tenant_query(workspace: Workspace) -> None:
    with CaptureQueriesContext(connection) as cold:
        assert _served_by(workspace.domain).pk == workspace.tenant.pk
    assert _lookups(cold), "the first request reads the host from the database"
    with CaptureQueriesContext(connection) as warm:
        served = _served_by(workspace.domain)
    assert _lookups(warm) == []
    assert (served.pk, served.schema_name, served.kind) == (workspace.tenant.pk, workspace.schema, "workspace")
    assert (served.language, served.currency, served.time_zone) == (
        workspace.tenant.language,
        workspace.tenant.currency,
        workspace.tenant.time_zone,
    )


@pytest.mark.django_db
def test_unknown_hosts_are_remembered_too(workspace: Workspace) -> None:
    host = _fresh_host()
    assert _served_by(host) is None
    with CaptureQueriesContext(connection) as again:
        assert _served_by(host) is None
    assert _lookups(again) == []


@pytest.mark.django_db
def test_the_lookup_is_the_same_whatever_schema_the_connection_is_on(workspace: Workspace, other_workspace) -> None:
    assert tenant_for_host(workspace.domain).pk == workspace.tenant.pk
    with tenant_context(other_workspace.tenant), CaptureQueriesContext(connection) as queries:
        found = tenant_for_host(workspace.domain)
    assert found is not None and found.pk == workspace.tenant.pk
    assert _lookups(queries) == []


@pytest.mark.django_db
def test_a_renamed_domain_moves_at_once(workspace: Workspace) -> None:
    assert _served_by(workspace.domain).pk == workspace.tenant.pk
    new_host = _fresh_host()
    assert _served_by(new_host) is None  # remembered as unknown
    domain = Domain.objects.get(domain=workspace.domain)
    domain.domain = new_host
    domain.save()
    assert _served_by(workspace.domain) is None
    assert _served_by(new_host).pk == workspace.tenant.pk


@pytest.mark.django_db
def test_a_deleted_domain_stops_answering_at_once(workspace: Workspace) -> None:
    assert _served_by(workspace.domain).pk == workspace.tenant.pk
    Domain.objects.get(domain=workspace.domain).delete()
    assert _served_by(workspace.domain) is None


@pytest.mark.django_db
def test_a_deleted_workspace_stops_answering_at_once(workspace: Workspace, other_workspace: Workspace) -> None:
    assert _served_by(workspace.domain).pk == workspace.tenant.pk
    assert _served_by(other_workspace.domain).pk == other_workspace.tenant.pk
    workspace_delete(tenant=Tenant.objects.get(pk=workspace.tenant.pk))
    assert _served_by(workspace.domain) is None
    assert _served_by(other_workspace.domain).pk == other_workspace.tenant.pk


@pytest.mark.django_db
def test_a_new_workspace_is_found_at_once_even_after_its_host_was_asked_for() -> None:
    subdomain = f"new{secrets.token_hex(4)}"
    host = f"{subdomain}.{settings.BASE_DOMAIN}"
    assert _served_by(host) is None
    created = make_workspace(subdomain=subdomain)
    assert created.domain == host
    assert _served_by(host).pk == created.tenant.pk


@pytest.mark.django_db
def test_a_change_of_the_workspace_s_language_is_seen_at_the_next_request(workspace: Workspace) -> None:
    assert _served_by(workspace.domain).language == "en"
    with tenant_context(workspace.tenant):
        workspace_locale_update(
            actor=workspace.owner, tenant=workspace.tenant, language="fr", currency="EUR", time_zone="Europe/Paris"
        )
    connection.set_schema_to_public()
    served = _served_by(workspace.domain)
    assert (served.language, served.currency, served.time_zone) == ("fr", "EUR", "Europe/Paris")
    # And the page is in French for a visitor whose browser asks for no language.
    response = Client(HTTP_HOST=workspace.domain).get("/login/")
    assert response.content.decode().split('<html lang="', 1)[1].startswith('fr"')


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [Tenant.Kind.POOLED, Tenant.Kind.TEMPLATE])
def test_pooled_and_template_schemas_are_never_served(kind: str) -> None:
    tenant = Tenant.objects.filter(kind=kind).first()
    assert tenant is not None
    host = _fresh_host()
    Domain.objects.create(domain=host, tenant=tenant, is_primary=False)
    assert _served_by(host) is None
    assert _served_by(host) is None  # the remembered answer too
    assert tenant_for_host(host) is None


@pytest.mark.django_db
def test_a_workspace_that_stops_being_one_is_no_longer_served(workspace: Workspace) -> None:
    assert _served_by(workspace.domain).pk == workspace.tenant.pk
    tenant = Tenant.objects.get(pk=workspace.tenant.pk)
    tenant.kind = Tenant.Kind.POOLED
    tenant.save(update_fields=["kind"])
    assert _served_by(workspace.domain) is None


@pytest.mark.django_db
def test_another_workspace_s_host_never_yields_this_workspace(workspace: Workspace, other_workspace: Workspace) -> None:
    for _ in range(2):  # from the database, then from the cache
        assert _served_by(workspace.domain).pk == workspace.tenant.pk
        assert _served_by(other_workspace.domain).pk == other_workspace.tenant.pk
        assert _served_by(settings.BASE_DOMAIN).schema_name == settings.PUBLIC_SCHEMA_NAME
    # A host that differs only in case is the same host; one that extends it is another (unknown) one.
    assert tenant_for_host(workspace.domain.upper()).pk == workspace.tenant.pk
    assert tenant_for_host(f"x{workspace.domain}") is None
    # Renaming the other workspace's domain to a fresh host leaves this one's alone.
    domain = Domain.objects.get(domain=other_workspace.domain)
    domain.domain = _fresh_host()
    domain.save()
    assert _served_by(workspace.domain).pk == workspace.tenant.pk
    assert _served_by(domain.domain).pk == other_workspace.tenant.pk


@pytest.mark.django_db
def test_the_lookup_uses_the_index_on_the_domain(workspace: Workspace) -> None:
    # The plan of a fleet, not of the test's handful of rows (where a scan is rightly cheaper): 5,000 workspaces
    # are added and analysed inside the test's transaction, which rolls all of it back.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH made AS (
                INSERT INTO tenants_tenant (schema_name, name, kind, created_at, language, currency, time_zone,
                                            migration_state)
                SELECT 'ws_fleet_' || n, '', 'workspace', now(), 'en', 'USD', 'UTC', '' FROM generate_series(1, 5000) n
                RETURNING id, schema_name)
            INSERT INTO tenants_domain (domain, tenant_id, is_primary)
            SELECT substr(schema_name, 4) || '.example.test', id, true FROM made"""
        )
        cursor.execute("ANALYZE tenants_tenant")
        cursor.execute("ANALYZE tenants_domain")
    plan = routing.lookup_query(workspace.domain).explain()
    assert "Index Scan using tenants_domain_domain" in plan and "Index Cond: ((domain)::text" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.django_db
def test_routing_and_domain_writes_go_on_while_the_cache_is_unreachable(
    workspace: Workspace, settings, monkeypatch
) -> None:
    monkeypatch.setattr(routing._routes, "_down_until", 0.0)  # restored after the test: the cache is tried again
    nothing_listens = "redis://127.0.0.1:1/0"
    settings.CACHES = {**settings.CACHES, "shared": {**settings.CACHES["shared"], "LOCATION": nothing_listens}}
    assert _served_by(workspace.domain).pk == workspace.tenant.pk
    new_host = _fresh_host()
    domain = Domain.objects.get(domain=workspace.domain)
    domain.domain = new_host
    domain.save()
    assert Domain.objects.filter(domain=new_host).exists()
    assert _served_by(new_host).pk == workspace.tenant.pk
    assert _served_by(workspace.domain) is None


@pytest.mark.django_db
def test_a_new_connection_reads_the_database_s_identity_again(workspace: Workspace, monkeypatch) -> None:
    """A worker outlives a database dropped and created again (a restore): its entries under the old identity
    (hosts here, API keys and users too) must not be used once its connections have been cut and opened again."""
    from tenants import generations

    where = generations._where(connection)
    real = generations.database_id()
    monkeypatch.setitem(generations._database_ids, where, "stale.1")  # as if the database had been recreated
    assert generations.database_id() == "stale.1"

    def reconnect() -> None:  # another thread's connection opening, as each worker thread's does after a cut
        from django.db import connection as own

        own.ensure_connection()
        own.close()

    thread = threading.Thread(target=reconnect)
    thread.start()
    thread.join()
    assert generations.database_id() == real
    assert _served_by(workspace.domain).pk == workspace.tenant.pk


@pytest.mark.django_db
def test_setup_platform_analyses_the_lookup_s_tables() -> None:
    def last_analysed() -> dict[str, object]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT relname, last_analyze FROM pg_stat_user_tables "
                "WHERE relname IN ('tenants_tenant', 'tenants_domain') AND schemaname = 'public'"
            )
            return dict(cursor.fetchall())

    before = last_analysed()
    call_command("setup_platform", stdout=io.StringIO())
    after = last_analysed()
    assert set(after) == {"tenants_tenant", "tenants_domain"}
    for table, when in after.items():
        assert when is not None and (before[table] is None or when > before[table]), (table, before, after)


# --- connection recycling -------------------------------------------------------------------------------------


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_a_connection_is_closed_once_it_has_served_more_schemas_than_the_cap(
    committed_db: Callable[..., Workspace], settings
) -> None:
    first, second = committed_db(), committed_db()
    settings.DATABASE_CONN_MAX_SCHEMAS = 2
    connection.close()  # start from a fresh connection: it has served only the public schema
    assert _served_by(settings.BASE_DOMAIN) is not None
    pid = _backend_pid()
    assert _served_by(first.domain).pk == first.tenant.pk  # public + one workspace: at the cap, kept
    assert connection.connection is not None and _backend_pid() == pid
    assert _served_by(second.domain).pk == second.tenant.pk  # a third schema: past the cap, closed
    assert connection.connection is None
    assert _served_by(first.domain).pk == first.tenant.pk  # the next request opens a fresh one
    assert _backend_pid() != pid


def test_a_cap_of_zero_never_closes(committed_db: Callable[..., Workspace], settings) -> None:
    first, second = committed_db(), committed_db()
    settings.DATABASE_CONN_MAX_SCHEMAS = 0
    connection.close()
    for host in (settings.BASE_DOMAIN, first.domain, second.domain):
        assert _served_by(host) is not None
    assert connection.connection is not None


def test_a_celery_task_s_end_recycles_too(committed_db: Callable[..., Workspace], settings) -> None:
    from celery.signals import task_postrun

    first, second = committed_db(), committed_db()
    settings.DATABASE_CONN_MAX_SCHEMAS = 2
    connection.close()
    for ws in (first, second):
        with tenant_context(ws.tenant):
            _backend_pid()
    connection.set_schema_to_public()
    assert connection.connection is not None
    task_postrun.send(sender=None, task_id="t", task=None, args=(), kwargs={}, retval=None, state="SUCCESS")
    assert connection.connection is None


@pytest.mark.django_db
def test_never_closed_inside_a_transaction(workspace: Workspace, other_workspace: Workspace, settings) -> None:
    settings.DATABASE_CONN_MAX_SCHEMAS = 1
    for host in (settings.BASE_DOMAIN, workspace.domain, other_workspace.domain):
        assert _served_by(host) is not None
    assert connection.connection is not None and connection.in_atomic_block


def test_the_prune_over_every_workspace_recycles_its_connection_on_the_way(
    committed_db: Callable[..., Workspace], settings
) -> None:
    from tenants.events.tasks import prune

    for _ in range(3):
        committed_db()
    settings.DATABASE_CONN_MAX_SCHEMAS = 1
    opened: list[int] = []

    def count(sender: object, connection: object, **_: object) -> None:
        opened.append(1)

    connection.close()
    connection_created.connect(count, dispatch_uid="test-prune-recycles")
    try:
        prune()
    finally:
        connection_created.disconnect(dispatch_uid="test-prune-recycles")
    # One task, three workspaces and public: past a cap of one schema the connection is reopened on the way.
    assert len(opened) >= 2
