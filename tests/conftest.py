"""Test fixtures: a real PostgreSQL and Redis, workspaces made cheaply from the schema pool.

Most tests use pytest-django's `db`: everything, DDL included, runs in one transaction that is rolled back,
so a workspace claimed from the pool goes back to the pool afterwards. Tests that need committed data (a
Celery worker, a browser) use `committed_db` and delete what they made; they must not use pytest-django's
`transactional_db`, whose flush would empty the tenant table but leave the schemas behind.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone, translation

from platform_core.celery import app as celery_app
from tenants.accounts.models import User
from tenants.models import Domain, Tenant
from tenants.services import ProvisionedWorkspace, public_tenant_ensure, schema_pool_refill, workspace_create

PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


def pytest_configure() -> None:
    # The test run must not share a queue with a demo's worker on the same Redis.
    celery_app.conf.task_default_queue = "kontor-tests"
    # Events are delivered in the test process when a test runs the on-commit callbacks; the event tests that
    # run a real worker turn this off.
    settings.EVENTS_DISPATCH_EAGER = True


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment: None, django_db_blocker: Any) -> Iterator[None]:
    """The test database, migrated, with the public site's domain, the template, its schema script and a full pool.

    Unlike pytest-django's own, it is set up whatever the tests are marked with, so `committed_db` tests
    (which carry no django_db mark) can never reach the development database.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        public_tenant_ensure()
        schema_pool_refill()
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture(autouse=True)
def _caches_asked_again_after_each_test() -> Iterator[None]:
    """A test that makes Redis unreachable leaves the cached lookups reading the database for a few seconds:
    the next test starts with them asking the cache again."""
    yield
    from tenants.generations import all_retry_now

    all_retry_now()


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    yield
    connection.set_schema_to_public()
    # A request leaves its language (and Django its locale) active in the thread, as in a server between two
    # requests; the next test starts in the default language, like a request without a language would.
    translation.deactivate()
    timezone.deactivate()


@dataclass
class Workspace:
    tenant: Tenant
    domain: str
    owner: User
    method: str

    @property
    def schema(self) -> str:
        return self.tenant.schema_name

    def client(self, *, logged_in_as: User | None = None) -> Client:
        client = Client(HTTP_HOST=self.domain)
        if logged_in_as is not None:
            response = client.post("/login/", {"username": logged_in_as.email, "password": PASSWORD})
            assert response.status_code == 302, response.content
            connection.set_schema_to_public()
        return client


def make_workspace(**overrides: Any) -> Workspace:
    n = next(_counter)
    data = {
        "company_name": f"Company {n}",
        "subdomain": f"co{n}-{secrets.token_hex(3)}",
        "owner_email": f"owner{n}@example.com",
        "owner_password": PASSWORD,
        "owner_name": f"Owner {n}",
    }
    data.update(overrides)
    created: ProvisionedWorkspace = workspace_create(**data)
    connection.set_schema_to_public()
    return Workspace(
        tenant=created.tenant, domain=created.domain.domain, owner=created.owner, method=str(created.method)
    )


@pytest.fixture
def workspace_factory(db: None) -> Callable[..., Workspace]:
    return make_workspace


@pytest.fixture
def workspace(workspace_factory: Callable[..., Workspace]) -> Workspace:
    return workspace_factory()


@pytest.fixture
def other_workspace(workspace_factory: Callable[..., Workspace]) -> Workspace:
    return workspace_factory()


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[Callable[..., Workspace]]:
    """Database access outside a test transaction; yields a factory whose workspaces are deleted after."""
    made: list[Workspace] = []

    def factory(**overrides: Any) -> Workspace:
        ws = make_workspace(**overrides)
        made.append(ws)
        return ws

    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_"), "refusing to write outside the test database"
        yield factory
        connection.set_schema_to_public()
        for ws in made:
            if Tenant.objects.filter(pk=ws.tenant.pk).exists():
                ws.tenant.delete(force_drop=True)
        # Workspaces created through the browser are found by their domain.
        for domain in Domain.objects.filter(tenant__kind=Tenant.Kind.WORKSPACE, domain__startswith="e2e-"):
            domain.tenant.delete(force_drop=True)
        schema_pool_refill()


@pytest.fixture
def in_workspace(workspace: Workspace) -> Iterator[Workspace]:
    """Run the test body inside the workspace's schema (for services, selectors and factories)."""
    from django_tenants.utils import tenant_context

    with tenant_context(workspace.tenant):
        yield workspace


@pytest.fixture
def owner_client(workspace: Workspace) -> Client:
    """A browser session of the workspace's administrator."""
    return workspace.client(logged_in_as=workspace.owner)


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST=settings.BASE_DOMAIN)
