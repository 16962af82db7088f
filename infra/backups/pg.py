"""The PostgreSQL side of a backup: the consistent snapshot a dump is taken in, what a schema holds and needs from
outside it, and the client programs (pg_dump, pg_restore, psql) run as child processes whose streams never touch
the disk in clear."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
from django.conf import settings
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tenants.fleet.script import pg_environment, schema_dump_command
from tenants.fleet.state import migration_fingerprint

# What the row-count check of a restore starts its RAISE messages with, to tell them from PostgreSQL's own errors.
CHECK_PREFIX = "kontor-restore:"


class PgError(RuntimeError):
    """A client program or a statement of the backup or restore failed; the message says which and why."""


def environment(application: str, database: str | None = None) -> dict[str, str]:
    """libpq's environment for the client programs: the default database, or `database` on the same server."""
    env = pg_environment(application)
    if database:
        env["PGDATABASE"] = database
    return env


def connect(application: str, database: str | None = None) -> psycopg.Connection[Any]:
    """A connection of its own to the default database (not Django's: a dump holds a transaction open for its whole
    duration, a restore is a separate session), or to `database` on the same server."""
    env = environment(application, database)
    keys = {"PGHOST": "host", "PGPORT": "port", "PGUSER": "user", "PGPASSWORD": "password", "PGDATABASE": "dbname"}
    params = {keys[k]: v for k, v in env.items() if k in keys}
    params["application_name"] = application
    return psycopg.connect(make_conninfo(**params), autocommit=True)


def pg_restore_program() -> str:
    return str(settings.PG_RESTORE or "pg_restore")


def psql_program() -> str:
    return str(settings.PSQL or "psql")


# --- what a schema holds -----------------------------------------------------------------------------------------


@dataclass
class SchemaFacts:
    """What the manifest records of a schema, read in the dump's own snapshot."""

    tables: dict[str, int] = field(default_factory=dict)  # table -> rows
    applied: list[str] = field(default_factory=list)  # "app.migration", sorted
    fingerprint: str = ""
    # What the schema's objects use from outside it: extensions (CREATE EXTENSION) and functions (their
    # definitions), recreated on a restore where missing, so a restore into a fresh database works.
    extensions: list[str] = field(default_factory=list)
    functions: list[dict[str, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def schemas_existing(names: list[str], database: str | None = None) -> set[str]:
    with connect("kontor restore", database) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [names]).fetchall()
    return {row[0] for row in rows}


def schema_tables(cursor: psycopg.Cursor[Any], schema: str) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        [schema],
    )
    return [row[0] for row in cursor.fetchall()]


def schema_facts(cursor: psycopg.Cursor[Any], schema: str) -> SchemaFacts:
    facts = SchemaFacts()
    tables = schema_tables(cursor, schema)
    if tables:
        # One statement: every table's count in the same snapshot, one round trip.
        counts = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {name}, count(*) FROM {table}").format(name=sql.Literal(t), table=sql.Identifier(schema, t))
            for t in tables
        )
        cursor.execute(counts)
        facts.tables = {name: int(n) for name, n in cursor.fetchall()}
    if "django_migrations" in tables:
        cursor.execute(sql.SQL("SELECT app, name FROM {}").format(sql.Identifier(schema, "django_migrations")))
        applied = [(app, name) for app, name in cursor.fetchall()]
        facts.applied = sorted(f"{app}.{name}" for app, name in applied)
        facts.fingerprint = migration_fingerprint(applied)
    # Objects of the schema (relations, their indexes, types) that depend on an extension's member objects.
    cursor.execute(
        """
        SELECT DISTINCT e.extname
        FROM pg_depend d
        JOIN pg_depend member ON member.classid = d.refclassid AND member.objid = d.refobjid AND member.deptype = 'e'
        JOIN pg_extension e ON e.oid = member.refobjid
        WHERE d.classid = 'pg_class'::regclass
          AND d.objid IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = %s)
        ORDER BY 1
        """,
        [schema],
    )
    facts.extensions = [row[0] for row in cursor.fetchall() if row[0] != "plpgsql"]
    # Trigger functions outside the schema (public.kontor_append_only()): a schema-only dump does not carry them.
    cursor.execute(
        """
        SELECT DISTINCT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE n.nspname = %s AND p.pronamespace <> c.relnamespace
          AND p.pronamespace <> 'pg_catalog'::regnamespace
        ORDER BY 1
        """,
        [schema],
    )
    facts.functions = [{"signature": sig, "definition": body} for sig, body in cursor.fetchall()]
    return facts


@contextmanager
def snapshot(schema: str) -> Iterator[tuple[str, SchemaFacts]]:
    """A repeatable-read transaction whose snapshot is exported for pg_dump (`--snapshot`), and the schema's facts
    read in it: the manifest's row counts are exactly those of the dump. The transaction stays open until the
    dump is over."""
    with connect("kontor backup") as conn:
        conn.autocommit = False
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            row = cursor.fetchone()
            assert row is not None
            snapshot_id = str(row[0])
            facts = schema_facts(cursor, schema)
            try:
                yield snapshot_id, facts
            finally:
                conn.rollback()


# --- the client programs -----------------------------------------------------------------------------------------


def dump_command(schema: str, *, snapshot_id: str | None = None) -> list[str]:
    """pg_dump of one schema in the custom format to stdout, in the snapshot `snapshot_id` when given."""
    return schema_dump_command(schema, "--format=custom", *([f"--snapshot={snapshot_id}"] if snapshot_id else []))


def restore_command() -> list[str]:
    """pg_restore of a custom-format archive from stdin to SQL on stdout: psql runs it inside the restore's own
    transaction, between the statements that move names around and the checks."""
    return [pg_restore_program(), "--file=-", "--no-owner", "--no-privileges", "--no-tablespaces", "--exit-on-error"]


def psql_command() -> list[str]:
    return [psql_program(), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1"]


def spawn(
    command: list[str],
    *,
    application: str,
    stdin: int | IO[bytes] | None = None,
    stdout: int = subprocess.PIPE,
    database: str | None = None,
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            command,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=environment(application, database),
        )
    except FileNotFoundError as exc:
        raise PgError(f"{command[0]} not found: install the PostgreSQL client tools or set PG_BIN_DIR") from exc


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Kill a child that is still running (a psql mid-transaction: the server rolls the transaction back)."""
    if process is None:
        return
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):  # a pipe whose reader is gone
                stream.close()
