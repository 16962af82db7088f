"""The search path is set once per connection and workspace (tenants/backend), and set again whenever PostgreSQL
may have undone it."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.conftest import Workspace

pytestmark = pytest.mark.django_db


def _path_and_sets() -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        path = cursor.fetchone()[0]
    return path, sum(q["sql"].startswith("SET search_path") for q in queries.captured_queries)


def test_coming_back_to_the_same_workspace_sets_nothing(workspace: Workspace, other_workspace: Workspace) -> None:
    connection.set_tenant(workspace.tenant)
    path, sets = _path_and_sets()
    assert workspace.schema in path
    # A request's middleware goes through the public schema and back to its workspace.
    connection.set_schema_to_public()
    connection.set_tenant(workspace.tenant)
    assert _path_and_sets() == (path, 0)
    connection.set_tenant(other_workspace.tenant)
    other_path, sets = _path_and_sets()
    assert other_workspace.schema in other_path and sets == 1
    connection.set_schema_to_public()
    public_path, sets = _path_and_sets()
    assert public_path == "public" and sets == 1


def test_a_rolled_back_switch_is_set_again(workspace: Workspace, other_workspace: Workspace) -> None:
    connection.set_tenant(workspace.tenant)
    assert workspace.schema in _path_and_sets()[0]
    with pytest.raises(RuntimeError), transaction.atomic():
        connection.set_tenant(other_workspace.tenant)
        assert other_workspace.schema in _path_and_sets()[0]
        raise RuntimeError
    # The server's path went back to the workspace's with the savepoint, while the connection still stands for
    # the other workspace: its path is set again, not taken for granted.
    assert connection.schema_name == other_workspace.schema
    assert other_workspace.schema in _path_and_sets()[0]
    connection.set_tenant(workspace.tenant)
    assert workspace.schema in _path_and_sets()[0]


def test_a_new_connection_is_set(workspace: Workspace) -> None:
    connection.set_tenant(workspace.tenant)
    _path_and_sets()
    assert connection.search_path_applied is not None
    # (A test's connection cannot be closed inside its transaction: what a close leaves is checked instead.)
    applied = connection.search_path_applied
    connection.search_path_applied = None
    connection.set_schema_to_public()
    connection.set_tenant(workspace.tenant)
    _path, sets = _path_and_sets()
    assert sets == 1 and connection.search_path_applied == applied
