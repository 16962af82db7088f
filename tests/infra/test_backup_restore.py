"""Backups and restores of whole workspaces against the real PostgreSQL, pg_dump, pg_restore and psql."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_exists, tenant_context

from crm.companies.models import Company
from infra.backups.models import Backup, Restore
from infra.backups.services import (
    REPLACED_PREFIX,
    BackupError,
    backup_create,
    backup_verify,
    media_dir,
    restore_confirm,
    restore_copy,
    restore_in_place,
)
from tenants.accounts.models import AuditEvent
from tenants.models import Tenant
from tests.conftest import Workspace
from tests.infra.backup_support import FILE_BYTES, files_fingerprint, schema_fingerprint, seeded


@pytest.fixture
def places(tmp_path: Path) -> Iterator[Path]:
    with override_settings(BACKUP_DIR=tmp_path / "backups", MEDIA_ROOT=tmp_path / "media", BACKUP_S3_BUCKET=""):
        yield tmp_path


@pytest.fixture
def seeded_ws(committed_db: Callable[..., Workspace], places: Path) -> Workspace:
    ws = committed_db()
    seeded(ws)
    return ws


def _scratch_schemas() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace "
            "WHERE nspname LIKE 'kontor\\_restore\\_%%' OR nspname LIKE 'kontor\\_hold\\_%%'"
        )
        return [row[0] for row in cursor.fetchall()]


def _live(ws: Workspace) -> tuple[dict[str, str], dict[str, str]]:
    return schema_fingerprint(ws.schema), files_fingerprint(media_dir(ws.schema))


def _edit_live(ws: Workspace) -> None:
    with tenant_context(ws.tenant):
        Company.objects.filter(name="Backed Up Ltd").update(name="Changed after the backup")
        Company.objects.exclude(name="Changed after the backup").first().delete()
    connection.set_schema_to_public()


def _artifact(backup: Backup, kind: str) -> Path:
    return Path(settings.BACKUP_DIR) / backup.manifest["artifacts"][kind]["name"]


def test_round_trip_in_place_restores_every_row_and_file(seeded_ws: Workspace) -> None:
    before = _live(seeded_ws)
    assert before[1], "the seeded workspace has an uploaded file"
    backup = backup_create(tenant=seeded_ws.tenant)
    assert backup.status == Backup.Status.DONE and backup.files == 1
    assert backup.rows == sum(int(v.split(":")[0]) for v in before[0].values())
    for table in ("accounts_auditevent", "history_changerecord", "customfields_customfield", "files_attachment"):
        assert backup.manifest["tables"][table] > 0, table
    assert backup.manifest["needs"]["functions"][0]["signature"] == "kontor_append_only()"

    _edit_live(seeded_ws)
    assert _live(seeded_ws) != before

    restore = restore_in_place(tenant=seeded_ws.tenant, backup=backup, operator="ops")
    assert _live(seeded_ws) == before
    assert restore.status == Restore.Status.DONE and schema_exists(restore.replaced_schema)
    assert restore.replaced_schema.startswith(REPLACED_PREFIX)
    assert not _scratch_schemas()
    # The audit log is append-only again in the restored schema: the trigger came back with it.
    with tenant_context(seeded_ws.tenant), pytest.raises(Exception, match="append-only"):
        AuditEvent.objects.update(action="rewritten")
    connection.set_schema_to_public()

    restore_confirm(restore=restore)
    assert not schema_exists(restore.replaced_schema)
    assert not Path(restore.replaced_media or "/nonexistent").exists()


def test_the_stored_dump_is_neither_clear_nor_compressible_text(seeded_ws: Workspace) -> None:
    backup = backup_create(tenant=seeded_ws.tenant)
    dump = _artifact(backup, "dump").read_bytes()
    files = _artifact(backup, "files").read_bytes()
    assert b"Backed Up Ltd" not in dump and b"PGDMP" not in dump
    assert FILE_BYTES[:20] not in files
    manifest = json.loads((Path(settings.BACKUP_DIR) / f"{backup.storage_prefix}.manifest.json").read_text())
    assert manifest["seal"] and manifest["workspace"]["uid"] == str(seeded_ws.tenant.uid)


def _refused(ws: Workspace, backup: Backup, match: str) -> None:
    before = _live(ws)
    with pytest.raises(BackupError, match=match):
        restore_in_place(tenant=ws.tenant, backup=backup)
    assert _live(ws) == before
    assert not _scratch_schemas()
    assert not Restore.objects.filter(backup=backup).exclude(status=Restore.Status.FAILED).exists()


def test_a_tampered_byte_is_refused_and_nothing_changes(seeded_ws: Workspace) -> None:
    backup = backup_create(tenant=seeded_ws.tenant)
    path = _artifact(backup, "dump")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    _refused(seeded_ws, backup, "was modified")


def test_a_truncated_backup_is_refused(seeded_ws: Workspace) -> None:
    backup = backup_create(tenant=seeded_ws.tenant)
    path = _artifact(backup, "dump")
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 100])
    _refused(seeded_ws, backup, "truncated")


def test_the_wrong_master_key_is_refused(seeded_ws: Workspace) -> None:
    backup = backup_create(tenant=seeded_ws.tenant)
    with override_settings(BACKUP_MASTER_KEYS="other:" + "A" * 43 + "="):
        _refused(seeded_ws, backup, "no master key")


def test_another_workspaces_backup_is_refused(seeded_ws: Workspace, committed_db: Callable[..., Workspace]) -> None:
    other = committed_db()
    backup = backup_create(tenant=other.tenant)
    before = _live(seeded_ws)
    with pytest.raises(BackupError, match="another workspace"):
        restore_in_place(tenant=seeded_ws.tenant, backup=backup)
    assert _live(seeded_ws) == before


def test_an_edited_manifest_is_refused(seeded_ws: Workspace) -> None:
    backup = backup_create(tenant=seeded_ws.tenant)
    name = Path(settings.BACKUP_DIR) / f"{backup.storage_prefix}.manifest.json"
    manifest = json.loads(name.read_text())
    manifest["tables"]["companies_company"] += 1
    name.write_text(json.dumps(manifest))
    _refused(seeded_ws, backup, "does not match its seal")


def test_row_counts_that_do_not_match_roll_the_load_back(seeded_ws: Workspace) -> None:
    """A manifest sealed with the right key whose counts differ from the dump: refused inside the transaction."""
    from infra.backups.crypto import seal_manifest

    backup = backup_create(tenant=seeded_ws.tenant)
    name = Path(settings.BACKUP_DIR) / f"{backup.storage_prefix}.manifest.json"
    manifest = json.loads(name.read_text())
    manifest.pop("seal")
    manifest["tables"]["companies_company"] += 1
    name.write_text(json.dumps(seal_manifest(manifest, workspace_uid=str(seeded_ws.tenant.uid))))
    _refused(seeded_ws, backup, "companies_company has")


def test_restore_as_a_copy_makes_a_new_workspace(seeded_ws: Workspace) -> None:
    before = _live(seeded_ws)
    backup = backup_create(tenant=seeded_ws.tenant)
    _edit_live(seeded_ws)
    edited = _live(seeded_ws)
    restore, copy = restore_copy(
        tenant=seeded_ws.tenant, backup=backup, subdomain=f"{seeded_ws.domain.split('.')[0]}-copy"
    )
    try:
        assert restore.status == Restore.Status.DONE
        assert schema_fingerprint(copy.schema_name) == before[0]
        assert files_fingerprint(media_dir(copy.schema_name)) == before[1]
        assert _live(seeded_ws) == edited  # the original is untouched
        assert copy.uid != seeded_ws.tenant.uid
    finally:
        copy.delete(force_drop=True)


def test_verification_passes_then_fails_on_damage(seeded_ws: Workspace) -> None:
    backup = backup_create(tenant=seeded_ws.tenant)
    assert backup_verify(backup=backup)
    backup.refresh_from_db()
    assert backup.verification == Backup.Verification.PASSED and backup.verified_at
    assert not _scratch_schemas()
    path = _artifact(backup, "files")
    path.write_bytes(path.read_bytes()[:-1])
    assert not backup_verify(backup=backup)
    backup.refresh_from_db()
    assert backup.verification == Backup.Verification.FAILED and backup.verification_message


def test_commands(seeded_ws: Workspace, capsys: Any) -> None:
    sub = seeded_ws.domain.split(".")[0]
    call_command("backup_workspace", sub)
    assert "backup " in capsys.readouterr().out
    call_command("restore_workspace", sub, "--list")
    assert "done" in capsys.readouterr().out
    call_command("restore_workspace", sub, "--verify")
    assert "passed" in capsys.readouterr().out
    with pytest.raises(CommandError, match="say what to do"):
        call_command("restore_workspace", sub)
    with pytest.raises(CommandError, match="no workspace"):
        call_command("restore_workspace", "nope-nope")
    for odd in ("a\x00b", "x" * 5000):
        with pytest.raises(CommandError, match="no workspace"):
            call_command("backup_workspace", odd)
    with pytest.raises(CommandError, match="refused, nothing was changed"):
        call_command("restore_workspace", sub, "--into", "bad\x00name")
    with pytest.raises(CommandError, match="refused, nothing was changed"):
        call_command("restore_workspace", f"{sub}-r", "--recover", "../../etc/passwd.manifest.json")
    with pytest.raises(CommandError, match="not a backup"):
        call_command("restore_workspace", sub, "--verify", "--backup", "x\x00y")


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database on the same server: no Kontor tables, no audit trigger function."""
    import psycopg

    from infra.backups import pg

    name = f"{connection.settings_dict['NAME']}_fresh"
    with pg.connect("kontor tests", "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with pg.connect("kontor tests", "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert psycopg


def test_a_restore_into_a_fresh_database_brings_what_the_schema_needs(
    seeded_ws: Workspace, fresh_database: str
) -> None:
    from infra.backups import pg
    from infra.backups.services import load, manifest_read

    backup = backup_create(tenant=seeded_ws.tenant)
    manifest = manifest_read(backup, workspace_uid=str(seeded_ws.tenant.uid))
    load(manifest=manifest, target=seeded_ws.schema, commit=True, database=fresh_database)
    with pg.connect("kontor tests", fresh_database) as conn:
        assert conn.execute("SELECT to_regprocedure('public.kontor_append_only()') IS NOT NULL").fetchone() == (True,)
        rows = conn.execute(f'SELECT count(*) FROM "{seeded_ws.schema}".companies_company').fetchone()
        assert rows == (manifest["tables"]["companies_company"],)
        with pytest.raises(Exception, match="append-only"):
            conn.execute(f"UPDATE \"{seeded_ws.schema}\".accounts_auditevent SET action = 'x'")


def test_a_workspace_comes_back_from_the_storage_alone(seeded_ws: Workspace, capsys: Any) -> None:
    from infra.backups.services import backup_recover

    before = _live(seeded_ws)
    backup = backup_create(tenant=seeded_ws.tenant)
    uid, subdomain = seeded_ws.tenant.uid, seeded_ws.domain.split(".")[0]
    manifest_name = f"{backup.storage_prefix}.manifest.json"
    call_command("restore_workspace", "--catalog")
    assert manifest_name in capsys.readouterr().out
    seeded_ws.tenant.delete(force_drop=True)  # the database lost it (its backup's row stays); the storage has it
    shutil.rmtree(media_dir(seeded_ws.schema), ignore_errors=True)

    with pytest.raises(BackupError, match="manifest"):
        backup_recover(manifest_name=manifest_name.replace(".manifest.json", ".dump"), subdomain=subdomain)
    restore, tenant = backup_recover(manifest_name=manifest_name, subdomain=subdomain, operator="ops")
    assert restore.status == Restore.Status.DONE and restore.backup_id == backup.pk
    assert tenant.uid == uid and tenant.schema_name == seeded_ws.schema
    assert _live(seeded_ws) == before
    assert Backup.objects.get(pk=backup.pk).tenant == tenant  # its backups are its own again
    with pytest.raises(BackupError, match="exists here"):
        backup_recover(manifest_name=manifest_name, subdomain=f"{subdomain}-again")


def test_round_trip_through_an_s3_compatible_store(
    committed_db: Callable[..., Workspace], places: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    from tests.infra.conftest import S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, s3_client

    ws = committed_db()
    seeded(ws)
    before = _live(ws)
    s3 = {
        "BACKUP_S3_BUCKET": s3_bucket,
        "BACKUP_S3_PREFIX": "kontor",
        "BACKUP_S3_ENDPOINT_URL": s3_endpoint,
        "BACKUP_S3_REGION": S3_REGION,
        "BACKUP_S3_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
        "BACKUP_S3_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY,
    }
    with override_settings(**s3):
        backup = backup_create(tenant=ws.tenant)
        keys = {o["Key"] for o in s3_client(s3_endpoint).list_objects_v2(Bucket=s3_bucket)["Contents"]}
        assert keys == {f"kontor/{backup.storage_prefix}{suffix}" for suffix in (".dump", ".files", ".manifest.json")}
        assert not (places / "backups").exists()  # nothing went to the local directory
        _edit_live(ws)
        restore_in_place(tenant=ws.tenant, backup=backup)
        assert _live(ws) == before
        assert backup_verify(backup=backup)


def test_a_restore_that_fails_half_way_leaves_everything_as_it_was(seeded_ws: Workspace) -> None:
    """A backup that is authentic but whose dump stops half-way (a disk that filled up while it was made): the
    tables pg_restore managed to create are rolled back with the rest."""
    import hashlib
    import io

    from infra.backups.crypto import FORMAT_DUMP, decrypt_stream, encrypt_stream, seal_manifest

    backup = backup_create(tenant=seeded_ws.tenant)
    manifest = json.loads((Path(settings.BACKUP_DIR) / f"{backup.storage_prefix}.manifest.json").read_text())
    uid, path = str(seeded_ws.tenant.uid), _artifact(backup, "dump")
    with path.open("rb") as stored:
        plain = b"".join(decrypt_stream(stored, workspace_uid=uid, backup_id=str(backup.id), format=FORMAT_DUMP))
    cut = plain[: len(plain) * 2 // 3]
    ciphertext = b"".join(
        encrypt_stream(
            io.BytesIO(cut),
            workspace_uid=uid,
            backup_id=str(backup.id),
            created_at=manifest["created_at"],
            format=FORMAT_DUMP,
        )
    )
    path.write_bytes(ciphertext)
    manifest.pop("seal")
    manifest["artifacts"]["dump"].update(size=len(ciphertext), sha256=hashlib.sha256(ciphertext).hexdigest())
    (Path(settings.BACKUP_DIR) / f"{backup.storage_prefix}.manifest.json").write_text(
        json.dumps(seal_manifest(manifest, workspace_uid=uid))
    )
    _refused(seeded_ws, backup, "pg_restore failed|restore was refused")


def test_a_second_restore_of_the_same_workspace_at_once_is_refused(seeded_ws: Workspace) -> None:
    from infra.backups import pg
    from infra.backups.services import _RESTORE_LOCK

    backup = backup_create(tenant=seeded_ws.tenant)
    with pg.connect("kontor tests") as other:  # another operator's restore, holding the workspace
        other.execute("SELECT pg_advisory_lock(%s, %s)", [_RESTORE_LOCK, seeded_ws.tenant.pk])
        _refused(seeded_ws, backup, "Another restore")
    restore_in_place(tenant=seeded_ws.tenant, backup=backup)  # released with the other session


def test_a_backup_of_an_older_migration_state_is_migrated_forward(seeded_ws: Workspace) -> None:
    """A backup made before the last migrations (here: the one giving administrators manage_backups, the one
    adding a person's kind, and those after them, which give administrators manage_processes) comes back at the
    code's migration state, with those migrations' work done."""
    from tenants.fleet.state import migration_fingerprint, schema_applied

    schema = seeded_ws.schema
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM \"{schema}\".django_migrations WHERE app = 'accounts' "
            "AND name IN ('0011_admin_manage_backups', '0012_user_kind', '0013_alter_auditevent_action', "
            "'0014_manage_processes', '0015_process_audit_actions')"
        )
        cursor.execute(f'ALTER TABLE "{schema}".accounts_user DROP COLUMN kind')
        cursor.execute(
            f'UPDATE "{schema}".accounts_role SET permissions = '
            "array_remove(array_remove(permissions, 'manage_backups'), 'manage_processes') WHERE builtin = 'admin'"
        )
    backup = backup_create(tenant=seeded_ws.tenant)
    assert "accounts.0011_admin_manage_backups" not in backup.manifest["migrations"]["applied"]

    restore_in_place(tenant=seeded_ws.tenant, backup=backup)
    assert ("accounts", "0011_admin_manage_backups") in schema_applied(schema)
    assert ("accounts", "0012_user_kind") in schema_applied(schema)
    assert ("accounts", "0013_alter_auditevent_action") in schema_applied(schema)
    assert ("accounts", "0014_manage_processes") in schema_applied(schema)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT DISTINCT kind FROM "{schema}".accounts_user')
        assert [row[0] for row in cursor.fetchall()] == ["person"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT permissions FROM \"{schema}\".accounts_role WHERE builtin = 'admin'")
        assert {"manage_backups", "manage_processes"} <= set(cursor.fetchone()[0])
    seeded_ws.tenant.refresh_from_db()
    template = Tenant.objects.get(kind=Tenant.Kind.TEMPLATE)
    assert seeded_ws.tenant.migration_state == migration_fingerprint(schema_applied(template.schema_name))
