"""Opening and closing a workspace to changes: one service, seen by the next request through the routing cache."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenants.access import WorkspaceReadOnly, workspace_read_only, writes_check
from tenants.models import Tenant
from tenants.routing import tenant_for_host
from tenants.services import workspace_access_set
from tests.conftest import Workspace

pytestmark = pytest.mark.django_db


def test_closing_a_workspace_is_seen_at_once_and_only_there(workspace: Workspace, other_workspace: Workspace) -> None:
    assert tenant_for_host(workspace.domain).read_only is False  # cached now
    assert workspace_access_set(tenant=workspace.tenant, read_only=True, notice="read_only") is True
    assert tenant_for_host(workspace.domain).read_only is True
    assert tenant_for_host(workspace.domain).billing_state == "read_only"
    assert tenant_for_host(other_workspace.domain).read_only is False
    with tenant_context(Tenant.objects.get(pk=workspace.tenant.pk)):
        assert workspace_read_only()
        with pytest.raises(WorkspaceReadOnly):
            writes_check()
    with tenant_context(Tenant.objects.get(pk=other_workspace.tenant.pk)):
        writes_check()


def test_setting_what_is_already_set_writes_nothing(workspace: Workspace) -> None:
    tenant = Tenant.objects.get(pk=workspace.tenant.pk)
    with CaptureQueriesContext(connection) as queries:
        assert workspace_access_set(tenant=tenant, read_only=False) is False
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    # Reopening keeps the banner's notice unless told otherwise.
    workspace_access_set(tenant=tenant, read_only=True, notice="cancelled")
    workspace_access_set(tenant=tenant, read_only=False)
    tenant.refresh_from_db()
    assert (tenant.read_only, tenant.billing_state) == (False, "cancelled")
