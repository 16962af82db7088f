"""The schema script: a schema replayed from it equals one migrated by Django, it follows a migration of the
template, the template's name is replaced safely for any schema name, and a missing pg_dump is named."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client, override_settings
from django_tenants.utils import schema_context, schema_exists

from tenants.accounts.models import AuditEvent
from tenants.fleet.catalog import schema_catalog
from tenants.fleet.script import (
    SCHEMA_PLACEHOLDER,
    SchemaScriptError,
    schema_create_from_script,
    schema_dump,
    schema_script_refresh,
    script_from_dump,
    script_render,
)
from tenants.fleet.state import migration_fingerprint, schema_applied
from tenants.models import SchemaScript, Tenant
from tenants.services import ProvisioningMethod, workspace_create
from tests.conftest import PASSWORD

TEMPLATE = "kontor_template"


def _rows(schema: str, sql: str) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("<s>", connection.ops.quote_name(schema)))
        return sorted(cursor.fetchall())


def _seed_rows(schema: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        "migrations": _rows(schema, "SELECT app, name FROM <s>.django_migrations"),
        "roles": _rows(schema, "SELECT id, builtin, name FROM <s>.accounts_role"),
    }


def _sequence_positions(schema: str) -> dict[str, tuple[object, ...]]:
    names = [
        name
        for (name,) in _rows(
            schema,
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' "
            f"AND c.relnamespace = '{connection.ops.quote_name(schema)}'::regnamespace",
        )
    ]
    return {name: _rows(schema, f'SELECT last_value, is_called FROM <s>."{name}"')[0] for name in names}


@pytest.mark.django_db
def test_a_scripted_schema_equals_one_migrated_by_django() -> None:
    migrated = workspace_create(
        company_name="Migrated",
        subdomain="migrated",
        owner_email="m@migrated.test",
        owner_password=PASSWORD,
        method=ProvisioningMethod.MIGRATE,
    )
    assert migrated.method == ProvisioningMethod.MIGRATE
    connection.set_schema_to_public()

    with transaction.atomic():
        state = schema_create_from_script("scripted")

    assert schema_catalog("scripted") == schema_catalog(migrated.tenant.schema_name)
    # Same migration history (so a migration treats it as up to date) and the same seed rows as Django's
    # data migrations leave, at the same ids.
    seeds = _seed_rows("scripted")
    assert seeds["migrations"] and seeds["roles"]
    migrated_seeds = _seed_rows(migrated.tenant.schema_name)
    assert seeds["migrations"] == migrated_seeds["migrations"]
    assert seeds["roles"] == migrated_seeds["roles"]
    assert state == migration_fingerprint(schema_applied("scripted")) == migrated.tenant.migration_state
    # Sequences continue where the template's are: the next role does not collide with a built-in one.
    # (django_migrations' own sequence is left out: a fleet migration test run earlier in the session may have
    # unapplied and reapplied the template's rows, which moves it without changing the state the script is for.)
    positions = _sequence_positions("scripted")
    template_positions = _sequence_positions(TEMPLATE)
    for both in (positions, template_positions):
        both.pop("django_migrations_id_seq")
    assert positions == template_positions


@pytest.mark.django_db
def test_a_signup_on_an_empty_pool_is_built_by_the_script_and_usable() -> None:
    for tenant in Tenant.objects.filter(kind=Tenant.Kind.POOLED):
        tenant.delete(force_drop=True)

    created = workspace_create(
        company_name="Acme", subdomain="acme", owner_email="anna@acme.test", owner_password=PASSWORD
    )
    connection.set_schema_to_public()

    assert created.method == ProvisioningMethod.SCRIPT
    client = Client(HTTP_HOST=created.domain.domain)
    response = client.post("/login/", {"username": "anna@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    connection.set_schema_to_public()
    with schema_context("ws_acme"):
        login = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN)
        # The trigger replayed by the script calls public.kontor_append_only(): the audit log stays append-only.
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=login.pk).update(action=AuditEvent.Action.LOGOUT)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=login.pk).delete()
        assert AuditEvent.objects.get(pk=login.pk).action == AuditEvent.Action.LOGIN
    # The function was referenced, not copied into the workspace.
    assert _rows("ws_acme", "SELECT proname FROM pg_proc WHERE pronamespace = '<s>'::regnamespace") == []


@pytest.mark.django_db
def test_refresh_is_cheap_when_current_and_keeps_the_template_state() -> None:
    Tenant.objects.filter(kind=Tenant.Kind.TEMPLATE).update(migration_state="")
    before = SchemaScript.objects.count()

    script = schema_script_refresh()

    assert SchemaScript.objects.count() == before  # the existing script of this state, no new dump
    state = migration_fingerprint(schema_applied(TEMPLATE))
    assert script.state == state
    assert Tenant.objects.get(kind=Tenant.Kind.TEMPLATE).migration_state == state


@pytest.mark.django_db
def test_a_migration_not_committed_yet_is_not_dumped_under_its_state() -> None:
    """pg_dump sees only what is committed: inside the migration's transaction it would dump the old template."""
    before = SchemaScript.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TEMPLATE}.django_migrations (app, name, applied) VALUES ('accounts', '9999_pending', now())"
        )

    with pytest.raises(SchemaScriptError, match="after the migration has committed"):
        schema_script_refresh()

    assert SchemaScript.objects.count() == before


def test_the_script_follows_a_migration_of_the_template(committed_db) -> None:
    """A migration changes the template: refresh makes a new script, and new schemas are at the new state."""
    template, fresh = "kontor_follow_template", "kontor_follow_new"
    old_state = schema_script_refresh().state
    try:
        with transaction.atomic():
            schema_create_from_script(template)
            Tenant.objects.create(schema_name=template, name="", kind=Tenant.Kind.TEMPLATE)
        with override_settings(SCHEMA_TEMPLATE_NAME=template):
            assert schema_script_refresh().state == old_state
            with transaction.atomic(), connection.cursor() as cursor:  # what a migration of the template does
                cursor.execute(f"ALTER TABLE {template}.accounts_team ADD COLUMN motto varchar(80) DEFAULT '' NOT NULL")
                cursor.execute(
                    f"INSERT INTO {template}.django_migrations (app, name, applied) "
                    "VALUES ('accounts', '9999_team_motto', now())"
                )
            script = schema_script_refresh()

            assert script.state != old_state
            assert script.state == migration_fingerprint(schema_applied(template))
            assert Tenant.objects.get(schema_name=template).migration_state == script.state
            assert schema_script_refresh().pk == script.pk  # idempotent
            with transaction.atomic():
                assert schema_create_from_script(fresh) == script.state
            assert schema_catalog(fresh) == schema_catalog(template)
            assert ("accounts", "9999_team_motto") in schema_applied(fresh)
    finally:
        with connection.cursor() as cursor:
            for name in (template, fresh):
                cursor.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        Tenant.objects.filter(schema_name=template).delete()
        SchemaScript.objects.exclude(state=old_state).delete()


# --- the placeholder -------------------------------------------------------------------------------------------


def _fake_dump(quoted: str) -> str:
    """What pg_dump writes for a schema whose name it prints as `quoted` (shortened, with traps in the data)."""
    q = quoted
    return f"""--
-- PostgreSQL database dump
--

\\restrict AbCdEf123

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
SET default_table_access_method = heap;

--
-- Name: {q}; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA {q};

CREATE TABLE {q}.notes (
    id integer DEFAULT nextval('{q}.notes_id_seq'::regclass) NOT NULL,
    body text DEFAULT 'kept; as is' NOT NULL
);

/* a block comment with {q}.notes /* nested */ inside */
INSERT INTO {q}.notes (id, body) VALUES
\t(1, '{q}.notes is data; so is ''{q}.x''::regclass and {SCHEMA_PLACEHOLDER[:4]}'),
\t(2, 'line one
\\unrestrict in data
INSERT INTO {q}.notes VALUES (3, ''x'');'),
\t(3, $$ {q}.notes $$);

SELECT pg_catalog.setval('{q}.notes_id_seq', 3, true);

CREATE TRIGGER notes_append_only BEFORE UPDATE ON {q}.notes
    FOR EACH ROW EXECUTE FUNCTION public.kontor_append_only();

\\unrestrict AbCdEf123
"""


def _pg_quoted(name: str) -> str:
    """As pg_dump prints a schema name: bare when it is a plain lower-case identifier and not a keyword."""
    plain = name.isascii() and name.replace("_", "a").isalnum() and name == name.lower() and not name[0].isdigit()
    return name if plain and name not in {"select", "user", "table"} else '"' + name.replace('"', '""') + '"'


TEMPLATE_NAMES = ["kontor_template", "a", "notes", "select", "Mixed Case", "tpl.with.dots", "шаблон", "x$y"]


@pytest.mark.parametrize("template_name", TEMPLATE_NAMES)
def test_only_references_to_the_template_are_replaced(template_name: str) -> None:
    dump = _fake_dump(_pg_quoted(template_name))

    script = script_from_dump(dump, template_name)

    p = SCHEMA_PLACEHOLDER
    assert f"CREATE TABLE {p}.notes (" in script
    assert f"DEFAULT nextval('{p}.notes_id_seq'::regclass)" in script
    assert f"SELECT pg_catalog.setval('{p}.notes_id_seq', 3, true);" in script
    assert f"ON {p}.notes\n    FOR EACH ROW EXECUTE FUNCTION public.kontor_append_only();" in script
    assert f"INSERT INTO {p}.notes (id, body) VALUES" in script
    q = _pg_quoted(template_name)
    # Seed values are never touched, even when they look like SQL naming the template.
    assert f"(1, '{q}.notes is data; so is ''{q}.x''::regclass and {p[:4]}')" in script
    assert f"(2, 'line one\n\\unrestrict in data\nINSERT INTO {q}.notes VALUES (3, ''x'');')" in script
    assert f"(3, $$ {q}.notes $$)" in script
    assert script.count(p) == 5
    # Session settings, psql meta-commands, comments and the schema's own statement are gone.
    for gone in ("SET statement_timeout", "set_config", "default_table_access_method", "\\restrict", "CREATE SCHEMA"):
        assert gone not in script
    assert "\\unrestrict AbCdEf123" not in script and "nested" not in script and "-- Name" not in script


@pytest.mark.parametrize("template_name", ["kontor_template", "Mixed Case"])
def test_a_reference_the_script_cannot_rename_is_refused(template_name: str) -> None:
    q = _pg_quoted(template_name)
    body = f"CREATE FUNCTION {q}.f() RETURNS int LANGUAGE sql AS $$ SELECT count(*) FROM {q}.notes $$;\n"
    with pytest.raises(SchemaScriptError, match="cannot rename it safely"):
        script_from_dump(body, template_name)
    check = f"CREATE TABLE {q}.t (c text CHECK (c <> '{q}.t'));\n"
    with pytest.raises(SchemaScriptError, match="cannot rename it safely"):
        script_from_dump(check, template_name)
    with pytest.raises(SchemaScriptError, match="placeholder"):
        script_from_dump(f"CREATE TABLE {q}.t (c text DEFAULT '{SCHEMA_PLACEHOLDER.lower()}');\n", template_name)


NEW_NAMES = [
    "ws_acme",
    "Acme Corp",
    "select",
    "a.b",
    "x$y-z",
    "кириллица",
    "kontor_template2",
    "accounts_user",
    SCHEMA_PLACEHOLDER,
    "w" * 63,
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", NEW_NAMES)
def test_any_valid_schema_name_gets_an_identical_schema(name: str) -> None:
    with transaction.atomic():
        state = schema_create_from_script(name)
    assert schema_exists(name)
    assert schema_catalog(name) == schema_catalog(TEMPLATE)
    assert state == migration_fingerprint(schema_applied(name))
    assert _seed_rows(name) == _seed_rows(TEMPLATE)


@pytest.mark.parametrize("name", ['bad"name', "it's", "a;b", "back\\slash", "pg_mine", "w" * 64, ""])
def test_an_invalid_schema_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid schema name"):
        script_render(f"CREATE TABLE {SCHEMA_PLACEHOLDER}.t ();", name)


# --- pg_dump ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_missing_pg_dump_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "bin" / "pg_dump"
    with override_settings(PG_DUMP=str(missing)), pytest.raises(SchemaScriptError) as exc:
        schema_dump(TEMPLATE)
    assert f"pg_dump not found ({missing})" in str(exc.value)
    assert "PG_DUMP" in str(exc.value) and "PG_BIN_DIR" in str(exc.value)


@pytest.mark.django_db
def test_setup_platform_stops_with_the_reason_when_pg_dump_is_missing(tmp_path: Path) -> None:
    SchemaScript.objects.all().delete()  # the template's state has no script: setup must make one
    with override_settings(PG_DUMP=str(tmp_path / "pg_dump")), pytest.raises(CommandError, match="pg_dump not found"):
        call_command("setup_platform")


@pytest.mark.django_db
def test_a_pg_dump_older_than_the_server_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(old.stat().st_mode | stat.S_IEXEC)
    with override_settings(PG_DUMP=str(old)), pytest.raises(SchemaScriptError, match="older than the PostgreSQL"):
        schema_dump(TEMPLATE)


@pytest.mark.django_db
def test_the_dump_is_of_the_template_only() -> None:
    dump = schema_dump(TEMPLATE)
    assert "CREATE TABLE kontor_template.accounts_user" in dump
    assert "CREATE FUNCTION" not in dump  # public.kontor_append_only stays in public
    assert "EXECUTE FUNCTION public.kontor_append_only()" in dump
    assert "COPY " not in dump  # rows as INSERTs, replayable through psycopg
