"""The fleet migration (tenants.fleet.migrate, `manage.py migrate_fleet`): every schema ends identical to one
Django migrates, resumably, RunPython once per schema, no schema opened when nothing is to do, failures named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, migrations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from platform_core.embedded import database_url
from tenants.fleet.catalog import schema_catalog
from tenants.fleet.migrate import fleet_loader, fleet_migrate
from tenants.fleet.state import migration_fingerprint
from tenants.models import Tenant
from tests.conftest import Workspace

Key = tuple[str, str]
BASE_DIR = Path(settings.BASE_DIR)
SCHEMA_CHANGES = (migrations.AddIndex, migrations.AddField, migrations.CreateModel, migrations.AddConstraint)


def _tenant_app_labels() -> set[str]:
    return {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}


def _latest_leaves(loader: MigrationLoader, *, count: int = 3) -> list[Key]:
    """Latest migrations of tenant apps that nothing depends on, are plain SQL and change the schema (they fail
    when applied twice): unapplying them gives real pending migrations, whatever the newest files are."""
    graph = loader.graph
    labels = _tenant_app_labels()
    found = []
    for key in sorted(graph.leaf_nodes()):
        migration = graph.nodes[key]
        if (
            key[0] in labels
            and not graph.node_map[key].children
            and any(p.key[0] == key[0] for p in graph.node_map[key].parents)
            and migration.atomic
            and all(op.reduces_to_sql for op in migration.operations)
            and any(isinstance(op, SCHEMA_CHANGES) for op in migration.operations)
        ):
            found.append(key)
    assert found, "no migration to unapply"
    return found[:count]


def _unapply(schema: str, keys: list[Key]) -> None:
    """Migrate `schema` back before `keys` with Django's executor, and forget its stored state."""
    with connection.cursor() as cursor:
        # Inside the test's transaction the workspaces' rows still have deferred foreign key checks pending,
        # which forbid ALTER TABLE on their tables: check them now (a migration in production runs without).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    connection.set_schema(schema)
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    targets = [next(p.key for p in graph.node_map[key].parents if p.key[0] == key[0]) for key in keys]
    executor.migrate(targets)
    connection.set_schema_to_public()
    Tenant.objects.filter(schema_name=schema).update(migration_state="")


def _shape(schema: str) -> dict[str, Any]:
    """The schema's catalog, its migration rows and the rows data migrations leave (ids and dates left out)."""
    shape: dict[str, Any] = dict(schema_catalog(schema))
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations ORDER BY 1, 2')
        shape["django_migrations"] = cursor.fetchall()
        cursor.execute(f'SELECT name, builtin FROM "{schema}".accounts_role ORDER BY 1')
        shape["roles"] = cursor.fetchall()
    return shape


def _empty_schema(name: str) -> Tenant:
    tenant = Tenant.objects.create(schema_name=name, kind=Tenant.Kind.WORKSPACE)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')
    return tenant


def _applied(schema: str) -> set[Key]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return set(cursor.fetchall())


def _full_fingerprint() -> str:
    return migration_fingerprint(fleet_loader().graph.nodes)


def test_fleet_migration_leaves_every_schema_as_django_migrates_it(
    workspace_factory: Callable[..., Workspace],
) -> None:
    first, second = workspace_factory(), workspace_factory()
    template = settings.SCHEMA_TEMPLATE_NAME
    schemas = [first.schema, second.schema, template]
    before = {schema: _shape(schema) for schema in schemas}
    leaves = _latest_leaves(fleet_loader())
    for schema in schemas:
        _unapply(schema, leaves)
        assert not _applied(schema) & set(leaves)
    # A schema with nothing in it is migrated from the first migration (RunPython steps included).
    _empty_schema("fleet_from_nothing")

    result = fleet_migrate(jobs=1)

    assert result.failures == []
    assert result.migrated >= 4
    for schema in schemas:
        assert _shape(schema) == before[schema], schema
    # The template was migrated by Django from nothing: the fleet's own from-nothing schema equals it.
    assert _shape("fleet_from_nothing") == before[template]
    states = dict(Tenant.objects.exclude(kind=Tenant.Kind.PUBLIC).values_list("schema_name", "migration_state"))
    assert {states[s] for s in [*schemas, "fleet_from_nothing"]} == {_full_fingerprint()}


def _probe_loader() -> MigrationLoader:
    """The real graph plus two migrations of a tenant app: RunPython that inserts one row into a table created
    just before it, then plain SQL after it."""

    def insert_row(state_apps: Any, schema_editor: Any) -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("INSERT INTO fleet_probe (n) VALUES (1)")

    loader = fleet_loader()
    parent = loader.graph.leaf_nodes("history")[0]
    python = migrations.Migration("9001_fleet_probe", "history")
    python.dependencies = [parent]
    python.operations = [
        migrations.RunSQL("CREATE TABLE fleet_probe (n integer NOT NULL)", migrations.RunSQL.noop),
        migrations.RunPython(insert_row, migrations.RunPython.noop),
    ]
    sql = migrations.Migration("9002_fleet_probe_sql", "history")
    sql.dependencies = [("history", python.name)]
    sql.operations = [migrations.RunSQL("ALTER TABLE fleet_probe ADD COLUMN m integer", migrations.RunSQL.noop)]
    for migration in (python, sql):
        key = (migration.app_label, migration.name)
        loader.graph.add_node(key, migration)
        for dependency in migration.dependencies:
            loader.graph.add_dependency(migration, key, dependency)
    return loader


def test_run_python_runs_once_per_schema(workspace_factory: Callable[..., Workspace]) -> None:
    workspace_factory(), workspace_factory()
    fleet_migrate(jobs=1)  # everything at the latest state first

    result = fleet_migrate(jobs=1, loader=_probe_loader())

    assert result.failures == []
    schemas = list(Tenant.objects.exclude(kind=Tenant.Kind.PUBLIC).values_list("schema_name", flat=True))
    assert result.migrated == len(schemas) >= 3
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f'SELECT count(*), count(m) FROM "{schema}".fleet_probe')
            assert cursor.fetchone() == (1, 0), schema
            assert {("history", "9001_fleet_probe"), ("history", "9002_fleet_probe_sql")} <= _applied(schema)
    # Run again: nothing is pending, the RunPython does not run a second time.
    again = fleet_migrate(jobs=1, loader=_probe_loader())
    assert again.migrated == 0 and again.read == 0
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{schemas[0]}".fleet_probe')
        assert cursor.fetchone() == (1,)


def test_a_no_op_run_opens_no_schema(workspace: Workspace) -> None:
    fleet_migrate(jobs=1)  # reads the schemas whose state is unknown and stores it
    # A tenant row whose fingerprint says "at the target" but whose schema does not even exist: opening it
    # would fail.
    Tenant.objects.create(schema_name="fleet_ghost", kind=Tenant.Kind.WORKSPACE, migration_state=_full_fingerprint())

    result = fleet_migrate(jobs=1)

    assert (result.read, result.migrated, result.failed) == (0, 0, 0)
    assert result.skipped == result.schemas == Tenant.objects.exclude(kind=Tenant.Kind.PUBLIC).count()
    # --verify reads every schema's own table: the ghost is found out, by name.
    verified = fleet_migrate(jobs=1, verify=True)
    assert verified.read == verified.schemas
    assert [f.schema_name for f in verified.failures] == ["fleet_ghost"]
    assert "does not exist" in verified.failures[0].error


@pytest.fixture
def broken_in_the_middle(workspace_factory: Callable[..., Workspace]) -> Iterator[tuple[str, str, str]]:
    """Three workspaces at the same state with pending migrations, the middle one (by tenant id) broken: its
    rows say the latest migrations are not applied while their tables and indexes exist."""
    first, broken, last = workspace_factory(), workspace_factory(), workspace_factory()
    assert first.tenant.pk < broken.tenant.pk < last.tenant.pk
    leaves = _latest_leaves(fleet_loader())
    fleet_migrate(jobs=1)
    _unapply(first.schema, leaves)
    _unapply(last.schema, leaves)
    with connection.cursor() as cursor:
        for app, name in leaves:
            cursor.execute(
                f'DELETE FROM "{broken.schema}".django_migrations WHERE app = %s AND name = %s',
                [app, name],
            )
    Tenant.objects.filter(pk=broken.tenant.pk).update(migration_state="")
    yield first.schema, broken.schema, last.schema


def test_a_failing_schema_stops_the_run_by_default(broken_in_the_middle: tuple[str, str, str]) -> None:
    first, broken, last = broken_in_the_middle
    stdout, stderr = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 schema"):
        call_command("migrate_fleet", jobs=1, stdout=stdout, stderr=stderr)
    assert f"FAILED {broken}:" in stderr.getvalue()
    assert "Stopped at the first failure" in stderr.getvalue()
    assert "fleet: schemas=" in stdout.getvalue() and " failed=1 " in stdout.getvalue()
    leaf = _latest_leaves(fleet_loader())[0]
    assert leaf in _applied(first)
    assert leaf not in _applied(broken)
    assert leaf not in _applied(last)  # after the failure, no other schema was started


def test_keep_going_migrates_the_others_and_lists_the_failure(broken_in_the_middle: tuple[str, str, str]) -> None:
    first, broken, last = broken_in_the_middle
    stdout, stderr = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("migrate_fleet", jobs=1, keep_going=True, stdout=stdout, stderr=stderr)
    assert f"1 schema(s) failed:\n  {broken}: " in stderr.getvalue()
    assert "Stopped" not in stderr.getvalue()
    leaf = _latest_leaves(fleet_loader())[0]
    assert leaf in _applied(first) and leaf in _applied(last)
    assert leaf not in _applied(broken)


def test_backwards_targets_are_refused(workspace: Workspace) -> None:
    with pytest.raises(CommandError, match="migrate_schemas"):
        call_command("migrate_fleet", "companies", "zero", jobs=1)
    with pytest.raises(CommandError, match="migrate_schemas"):
        call_command("migrate_fleet", "companies", "0001", jobs=1)


# --- a crash half-way, in a real process -------------------------------------------------------------------


def _subprocess_env() -> dict[str, str]:
    db = connection.settings_dict
    url = database_url(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"],
        name=db["NAME"],
    )
    return {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


def _migrate_fleet_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "migrate_fleet", "--no-progress", *args],
        cwd=BASE_DIR,
        env=_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _relations(schema: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = %s", [schema]
        )
        return int(cursor.fetchone()[0])


def test_a_crash_half_way_then_a_rerun_ends_as_an_uninterrupted_run(committed_db: Callable[..., Workspace]) -> None:
    names = [f"fleet_crash_{n}" for n in range(5)]
    template = settings.SCHEMA_TEMPLATE_NAME
    try:
        for name in names:
            _empty_schema(name)
        expected = _shape(template)
        target = _full_fingerprint()

        process = _migrate_fleet_process("-v", "2", "--jobs", "2")
        assert process.stdout is not None
        done: list[str] = []
        deadline = time.monotonic() + 300
        while len(done) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("migrated fleet_crash_"):
                done.append(line.split()[1])
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert len(done) == 2, "the run ended before it could be killed half-way"

        # Every schema is either fully migrated (and says so) or untouched.
        states = dict(Tenant.objects.filter(schema_name__in=names).values_list("schema_name", "migration_state"))
        untouched = [name for name in names if _relations(name) == 0]
        assert set(done) <= set(names) - set(untouched)
        assert untouched, "the kill came after every schema was done"
        for name in names:
            if name in untouched:
                assert states[name] in ("", migration_fingerprint([]))  # unknown, or read as empty
            else:
                assert states[name] == target
                assert _shape(name) == expected, name

        rerun = _migrate_fleet_process("--jobs", "2")
        out, err = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, err
        assert f"migrated={len(untouched)} " in out and "failed=0" in out
        for name in names:
            assert _shape(name) == expected, name
    finally:
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(schema_name__in=names):
            tenant.delete(force_drop=True)
