"""Migrate every workspace schema at once: the migration graph loaded once, each schema's state read from the
public schema in one query, the SQL of the pending migrations rendered once per group of schemas at the same
state and replayed schema by schema, each in one short transaction with its `django_migrations` rows and its
`Tenant.migration_state`.

Why not `migrate_schemas`: per schema it lists every table visible on the search path four times
(MigrationRecorder.has_table), rebuilds the project state and the migration graph, and runs post_migrate for
every app; all of it grows with the number of schemas or repeats work whose result is known.

How a group is migrated:
  - its first schema (the reference) is migrated by Django's own schema editor, migration by migration, with
    introspection against that live schema (so operations that look up constraint names render right, also
    when an earlier pending migration changed the table); every statement the editor executes is recorded;
  - every other schema of the group replays the recorded statements. A schema whose replay fails (e.g. a
    constraint named differently, as django-tenants' clone_schema names them) is rolled back and migrated
    like a reference, with its own introspection; only if that fails too is it reported as failed;
  - a migration with an operation that is not SQL (RunPython) is applied with Django's machinery in every
    schema (the project state before it is computed once and cloned), so its code runs exactly once per schema.

Guarantees: the tenant row is locked (FOR UPDATE) and the schema checked before any DDL, so a pooled schema is
never renamed by a signup under a running migration, and nothing can land in `public` through the search path.
Atomic migrations of a schema commit together with their rows and the new fingerprint: a crash leaves each
schema at its old state or at the new one, and a rerun continues from what is committed. A non-atomic migration
(e.g. one that creates an index concurrently) runs in autocommit as Django runs it: what was committed before it
stays committed, its row and the fingerprint are written after it succeeds, and a crash in its middle leaves that
migration partly applied and unrecorded (a rerun runs it again: such migrations must be idempotent, e.g.
`IF NOT EXISTS`).

post_migrate is not run per schema: Django runs it for every app in every schema, and all it does is add content
types and permissions, which live in public only (contenttypes and auth are shared apps, see TENANT_APPS), where
`migrate_schemas --shared` adds them. The RenameModel content-type hook is left out for the same reason.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TextIO

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from tenants.fleet.state import migration_fingerprint, schema_applied
from tenants.models import Tenant

Key = tuple[str, str]

# The kinds of schema the fleet migration keeps at the latest state; public is migrated by
# `migrate_schemas --shared`.
FLEET_KINDS = (Tenant.Kind.WORKSPACE, Tenant.Kind.POOLED, Tenant.Kind.TEMPLATE)
# Each schema touched leaves its relations in the connection's relation cache (~0.4 MB a workspace): a
# connection is closed and reopened after this many schemas.
RECYCLE_EVERY = 100


class FleetMigrationError(Exception):
    """The run cannot start (unknown target, backwards migration)."""


@dataclass(frozen=True)
class FleetSchema:
    tenant_id: int
    schema_name: str
    state: str


@dataclass(frozen=True)
class FleetFailure:
    schema_name: str
    error: str


@dataclass
class FleetResult:
    schemas: int = 0
    migrated: int = 0
    skipped: int = 0
    read: int = 0  # schemas whose django_migrations table was read (state unknown, stale, or --verify)
    rerendered: int = 0  # schemas whose replay failed and that were migrated with their own introspection
    groups: int = 0
    seconds: float = 0.0
    stopped: bool = False  # the run stopped at a failure before every schema was done
    failures: list[FleetFailure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def summary_line(self) -> str:
        return (
            f"fleet: schemas={self.schemas} migrated={self.migrated} skipped={self.skipped} failed={self.failed} "
            f"read={self.read} groups={self.groups} rerendered={self.rerendered} seconds={self.seconds:.2f}"
        )


@dataclass
class _Step:
    migration: Migration
    sql: list[str] | None  # None: apply with Django's machinery from `state_before`
    state_before: ProjectState | None = None


@dataclass
class _Group:
    applied: frozenset[Key]
    plan: list[Migration]
    schemas: list[FleetSchema]
    initial_state: ProjectState
    steps: list[_Step] | None = None  # recorded by the reference schema


def fleet_loader() -> MigrationLoader:
    """The migration graph, built once from the files (no database read: each schema's state comes from the
    public schema or its own table)."""
    return MigrationLoader(None, ignore_no_migrations=True)


def fleet_targets(
    loader: MigrationLoader, app_label: str | None = None, migration_name: str | None = None
) -> list[Key]:
    """The nodes to migrate to, as `manage.py migrate [app_label [migration_name]]` chooses them (forwards)."""
    graph = loader.graph
    if app_label is None:
        return sorted(graph.leaf_nodes())
    if app_label not in loader.migrated_apps:
        raise FleetMigrationError(f"App '{app_label}' does not have migrations.")
    if migration_name is None:
        return graph.leaf_nodes(app_label)
    if migration_name == "zero":
        raise FleetMigrationError(
            "migrate_fleet only migrates forwards; unapply migrations with migrate_schemas instead."
        )
    try:
        migration = loader.get_migration_by_prefix(app_label, migration_name)
    except Exception as exc:  # AmbiguityError or KeyError, with Django's own message
        raise FleetMigrationError(str(exc)) from exc
    return [(migration.app_label, migration.name)]


def _full_plan(loader: MigrationLoader) -> list[Key]:
    """Every node in the order `migrate` applies them (forwards plans of all leaves, deduplicated)."""
    seen: set[Key] = set()
    order: list[Key] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for key in loader.graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                order.append(key)
    return order


def _pending(loader: MigrationLoader, targets: Sequence[Key], applied: frozenset[Key]) -> list[Key]:
    wanted: set[Key] = set()
    for target in targets:
        wanted.update(loader.graph.forwards_plan(target))
    return [key for key in _full_plan(loader) if key in wanted and key not in applied]


def _refuse_backwards(loader: MigrationLoader, targets: Sequence[Key], applied: frozenset[Key]) -> None:
    for target in targets:
        if target not in applied:
            continue
        later = [n for n in loader.graph.node_map[target].children if n[0] == target[0]]
        for child in later:
            if any(key in applied for key in loader.graph.backwards_plan(child)):
                raise FleetMigrationError(
                    f"{target[0]}.{target[1]} is older than what some schemas have applied; migrate_fleet only "
                    "migrates forwards: unapply migrations with migrate_schemas."
                )


def _project_state(loader: MigrationLoader, applied: frozenset[Key]) -> ProjectState:
    """The project state after `applied`, as MigrationExecutor builds it, once per group."""
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for key in _full_plan(loader):
        if key in applied:
            loader.graph.nodes[key].mutate_state(state, preserve=False)
    return state


def _is_sql(migration: Migration, alias: str) -> bool:
    """False when an operation this schema would run cannot be written as SQL (RunPython)."""
    return all(
        op.reduces_to_sql or router.allow_migrate(alias, migration.app_label, **getattr(op, "hints", {})) is False
        for op in migration.operations
    )


def _recording_editor(connection: Any, recorded: list[str], atomic: bool) -> BaseDatabaseSchemaEditor:
    """Django's schema editor for `connection` that also keeps, composed, every statement it executes."""
    base = connection.SchemaEditorClass

    class Recording(base):  # type: ignore[misc, valid-type]
        def execute(self, sql: Any, params: Any = ()) -> None:
            super().execute(sql, params)
            text = str(sql) if params is None else self.connection.ops.compose_sql(str(sql), params)
            recorded.append(text)

    return Recording(connection, atomic=atomic)


def _segments(plan: list[Migration]) -> list[tuple[bool, list[Migration]]]:
    """Runs of atomic migrations (one transaction each) and single non-atomic ones (autocommit)."""
    segments: list[tuple[bool, list[Migration]]] = []
    for migration in plan:
        if migration.atomic and segments and segments[-1][0]:
            segments[-1][1].append(migration)
        else:
            segments.append((bool(migration.atomic), [migration]))
    return segments


class _SchemaFailed(Exception):
    pass


class FleetMigration:
    """One run over the fleet. `fleet_migrate()` is the entry point."""

    def __init__(
        self,
        *,
        loader: MigrationLoader,
        targets: Sequence[Key],
        jobs: int,
        keep_going: bool,
        verify: bool,
        alias: str,
        recycle_every: int,
        on_event: Callable[[str, FleetSchema | None, str], None],
    ) -> None:
        self.alias = alias
        self.loader = loader
        self.targets = list(targets)
        # Inside a caller's transaction, other connections could neither see its work nor get past its locks.
        self.jobs = 1 if self._connection().in_atomic_block else max(1, jobs)
        self.keep_going = keep_going
        self.verify = verify
        self.recycle_every = max(1, recycle_every)
        self.on_event = on_event
        self.result = FleetResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # Guards the cloning of shared project states (never held while waiting on the database).
        self._state_lock = threading.Lock()
        self._local = threading.local()
        self.full_fingerprint = migration_fingerprint(loader.graph.nodes)
        tenant_table = connections[alias].ops.quote_name(Tenant._meta.db_table)
        self._tenant_table = f"{connections[alias].ops.quote_name(settings.PUBLIC_SCHEMA_NAME)}.{tenant_table}"

    def _connection(self) -> Any:
        """This thread's connection (django-tenants' wrapper, with set_schema)."""
        return connections[self.alias]

    # --- reading the fleet -------------------------------------------------------------------------------

    def fleet(self) -> list[FleetSchema]:
        """Every schema to keep migrated, with its stored fingerprint: one query on the public schema."""
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"SELECT id, schema_name, migration_state FROM {self._tenant_table} "  # noqa: S608
                "WHERE kind = ANY(%s) ORDER BY id",
                [[kind.value for kind in FLEET_KINDS]],
            )
            return [FleetSchema(tenant_id=i, schema_name=s, state=m) for i, s, m in cursor.fetchall()]

    def _read_states(self, schemas: list[FleetSchema]) -> dict[frozenset[Key], list[FleetSchema]]:
        """Groups the schemas that are not known to be at the target by their real applied set."""
        groups: dict[frozenset[Key], list[FleetSchema]] = {}
        fresh: list[tuple[str, int]] = []
        connection = self._connection()
        connection.set_schema_to_public()
        for n, schema in enumerate(schemas, 1):
            if schema.state == self.full_fingerprint and not self.verify:
                continue
            applied = frozenset(schema_applied(schema.schema_name))
            self.result.read += 1
            groups.setdefault(applied, []).append(schema)
            if migration_fingerprint(applied) != schema.state:
                fresh.append((migration_fingerprint(applied), schema.tenant_id))
            if n % self.recycle_every == 0:
                self._recycle(connection)
        self._store_states(fresh)
        return groups

    def _store_states(self, states: list[tuple[str, int]]) -> None:
        """Record the fingerprints found by reading (the next no-op run then skips those schemas unopened)."""
        if not states:
            return
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"UPDATE {self._tenant_table} t SET migration_state = v.state "  # noqa: S608
                "FROM unnest(%s::text[], %s::bigint[]) AS v(state, id) WHERE t.id = v.id",
                [[s for s, _ in states], [i for _, i in states]],
            )

    # --- the run ------------------------------------------------------------------------------------------

    def run(self, *, started: float | None = None) -> FleetResult:
        started = time.monotonic() if started is None else started
        schemas = self.fleet()
        self.result.schemas = len(schemas)
        by_state = self._read_states(schemas)
        if self.result.read < len(schemas):  # the schemas skipped unopened have every migration applied
            _refuse_backwards(self.loader, self.targets, frozenset(self.loader.graph.nodes))
        groups: list[_Group] = []
        for applied, members in by_state.items():
            _refuse_backwards(self.loader, self.targets, applied)
            pending = _pending(self.loader, self.targets, applied)
            if not pending:
                continue
            plan = [self.loader.graph.nodes[key] for key in pending]
            groups.append(_Group(applied=applied, plan=plan, schemas=members, initial_state=ProjectState()))
        total = sum(len(g.schemas) for g in groups)
        self.result.skipped = len(schemas) - total
        self.result.groups = len(groups)
        self.on_event("start", None, str(total))
        # The largest group first: its reference renders the SQL most schemas replay.
        for group in sorted(groups, key=lambda g: (-len(g.schemas), g.schemas[0].tenant_id)):
            if self._stop.is_set():
                break
            group.initial_state = _project_state(self.loader, group.applied)
            rest = self._migrate_reference(group)
            if group.steps is not None:
                # RunPython runs one schema at a time: content type caches are shared by threads (the historical
                # models' managers too) and would hand one schema's ids to another.
                jobs = self.jobs if all(step.sql is not None for step in group.steps) else 1
                self._run_parallel(rest, partial(self._migrate_replay, group), jobs=jobs)
        self.result.stopped = self._stop.is_set() and self.result.migrated + self.result.failed < total
        self.result.seconds = time.monotonic() - started
        return self.result

    def _migrate_reference(self, group: _Group) -> list[FleetSchema]:
        """Migrates the group's first schema that succeeds as the reference; returns the schemas left."""
        members = list(group.schemas)
        while members and not self._stop.is_set():
            schema = members.pop(0)
            try:
                steps = self._migrate_rendering(group, schema)
            except _SchemaFailed as exc:
                self._failed(schema, str(exc))
                continue
            group.steps = steps
            self._done(schema)
            return members
        return []

    # --- workers ------------------------------------------------------------------------------------------

    def _run_parallel(self, schemas: list[FleetSchema], work: Callable[[FleetSchema], None], *, jobs: int) -> None:
        if jobs == 1 or len(schemas) <= 1:
            for schema in schemas:
                if self._stop.is_set():
                    return
                work(schema)
            return
        todo: queue.SimpleQueue[FleetSchema] = queue.SimpleQueue()
        for schema in schemas:
            todo.put(schema)

        def worker() -> None:
            try:
                while not self._stop.is_set():
                    try:
                        schema = todo.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        work(schema)
                    except Exception as exc:  # a fault outside the schema's transaction: still named, still counted
                        self._failed(schema, f"{type(exc).__name__}: {exc}")
            finally:
                self._connection().close()

        threads = [threading.Thread(target=worker, name=f"fleet-{n}") for n in range(min(jobs, len(schemas)))]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # Ctrl-C: the schemas in flight finish (or roll back), no new one starts
            self._stop.set()
            for thread in threads:
                thread.join()
            raise

    def _recycle(self, connection: Any) -> None:
        """Close the connection (its relation cache goes with it); Django reopens it on the next query."""
        if not connection.in_atomic_block:
            connection.close()

    def _after_schema(self) -> None:
        count = getattr(self._local, "count", 0) + 1
        self._local.count = count
        if count % self.recycle_every == 0:
            self._recycle(self._connection())

    def _done(self, schema: FleetSchema, *, rerendered: bool = False) -> None:
        with self._lock:
            self.result.migrated += 1
            self.result.rerendered += int(rerendered)
        self.on_event("migrated", schema, "")
        self._after_schema()

    def _failed(self, schema: FleetSchema, error: str) -> None:
        with self._lock:
            self.result.failures.append(FleetFailure(schema_name=schema.schema_name, error=error))
        if not self.keep_going:
            self._stop.set()
        self.on_event("failed", schema, error)
        self._after_schema()

    def _migrate_replay(self, group: _Group, schema: FleetSchema) -> None:
        try:
            self._migrate_schema(group, schema, steps=group.steps)
        except _SchemaFailed:
            # Replayed SQL can fail where the schema differs from the reference in a way its state does not
            # show (constraint names of a cloned schema): Django renders it again against this schema.
            try:
                self._migrate_rendering(group, schema)
            except _SchemaFailed as exc:
                self._failed(schema, str(exc))
                return
            self._done(schema, rerendered=True)
            return
        self._done(schema)

    # --- one schema ---------------------------------------------------------------------------------------

    def _migrate_rendering(self, group: _Group, schema: FleetSchema) -> list[_Step]:
        """Migrates `schema` with Django's schema editor and introspection, recording the steps."""
        steps: list[_Step] = []
        with self._state_lock:
            state = group.initial_state.clone()

        def run_step(migration: Migration, atomic: bool) -> None:
            nonlocal state
            connection = self._connection()
            if "apps" not in state.__dict__:
                state.apps  # noqa: B018 - render the models once, as MigrationExecutor does
            if _is_sql(migration, self.alias):
                recorded: list[str] = []
                with _recording_editor(connection, recorded, atomic) as editor:
                    state = migration.apply(state, editor)
                steps.append(_Step(migration=migration, sql=recorded))
            else:
                before = state.clone()
                _clear_content_type_caches(state)
                try:
                    with connection.schema_editor(atomic=atomic) as editor:
                        state = migration.apply(state, editor)
                finally:
                    _clear_content_type_caches(state)
                steps.append(_Step(migration=migration, sql=None, state_before=before))

        self._in_schema(group, schema, run_step)
        return steps

    def _migrate_schema(self, group: _Group, schema: FleetSchema, *, steps: list[_Step] | None) -> None:
        assert steps is not None
        by_key = {(s.migration.app_label, s.migration.name): s for s in steps}

        def run_step(migration: Migration, atomic: bool) -> None:
            step = by_key[(migration.app_label, migration.name)]
            connection = self._connection()
            if step.sql is not None:
                with connection.cursor() as cursor:
                    for sql in step.sql:
                        cursor.execute(sql)
                return
            assert step.state_before is not None
            with self._state_lock:
                state = step.state_before.clone()
            _clear_content_type_caches(state)
            try:
                with connection.schema_editor(atomic=atomic) as editor:
                    migration.apply(state, editor)
            finally:
                _clear_content_type_caches(state)

        self._in_schema(group, schema, run_step)

    def _in_schema(
        self,
        group: _Group,
        schema: FleetSchema,
        run_step: Callable[[Migration, bool], None],
    ) -> None:
        """Applies the group's plan to `schema`: each run of atomic migrations in one transaction with its rows
        and the schema's new fingerprint; raises _SchemaFailed with the error (the transaction rolled back)."""
        connection = self._connection()
        applied = set(group.applied)
        try:
            for atomic, migrations in _segments(group.plan):
                with transaction.atomic(using=self.alias) if atomic else nullcontext():
                    self._claim(schema, create_recorder=not applied)
                    for migration in migrations:
                        run_step(migration, atomic)
                    with transaction.atomic(using=self.alias):
                        keys = [(m.app_label, m.name) for m in migrations]
                        self._record(schema, keys)
                        applied.update(keys)
                        self._set_state(schema, migration_fingerprint(applied))
        except Exception as exc:  # any error of this schema is reported with its name, the run goes on
            raise _SchemaFailed(f"{type(exc).__name__}: {exc}".strip()) from exc
        finally:
            connection.set_schema_to_public()

    def _claim(self, schema: FleetSchema, *, create_recorder: bool) -> None:
        """Locks the tenant row (a signup cannot rename the schema under us) and points the search path at the
        schema, after checking it exists: otherwise unqualified DDL could reach a table of the same name in
        public."""
        connection = self._connection()
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            lock = "FOR UPDATE" if connection.in_atomic_block else ""
            cursor.execute(
                f"SELECT t.schema_name, to_regnamespace(t.schema_name) IS NOT NULL FROM {self._tenant_table} t "  # noqa: S608
                f"WHERE t.id = %s {lock}",
                [schema.tenant_id],
            )
            row = cursor.fetchone()
        if row is None or row[0] != schema.schema_name:
            raise RuntimeError(f"tenant {schema.tenant_id} is no longer schema {schema.schema_name}")
        if not row[1]:
            raise RuntimeError(f'schema "{schema.schema_name}" does not exist')
        if create_recorder:
            # A schema with no django_migrations table yet: created in the schema alone, as migrate_schemas does.
            connection.set_schema(schema.schema_name, include_public=False)
            with connection.schema_editor(atomic=False) as editor:
                editor.create_model(MigrationRecorder.Migration)
        connection.set_schema(schema.schema_name)

    def _qualified(self, schema: FleetSchema, table: str) -> str:
        quote = self._connection().ops.quote_name
        return f"{quote(schema.schema_name)}.{quote(table)}"

    def _record(self, schema: FleetSchema, keys: list[Key]) -> None:
        table = self._qualified(schema, MigrationRecorder.Migration._meta.db_table)
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (app, name, applied) "  # noqa: S608
                "SELECT a, n, now() FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS v(a, n, o) ORDER BY o",
                [[a for a, _ in keys], [n for _, n in keys]],
            )

    def _set_state(self, schema: FleetSchema, state: str) -> None:
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"UPDATE {self._tenant_table} SET migration_state = %s WHERE id = %s",  # noqa: S608
                [state, schema.tenant_id],
            )


def _clear_content_type_caches(state: ProjectState) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    with suppress(LookupError, AttributeError):
        state.apps.get_model("contenttypes", "ContentType").objects.clear_cache()


def fleet_migrate(
    *,
    app_label: str | None = None,
    migration_name: str | None = None,
    jobs: int = 2,
    keep_going: bool = False,
    verify: bool = False,
    loader: MigrationLoader | None = None,
    alias: str = DEFAULT_DB_ALIAS,
    recycle_every: int = RECYCLE_EVERY,
    on_event: Callable[[str, FleetSchema | None, str], None] | None = None,
) -> FleetResult:
    """Migrate every workspace, pooled and template schema forwards to the target (default: every leaf).

    `loader` lets a caller add migrations to the graph. `on_event(kind, schema, detail)` is called with
    ("start", None, total), ("migrated", schema, "") and ("failed", schema, error), from worker threads.
    Raises FleetMigrationError before touching anything when the target is unknown or backwards.
    """
    started = time.monotonic()
    loader = loader or fleet_loader()
    targets = fleet_targets(loader, app_label, migration_name)
    run = FleetMigration(
        loader=loader,
        targets=targets,
        jobs=jobs,
        keep_going=keep_going,
        verify=verify,
        alias=alias,
        recycle_every=recycle_every,
        on_event=on_event or (lambda kind, schema, detail: None),
    )
    return run.run(started=started)


class ProgressBar:
    """done/total, rate and ETA on one line of a terminal, or a line every few seconds when not a terminal."""

    def __init__(self, stream: TextIO, *, width: int = 30, interval: float = 5.0) -> None:
        self.stream = stream
        self.width = width
        self.interval = interval
        self.total = 0
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def start(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()
        self._draw(force=True)

    def advance(self, *, failed: bool = False) -> None:
        with self._lock:
            self.done += 1
            self.failed += int(failed)
            self._draw(force=self.done == self.total)

    def message(self, text: str) -> None:
        """A line above the bar (e.g. a failure)."""
        with self._lock:
            self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
            self._draw(force=True)

    def finish(self) -> None:
        if self.tty and self.total:
            self.stream.write("\n")
        self.stream.flush()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else float("nan")
        filled = int(self.width * self.done / self.total) if self.total else self.width
        eta = _duration(left) if rate else "--"
        failed = f" failed {self.failed}" if self.failed else ""
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
            f"{rate:.1f} schemas/s ETA {eta}{failed}"
        )

    def _draw(self, *, force: bool) -> None:
        if not self.total:
            return
        now = time.monotonic()
        if self.tty:
            if force or now - self._last >= 0.1:
                self.stream.write("\r\033[K" + self.line())
                self.stream.flush()
                self._last = now
        elif force or now - self._last >= self.interval:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last = now


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def failures_text(failures: Iterable[FleetFailure]) -> str:
    return "\n".join(f"  {f.schema_name}: {f.error}" for f in failures)
