"""A new workspace schema from a DDL script instead of a migration or a clone: the cost stays flat however many
schemas exist.

The script is `pg_dump` of the migrated template schema (settings.SCHEMA_TEMPLATE_NAME): its DDL, the rows the
migrations left in it (django_migrations, content types, permissions, built-in roles) as INSERTs and its
sequences' positions, with every reference to the template's name replaced by SCHEMA_PLACEHOLDER. One script is
kept per migration state (tenants.models.SchemaScript, keyed by the template's migration fingerprint), made once
after a migration (schema_script_refresh) and replayed in one transaction per new schema
(schema_create_from_script): a few hundred CREATE statements in one round trip, against django-tenants'
clone_schema, which reads information_schema column by column and slows down with every schema in the catalog.

The name is replaced by reading the dump as SQL tokens, so only real references change: a schema qualifier in
front of a name (`kontor_template.accounts_user`) and the qualified sequence names inside `'...'::regclass`
and `setval('...')` literals. A value in a seed row, a comment or a function body is never rewritten; a reference
to the template that is left inside a literal or a function body of the DDL stops the generation with an error.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django_tenants.postgresql_backend.base import is_valid_schema_name

from tenants.fleet.state import migration_fingerprint, schema_applied
from tenants.models import SchemaScript, Tenant

logger = logging.getLogger(__name__)

# Stands for the new schema's name in a stored script. Not valid SQL on its own (an unreplaced script fails), and a
# dump that already holds this text anywhere is refused, so every occurrence in a script is one put there here.
SCHEMA_PLACEHOLDER = "__KONTOR_SCHEMA__"

# How long pg_dump waits for a table lock of the template (a migration holding one) before it gives up, in ms.
_LOCK_WAIT_TIMEOUT_MS = 30_000
_DUMP_TIMEOUT_SECONDS = 600
# Serializes script generation across processes (a PostgreSQL advisory lock key).
_SCRIPT_LOCK_KEY = 0x6B6F6E746F73


class SchemaScriptError(RuntimeError):
    """The script cannot be made (pg_dump missing or too old, a dump that cannot be renamed safely...)."""


class SchemaScriptMissing(LookupError):
    """No script matches the template's migration state: schema_script_refresh() has not run since it changed."""


# --- pg_dump ----------------------------------------------------------------------------------------------------


def pg_dump_path() -> str:
    """settings.PG_DUMP (PG_DUMP, else PG_BIN_DIR/pg_dump, else `pg_dump` on PATH)."""
    return str(getattr(settings, "PG_DUMP", "") or "pg_dump")


@cache
def _pg_dump_major(path: str) -> int:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except FileNotFoundError as exc:
        raise SchemaScriptError(
            f"pg_dump not found ({path}): install the PostgreSQL client tools of the server's version, or point "
            "PG_DUMP (the program) or PG_BIN_DIR (its directory) at them"
        ) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise SchemaScriptError(f"{path} --version failed: {exc}") from exc
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out) or re.search(r"(\d+)(?:\.\d+)*", out)
    if match is None:
        raise SchemaScriptError(f"cannot read pg_dump's version from {path} --version: {out.strip()!r}")
    return int(match.group(1))


def pg_dump_checked() -> str:
    """The pg_dump program to run, refused with a clear error when missing or older than the server."""
    path = pg_dump_path()
    major = _pg_dump_major(path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
        server = int(cursor.fetchone()[0])
    if major < server:
        raise SchemaScriptError(
            f"pg_dump {major} ({path}) is older than the PostgreSQL {server} server and cannot dump it: point "
            f"PG_DUMP or PG_BIN_DIR at the client tools of version {server} or later"
        )
    return path


def pg_environment(application: str = "kontor schema script") -> dict[str, str]:
    """libpq's environment for the default database: the password never appears on a command line."""
    db = connection.settings_dict
    # Only the settings' database: a PGHOST or PGDATABASE inherited from the shell must not redirect the dump.
    inherited = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE", "PGOPTIONS")
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env["PGAPPNAME"] = application
    values = {
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGDATABASE": db.get("NAME") or "",
        "PGSSLMODE": str((db.get("OPTIONS") or {}).get("sslmode", "")),
    }
    env.update({k: v for k, v in values.items() if v})
    return env


def schema_dump_command(schema_name: str, *options: str) -> list[str]:
    """pg_dump of exactly one schema with none of the cluster's objects (owners, grants, tablespaces...). Only this
    schema's tables are locked (ACCESS SHARE, waiting at most _LOCK_WAIT_TIMEOUT_MS), so it does not need a lock
    slot per table of the fleet as a whole-database dump does. `options` add to pg_dump's."""
    pattern = '"' + schema_name.replace('"', '""') + '"'  # quoted: an exact name, not a pattern
    return [
        pg_dump_checked(),
        f"--schema={pattern}",
        "--strict-names",
        "--no-owner",
        "--no-privileges",
        "--no-tablespaces",
        "--no-publications",
        "--no-subscriptions",
        "--no-security-labels",
        f"--lock-wait-timeout={_LOCK_WAIT_TIMEOUT_MS}",
        "--encoding=UTF8",
        *options,
    ]


def schema_dump(schema_name: str) -> str:
    """`pg_dump` of one schema: DDL, rows as multi-row INSERTs, sequence positions."""
    command = schema_dump_command(schema_name, "--column-inserts", "--rows-per-insert=500")
    program = command[0]
    try:
        result = subprocess.run(
            command, capture_output=True, env=pg_environment(), timeout=_DUMP_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError as exc:
        raise SchemaScriptError(f"pg_dump not found ({program})") from exc
    except subprocess.TimeoutExpired as exc:
        raise SchemaScriptError(f"pg_dump of schema {schema_name} took over {_DUMP_TIMEOUT_SECONDS} s") from exc
    if result.returncode != 0:
        raise SchemaScriptError(
            f"pg_dump of schema {schema_name} failed ({result.returncode}): "
            f"{result.stderr.decode('utf-8', 'replace').strip()}"
        )
    return result.stdout.decode("utf-8")


# --- the dump as SQL tokens -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>--[^\n]*)
    | (?P<block>/\*)
    | (?P<meta>(?:(?<=\n)|\A)\\[^\n]*)
    | (?P<estring>[Ee]'(?:[^'\\]|\\.|'')*')
    | (?P<string>'(?:[^']|'')*')
    | (?P<ident>"(?:[^"]|"")*")
    | (?P<dollar>\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$)
    | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
    | (?P<number>\d[\d.eE+-]*)
    | (?P<semicolon>;)
    | (?P<op>::|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*\Z")


@dataclass
class _Token:
    kind: str
    text: str

    @property
    def significant(self) -> bool:
        return self.kind not in ("ws", "comment", "meta")


def _tokens(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(sql)
    while pos < end:
        match = _TOKEN.match(sql, pos)
        if match is None:  # an unterminated quote: pg_dump never writes one
            raise SchemaScriptError(f"unreadable SQL at offset {pos}: {sql[pos : pos + 40]!r}")
        kind = match.lastgroup or "op"
        stop = match.end()
        if kind == "block":  # block comments nest in PostgreSQL
            depth, stop = 1, match.end()
            while depth:
                opening, closing = sql.find("/*", stop), sql.find("*/", stop)
                if closing < 0:
                    raise SchemaScriptError("unterminated block comment in the dump")
                if 0 <= opening < closing:
                    depth, stop = depth + 1, opening + 2
                else:
                    depth, stop = depth - 1, closing + 2
            kind = "comment"
        elif kind == "dollar":
            closing = sql.find(match.group(), stop)
            if closing < 0:
                raise SchemaScriptError("unterminated dollar-quoted string in the dump")
            stop = closing + len(match.group())
        tokens.append(_Token(kind, sql[pos:stop]))
        pos = stop
    return tokens


def _statements(tokens: list[_Token]) -> list[list[_Token]]:
    """Statements (without their `;`, comments and psql meta-commands such as `\\restrict`)."""
    statements: list[list[_Token]] = []
    current: list[_Token] = []
    for token in tokens:
        if token.kind == "semicolon":
            if any(t.significant for t in current):
                statements.append(current)
            current = []
        elif token.kind not in ("comment", "meta"):
            current.append(token)
    if any(t.significant for t in current):
        raise SchemaScriptError("the dump ends inside a statement")
    return statements


def _unquote(token: _Token) -> str:
    return token.text[1:-1].replace('""', '"') if token.kind == "ident" else token.text.lower()


class _Renamer:
    """Replaces references to schema `name` in one statement's tokens by SCHEMA_PLACEHOLDER."""

    def __init__(self, name: str) -> None:
        self.name = name
        quoted = '"' + name.replace('"', '""') + '"'
        self.plain = _PLAIN_IDENTIFIER.match(name) is not None  # pg_dump writes it unquoted
        self.prefixes = [quoted + "."] + ([name + "."] if self.plain else [])
        # A qualified reference to the template left where this module does not rewrite (a literal of the DDL, a
        # function body): the new schema would point at the template.
        self.leftover = re.compile(rf"(?<![\w$\"]){re.escape(name)}\.|{re.escape(quoted)}\.", re.IGNORECASE)

    def is_name(self, token: _Token) -> bool:
        if token.kind == "ident":
            return _unquote(token) == self.name
        return token.kind == "word" and self.plain and token.text.lower() == self.name

    def qualified_literal(self, token: _Token) -> str | None:
        """The literal with its schema qualifier replaced, if it is `'<name>.<object>'`."""
        if token.kind != "string":
            return None
        body = token.text[1:-1]
        for prefix in self.prefixes:
            if body.startswith(prefix.replace("'", "''")):
                return "'" + SCHEMA_PLACEHOLDER + "." + body[len(prefix) :] + "'"
        return None

    def rename(self, statement: list[_Token]) -> str:
        significant = [i for i, t in enumerate(statement) if t.significant]
        is_data = _first_words(statement, 2) == ["INSERT", "INTO"] or _is_setval(statement)
        out = [t.text for t in statement]
        for n, i in enumerate(significant):
            token = statement[i]
            nxt = statement[i + 1] if i + 1 < len(statement) else None
            if self.is_name(token) and nxt is not None and nxt.kind == "op" and nxt.text == ".":
                out[i] = SCHEMA_PLACEHOLDER
                continue
            if token.kind == "string":
                after = [statement[j].text.lower() for j in significant[n + 1 : n + 3]]
                before = [statement[j].text.lower() for j in significant[max(0, n - 2) : n]]
                if after == ["::", "regclass"] or before == ["setval", "("]:
                    replaced = self.qualified_literal(token)
                    if replaced is not None:
                        out[i] = replaced
                        continue
            # Seed rows keep their values whatever they hold; DDL must not keep a reference to the template.
            if not is_data and token.kind in ("string", "estring", "dollar") and self.leftover.search(token.text):
                raise SchemaScriptError(
                    f"the template's name {self.name!r} appears inside a literal or function body of the DDL "
                    f"({token.text[:80]!r}): the script cannot rename it safely; qualify no names inside SQL bodies"
                )
        return "".join(out).strip()


def _first_words(statement: list[_Token], count: int) -> list[str]:
    words = [t.text.upper() for t in statement if t.significant][:count]
    return words


def _is_setval(statement: list[_Token]) -> bool:
    words = [t.text.lower() for t in statement if t.significant][:4]
    return words == ["select", "pg_catalog", ".", "setval"]


def _is_session_setting(statement: list[_Token]) -> bool:
    words = [t.text.lower() for t in statement if t.significant][:4]
    return words[:1] == ["set"] or words == ["select", "pg_catalog", ".", "set_config"]


def _literal(token: _Token) -> str | None:
    if token.kind == "string":
        return token.text[1:-1].replace("''", "'")
    return None if token.kind == "word" and token.text.upper() == "NULL" else token.text


def _inserted_rows(statement: list[_Token], renamer: _Renamer, table: str) -> list[dict[str, str | None]]:
    """The rows of `INSERT INTO <schema>.<table> (columns) VALUES (...), ...` (pg_dump --column-inserts)."""
    tokens = [t for t in statement if t.significant]
    if len(tokens) < 6 or not renamer.is_name(tokens[2]) or tokens[3].text != "." or _unquote(tokens[4]) != table:
        return []
    groups: list[list[str | None]] = []
    current: list[str | None] = []
    depth = 0
    for token in tokens[5:]:
        if token.text == "(":
            depth += 1
            current = []
        elif token.text == ")":
            depth -= 1
            groups.append(current)
        elif depth == 1 and token.text != ",":
            current.append(_unquote(token) if not groups else _literal(token))
    columns, *values = groups
    return [dict(zip([str(c) for c in columns], row, strict=True)) for row in values]


def _script_of_dump(dump: str, schema_name: str) -> tuple[str, set[tuple[str, str]]]:
    """The script and the migrations recorded in the dumped django_migrations (what the script's state really is)."""
    if SCHEMA_PLACEHOLDER.lower() in dump.lower():
        raise SchemaScriptError(f"the dump already contains the placeholder {SCHEMA_PLACEHOLDER}")
    renamer = _Renamer(schema_name)
    parts: list[str] = []
    applied: set[tuple[str, str]] = set()
    for statement in _statements(_tokens(dump)):
        words = _first_words(statement, 3)
        if _is_session_setting(statement) or words[:2] in (["CREATE", "SCHEMA"], ["ALTER", "SCHEMA"]):
            continue
        if words == ["COMMENT", "ON", "SCHEMA"]:
            continue
        if words[:1] == ["COPY"]:
            raise SchemaScriptError("the dump holds COPY data: it must be made with INSERTs")
        if words[:2] == ["INSERT", "INTO"]:
            rows = _inserted_rows(statement, renamer, "django_migrations")
            applied |= {(str(row["app"]), str(row["name"])) for row in rows}
        parts.append(renamer.rename(statement) + ";")
    return "\n".join(parts) + "\n", applied


def script_from_dump(dump: str, schema_name: str) -> str:
    """The replayable script of `dump` (pg_dump of schema `schema_name`), its name replaced by SCHEMA_PLACEHOLDER.

    Left out: the session settings pg_dump starts with (the replay runs inside the caller's transaction and must
    leave its search_path alone; every name in the dump is qualified anyway), psql meta-commands, comments, and
    the statements about the schema itself (the replay creates it under its new name)."""
    return _script_of_dump(dump, schema_name)[0]


def script_render(sql: str, schema_name: str) -> str:
    """The script with its placeholder replaced by `schema_name`, quoted (valid schema names hold no quote)."""
    if not is_valid_schema_name(schema_name):
        raise ValueError(f"invalid schema name: {schema_name!r}")
    return sql.replace(SCHEMA_PLACEHOLDER, connection.ops.quote_name(schema_name))


# --- the public entry points ------------------------------------------------------------------------------------


def template_state() -> str:
    """The migration fingerprint of the template schema, read from its own django_migrations (constant time)."""
    applied = schema_applied(settings.SCHEMA_TEMPLATE_NAME)
    if not applied:
        raise SchemaScriptMissing(f"the template schema {settings.SCHEMA_TEMPLATE_NAME} is missing or not migrated")
    return migration_fingerprint(applied)


def schema_script_refresh() -> SchemaScript:
    """The script of the template's current migration state, dumped when there is none yet (after a migration).

    Cheap when current: one read of the template's django_migrations and one lookup. Also records the template's
    state in its Tenant.migration_state. Raises SchemaScriptMissing when there is no migrated template yet (see
    tenants.services.schema_template_ensure) and SchemaScriptError when pg_dump cannot make the script.
    """
    template = Tenant.objects.filter(schema_name=settings.SCHEMA_TEMPLATE_NAME, kind=Tenant.Kind.TEMPLATE).first()
    if template is None:
        raise SchemaScriptMissing(f"there is no template schema {settings.SCHEMA_TEMPLATE_NAME} yet")
    state = template_state()
    if template.migration_state != state:
        Tenant.objects.filter(pk=template.pk).update(migration_state=state)
    script = SchemaScript.objects.filter(state=state).first()
    if script is not None:
        return script
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One generation at a time; the second finds the first one's row.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SCRIPT_LOCK_KEY])
        script = SchemaScript.objects.filter(state=state).first()
        if script is not None:
            return script
        sql, applied = _script_of_dump(schema_dump(template.schema_name), template.schema_name)
        # pg_dump sees what is committed, in its own snapshot: a migration of the template committed meanwhile,
        # or not committed yet by the caller, gives a dump of another state, never stored under this one.
        if migration_fingerprint(applied) != state:
            raise SchemaScriptError(
                "pg_dump saw the template at another migration state than this session: run "
                "schema_script_refresh() after the migration has committed, outside its transaction"
            )
        try:
            with transaction.atomic():
                script = SchemaScript.objects.create(state=state, sql=sql)
        except IntegrityError:
            script = SchemaScript.objects.get(state=state)
    logger.info("schema script for migration state %s made (%d bytes)", state[:12], len(sql))
    return script


def schema_create_from_script(schema_name: str) -> str:
    """CREATE SCHEMA `schema_name` and replay the current script into it, in the caller's transaction (a savepoint:
    nothing of the schema stays when it fails). Returns the migration fingerprint of the new schema, for
    Tenant.migration_state. Raises SchemaScriptMissing when no script matches the template's state: the caller
    falls back to migrating, and schema_script_refresh() makes the script in the background."""
    state = template_state()
    script = SchemaScript.objects.filter(state=state).only("sql").first()
    if script is None:
        raise SchemaScriptMissing(f"no schema script for the template's migration state {state[:12]}")
    sql = script_render(script.sql, schema_name)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(schema_name)}")
        # One round trip: the whole script as one query without parameters. Sent through the driver's cursor
        # (errors still become Django's): Django's debug log would keep a copy of these ~80 KB per schema made.
        with connection.wrap_database_errors:
            cursor.cursor.execute(sql)
    return state
