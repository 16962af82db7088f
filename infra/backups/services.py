"""Backups of one workspace: make one, restore one (in place or as a copy), verify one, forget old ones.

A backup is three objects in the backup storage under `<workspace uid>/<date>/<time>-<backup id>`:
- `.dump`: pg_dump of the workspace's schema (custom format) taken in an exported snapshot, encrypted as it streams
  (infra.backups.crypto: a fresh data key wrapped by the master key, chunked AEAD bound to workspace, backup, time
  and format). Nothing is held in memory or written in clear.
- `.files`: the workspace's uploads (MEDIA_ROOT/<schema>/) as a tar stream, encrypted the same way.
- `.manifest.json`: sizes and sha256 of both, row counts per table read in the dump's own snapshot, the migration
  state, the Kontor and PostgreSQL versions and what the schema needs from outside it (extensions, the audit log's
  trigger function), sealed with an HMAC of the workspace's key.

A restore checks the manifest's seal and workspace before touching anything, then loads the dump under a scratch
name inside one transaction of its own (psql fed by pg_restore): the live schema is moved aside within that
uncommitted transaction only, the row counts are checked against the manifest, and COMMIT is sent only after the
last chunk authenticated and the ciphertext's sha256 matched. Any failure kills psql and the server rolls it all
back: the live workspace is exactly as it was. The swap is a second, short transaction of two renames; the
replaced schema stays until an operator confirms.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import tarfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, schema_exists
from psycopg import sql

from crm.web.fragments import workspace_forget
from infra.backups import pg
from infra.backups.crypto import (
    FORMAT_DUMP,
    FORMAT_FILES,
    BackupCryptoError,
    check_manifest,
    current_key_id,
    decrypt_stream,
    encrypt_stream,
    seal_manifest,
)
from infra.backups.models import Backup, Restore
from infra.backups.retention import backups_to_keep
from infra.backups.storage import BackupStorage, BackupStorageError, backup_storage
from tenants.accounts.identity import identities_invalidate
from tenants.fleet.state import migration_fingerprint, schema_applied
from tenants.models import Domain, Tenant
from tenants.services import subdomain_errors, workspace_domain_for
from tenants.validators import normalize_subdomain, schema_name_for

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
SCRATCH_PREFIX = "kontor_restore_"
REPLACED_PREFIX = "kontor_replaced_"
_HOLD_PREFIX = "kontor_hold_"
_BLOCK = 1 << 20


class BackupError(Exception):
    """A backup, restore or verification that cannot be done; the message says why, for an operator."""


# --- streams -----------------------------------------------------------------------------------------------------


class _Counting:
    """A readable stream that counts the bytes read through it (the dump's size before encryption)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.size += len(data)
        return data


class _Digest:
    """Size and sha256 of a stored artifact's bytes, as the manifest records them."""

    def __init__(self) -> None:
        self.size = 0
        self.sha256 = hashlib.sha256()

    def add(self, data: bytes) -> bytes:
        self.size += len(data)
        self.sha256.update(data)
        return data


class _Hashing:
    """A readable stream that digests what is read through it (the stored ciphertext, checked against the
    manifest)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = _Digest()

    def read(self, n: int = -1) -> bytes:
        return self.digest.add(self.stream.read(n))


def _store_stream(
    storage: BackupStorage, name: str, source: IO[bytes], *, format: str, bind: dict[str, str]
) -> dict[str, Any]:
    """Encrypt `source` into the artifact `name` as it is read; its manifest entry (sizes, sha256)."""
    plain = _Counting(source)
    stored = _Digest()
    chunks = encrypt_stream(
        cast(BinaryIO, plain),
        workspace_uid=bind["workspace_uid"],
        backup_id=bind["backup_id"],
        created_at=bind["created_at"],
        format=format,
    )
    written = storage.write(name, (stored.add(chunk) for chunk in chunks))
    return {
        "name": name,
        "format": format,
        "size": written,
        "plain_size": plain.size,
        "sha256": stored.sha256.hexdigest(),
    }


def _decrypted(stored: _Hashing, manifest: dict[str, Any], format: str) -> Iterator[bytes]:
    """The artifact's plaintext, chunk by chunk, each authenticated before it is handed over. The header
    (workspace, backup, format, key) is checked here, in the caller, before any program or thread starts."""
    try:
        return decrypt_stream(
            cast(BinaryIO, stored),
            workspace_uid=manifest["workspace"]["uid"],
            backup_id=manifest["backup_id"],
            format=format,
        )
    except BackupCryptoError as exc:
        raise BackupError(str(exc)) from exc


class _Worker(threading.Thread):
    """A thread whose exception is kept for the caller (a stream's other end)."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._work = target
        self.error: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:
            self.error = exc


def _drain(stream: IO[bytes] | None) -> _Worker:
    worker = _Worker(lambda: stream.read() if stream is not None else b"")
    worker.start()
    return worker


def _stderr_text(worker: _Worker) -> str:
    worker.join()
    return (worker.result or b"").decode("utf-8", "replace").strip()


# --- names and places --------------------------------------------------------------------------------------------


def _unique_schema(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(8)}"


def media_dir(schema: str) -> Path:
    """Where the workspace's uploads are (settings.MULTITENANT_RELATIVE_MEDIA_ROOT is "%s")."""
    return Path(settings.MEDIA_ROOT) / schema


def _kontor_version() -> str:
    try:
        return metadata.version("kontor")
    except metadata.PackageNotFoundError:
        return "unknown"


def _server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0])


def _known_migrations() -> set[str]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}" for app, name in loader.disk_migrations}


# --- backup ------------------------------------------------------------------------------------------------------


def _files_tar(directory: Path, sink: IO[bytes]) -> int:
    """The workspace's uploads as a tar stream into `sink`, regular files only, in name order; returns the count."""
    count = 0
    with tarfile.open(fileobj=sink, mode="w|") as tar:
        if directory.is_dir():
            for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()):
                tar.add(str(path), arcname=path.relative_to(directory).as_posix(), recursive=False)
                count += 1
    sink.close()
    return count


def _store_dump(
    storage: BackupStorage, name: str, *, schema: str, snapshot_id: str, bind: dict[str, str]
) -> dict[str, Any]:
    dump = pg.spawn(pg.dump_command(schema, snapshot_id=snapshot_id), application="kontor backup")
    errors = _drain(dump.stderr)
    try:
        assert dump.stdout is not None
        artifact = _store_stream(storage, name, dump.stdout, format=FORMAT_DUMP, bind=bind)
        code = dump.wait()
    finally:
        pg.stop(dump)
    if code != 0:  # pg_dump's output ended early: what was stored is a complete-looking, truncated dump
        storage.delete(name)
        raise BackupError(
            _("pg_dump of schema %(schema)s failed: %(error)s") % {"schema": schema, "error": _stderr_text(errors)}
        )
    return artifact


def _store_files(storage: BackupStorage, name: str, *, directory: Path, bind: dict[str, str]) -> dict[str, Any]:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader:
        sink = os.fdopen(write_end, "wb")
        tar = _Worker(lambda: _files_tar(directory, sink))
        tar.start()
        try:
            artifact = _store_stream(storage, name, reader, format=FORMAT_FILES, bind=bind)
        finally:
            tar.join()
            with contextlib.suppress(OSError):
                sink.close()
    if tar.error is not None:
        storage.delete(name)
        raise BackupError(_("the workspace's files could not be read: %(error)s") % {"error": tar.error})
    return {**artifact, "count": int(tar.result or 0)}


def backup_create(*, tenant: Tenant, trigger: str = Backup.Trigger.MANUAL) -> Backup:
    """Back up one workspace: its schema and its files, encrypted, with a sealed manifest. Raises BackupError (the
    Backup row then says failed and nothing is left in the storage)."""
    if tenant.kind != Tenant.Kind.WORKSPACE:
        raise BackupError(_("Only workspaces are backed up."))
    now = timezone.now()
    backup = Backup.objects.create(
        tenant=tenant,
        schema_name=tenant.schema_name,
        workspace_uid=tenant.uid,
        created_at=now,
        trigger=trigger,
        key_id=current_key_id(),
    )
    storage = backup_storage()
    prefix = f"{tenant.uid}/{now:%Y/%m/%d}/{now:%H%M%S}-{backup.id}"
    bind = {"workspace_uid": str(tenant.uid), "backup_id": str(backup.id), "created_at": now.isoformat()}
    written: list[str] = []
    try:
        if not schema_exists(tenant.schema_name):
            raise BackupError(_("The schema %(schema)s does not exist.") % {"schema": tenant.schema_name})
        with pg.snapshot(tenant.schema_name) as (snapshot_id, facts):
            written.append(f"{prefix}.dump")
            dump = _store_dump(storage, written[-1], schema=tenant.schema_name, snapshot_id=snapshot_id, bind=bind)
        written.append(f"{prefix}.files")
        files = _store_files(storage, written[-1], directory=media_dir(tenant.schema_name), bind=bind)
        manifest = seal_manifest(
            {
                "version": MANIFEST_VERSION,
                "backup_id": str(backup.id),
                "created_at": now.isoformat(),
                "kontor_version": _kontor_version(),
                "postgres_version": _server_version(),
                "workspace": {
                    "uid": str(tenant.uid),
                    "schema": tenant.schema_name,
                    "subdomain": tenant.subdomain,
                    "name": tenant.name,
                },
                "migrations": {"fingerprint": facts.fingerprint, "applied": facts.applied},
                "tables": facts.tables,
                "rows": facts.rows,
                "needs": {"extensions": facts.extensions, "functions": facts.functions},
                "artifacts": {"dump": dump, "files": files},
            },
            workspace_uid=str(tenant.uid),
        )
        written.append(f"{prefix}.manifest.json")
        storage.write_bytes(written[-1], json.dumps(manifest, indent=1, ensure_ascii=False).encode())
    except (BackupError, BackupStorageError, BackupCryptoError, pg.PgError, OSError) as exc:
        for name in written:
            with contextlib.suppress(BackupStorageError, OSError):
                storage.delete(name)
        Backup.objects.filter(pk=backup.pk).update(
            status=Backup.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:4000]
        )
        logger.error("backup of %s failed: %s", tenant.schema_name, exc)
        raise exc if isinstance(exc, BackupError) else BackupError(str(exc)) from exc
    backup.status = Backup.Status.DONE
    backup.finished_at = timezone.now()
    backup.storage_prefix = prefix
    backup.size = dump["size"] + files["size"] + len(json.dumps(manifest))
    backup.plain_size = dump["plain_size"] + files["plain_size"]
    backup.rows = facts.rows
    backup.files = files["count"]
    backup.manifest = manifest
    backup.save(
        update_fields=["status", "finished_at", "storage_prefix", "size", "plain_size", "rows", "files", "manifest"]
    )
    logger.info(
        "backup %s of %s: %s bytes, %s rows, %s files",
        backup.id,
        tenant.schema_name,
        backup.size,
        backup.rows,
        backup.files,
    )
    return backup


# --- reading a backup back ---------------------------------------------------------------------------------------


def manifest_read(backup: Backup, *, workspace_uid: str) -> dict[str, Any]:
    """The backup's stored manifest, refused unless its seal holds for `workspace_uid` and it is this backup's."""
    if backup.status != Backup.Status.DONE or not backup.storage_prefix:
        raise BackupError(_("This backup did not complete and cannot be restored."))
    if backup.pruned:
        raise BackupError(_("This backup was removed by the retention policy."))
    try:
        raw = backup_storage().read_bytes(f"{backup.storage_prefix}.manifest.json")
        manifest = json.loads(raw)
    except (BackupStorageError, OSError) as exc:
        raise BackupError(_("The backup's manifest cannot be read: %(error)s") % {"error": exc}) from exc
    except ValueError as exc:
        raise BackupError(_("The backup's manifest is not valid JSON.")) from exc
    if not isinstance(manifest, dict):
        raise BackupError(_("The backup's manifest is not valid JSON."))
    if manifest.get("workspace", {}).get("uid") != workspace_uid:
        raise BackupError(_("This backup belongs to another workspace."))
    try:
        check_manifest(manifest, workspace_uid=workspace_uid)
    except BackupCryptoError as exc:
        raise BackupError(str(exc)) from exc
    if manifest.get("backup_id") != str(backup.id) or manifest.get("version") != MANIFEST_VERSION:
        raise BackupError(_("The manifest does not match this backup."))
    _refuse_newer(manifest)
    return manifest


def _literal(value: str) -> str:
    return sql.Literal(value).as_string(None)


def _ident(*names: str) -> str:
    return ".".join('"' + name.replace('"', '""') + '"' for name in names)


def _prologue(manifest: dict[str, Any], *, hold: str | None) -> str:
    source = manifest["workspace"]["schema"]
    lines = ["BEGIN;", "SET LOCAL lock_timeout = '30s';"]
    for extension in manifest["needs"]["extensions"]:
        lines.append(f"CREATE EXTENSION IF NOT EXISTS {_ident(extension)};")
    for function in manifest["needs"]["functions"]:
        # Created only where missing: a newer definition in the target database is never replaced by an older one.
        lines.append(
            "DO $kontor$ BEGIN IF to_regprocedure("
            + _literal(function["signature"])
            + ") IS NULL THEN EXECUTE "
            + _literal(function["definition"])
            + "; END IF; END $kontor$;"
        )
    if hold:
        # The live schema of the same name steps aside inside this transaction only: no other session sees it.
        lines.append(f"ALTER SCHEMA {_ident(source)} RENAME TO {_ident(hold)};")
    return "\n".join(lines) + "\n"


def _epilogue(manifest: dict[str, Any], *, target: str, hold: str | None, commit: bool) -> str:
    source = manifest["workspace"]["schema"]
    lines = []
    if source != target:
        lines.append(f"ALTER SCHEMA {_ident(source)} RENAME TO {_ident(target)};")
    if hold:
        lines.append(f"ALTER SCHEMA {_ident(hold)} RENAME TO {_ident(source)};")
    expected = json.dumps(manifest["tables"], sort_keys=True)
    lines.append(
        f"""DO $kontor$
DECLARE
    expected jsonb := {_literal(expected)}::jsonb;
    found record;
    n bigint;
BEGIN
    FOR found IN SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                 WHERE s.nspname = {_literal(target)} AND c.relkind IN ('r', 'p') LOOP
        IF NOT expected ? found.relname THEN
            RAISE EXCEPTION '{pg.CHECK_PREFIX} table % is not in the manifest', found.relname;
        END IF;
    END LOOP;
    FOR found IN SELECT key, value::bigint AS rows FROM jsonb_each_text(expected) LOOP
        IF to_regclass(format('%I.%I', {_literal(target)}, found.key)) IS NULL THEN
            RAISE EXCEPTION '{pg.CHECK_PREFIX} table % of the manifest is missing', found.key;
        END IF;
        EXECUTE format('SELECT count(*) FROM %I.%I', {_literal(target)}, found.key) INTO n;
        IF n <> found.rows THEN
            RAISE EXCEPTION '{pg.CHECK_PREFIX} table % has % rows, the manifest says %', found.key, n, found.rows;
        END IF;
    END LOOP;
END $kontor$;"""  # noqa: S608 - every value is a quoted literal
    )
    lines.append("COMMIT;" if commit else "ROLLBACK;")
    return "\n".join(lines) + "\n"


def _psql_error(stderr: str) -> str:
    for line in stderr.splitlines():
        if "ERROR:" in line:
            message = line.split("ERROR:", 1)[1].strip()
            return message.removeprefix(pg.CHECK_PREFIX).strip()
    return stderr[-2000:]


def _artifact_label(kind: str) -> str:
    return _("database dump") if kind == "dump" else _("files")


def _open_artifact(storage: BackupStorage, manifest: dict[str, Any], kind: str) -> IO[bytes]:
    try:
        return storage.open(manifest["artifacts"][kind]["name"])
    except (BackupStorageError, OSError) as exc:
        raise BackupError(
            _("The backup's %(kind)s cannot be read: %(error)s") % {"kind": _artifact_label(kind), "error": exc}
        ) from exc


def _check_stored(manifest: dict[str, Any], kind: str, stored: _Hashing) -> None:
    expected, digest = manifest["artifacts"][kind], stored.digest
    if digest.size != expected["size"] or digest.sha256.hexdigest() != expected["sha256"]:
        raise BackupError(
            _("The backup's %(kind)s does not match its manifest (size or sha256).") % {"kind": _artifact_label(kind)}
        )


def load(*, manifest: dict[str, Any], target: str, commit: bool, database: str | None = None) -> None:
    """Restore the backup's dump as schema `target` in one transaction that commits (commit=False: rolls back)
    only when every chunk authenticated, the ciphertext matched the manifest, pg_restore succeeded and the tables
    and their row counts are the manifest's. On any failure nothing is left behind. `database`: another database
    on the same server (a fresh one: what the schema needs from outside it is created first)."""
    source = manifest["workspace"]["schema"]
    existing = pg.schemas_existing([source, target], database)
    if target in existing:
        raise BackupError(_("The schema %(schema)s already exists.") % {"schema": target})
    hold = _unique_schema(_HOLD_PREFIX) if source != target and source in existing else None
    storage = backup_storage()
    ciphertext = _open_artifact(storage, manifest, "dump")
    stored = _Hashing(ciphertext)
    psql = restore = None
    try:
        chunks = _decrypted(stored, manifest, FORMAT_DUMP)
        # psql's output (the rows of the SELECTs in pg_restore's script) is of no use: discarded, never piped.
        psql = pg.spawn(
            pg.psql_command(),
            application="kontor restore",
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            database=database,
        )
        psql_errors = _drain(psql.stderr)
        restore = pg.spawn(pg.restore_command(), application="kontor restore", stdin=subprocess.PIPE)
        restore_errors = _drain(restore.stderr)
        assert psql.stdin is not None and restore.stdin is not None and restore.stdout is not None
        restore_in = restore.stdin

        def feed() -> None:
            try:
                for chunk in chunks:  # each one authenticated before it is handed over
                    restore_in.write(chunk)
            finally:
                with contextlib.suppress(OSError):
                    restore_in.close()

        feeder = _Worker(feed)
        feeder.start()
        try:
            psql.stdin.write(_prologue(manifest, hold=hold).encode())
            shutil.copyfileobj(restore.stdout, psql.stdin, _BLOCK)
        except BrokenPipeError:
            # psql stopped on an error (its transaction is rolled back): stop pg_restore, which would wait forever
            # for its output to be read, and report psql's message.
            pg.stop(restore)
            feeder.join()
            psql.wait()
            raise BackupError(
                _("The restore was refused: %(error)s") % {"error": _psql_error(_stderr_text(psql_errors))}
            ) from None
        feeder.join()
        restore_code = restore.wait()
        if isinstance(feeder.error, BackupCryptoError):
            raise BackupError(str(feeder.error))
        if feeder.error is not None and not isinstance(feeder.error, BrokenPipeError):
            raise BackupError(str(feeder.error))
        _check_stored(manifest, "dump", stored)
        if restore_code != 0:
            raise BackupError(_("pg_restore failed: %(error)s") % {"error": _stderr_text(restore_errors)})
        try:
            psql.stdin.write(_epilogue(manifest, target=target, hold=hold, commit=commit).encode())
            psql.stdin.close()
        except BrokenPipeError:
            pass
        if psql.wait() != 0:
            raise BackupError(
                _("The restore was refused: %(error)s") % {"error": _psql_error(_stderr_text(psql_errors))}
            )
    finally:
        pg.stop(restore)
        pg.stop(psql)
        ciphertext.close()


def _files_load(*, manifest: dict[str, Any], directory: Path | None) -> int:
    """Decrypt the files' tar and extract it into `directory` (None: read it through only, to verify); returns
    the count. Only regular files with relative names are accepted."""
    storage = backup_storage()
    ciphertext = _open_artifact(storage, manifest, "files")
    stored = _Hashing(ciphertext)
    count = 0
    try:
        chunks = _decrypted(stored, manifest, FORMAT_FILES)
        read_end, write_end = os.pipe()
        with os.fdopen(read_end, "rb") as reader:
            sink = os.fdopen(write_end, "wb")

            def feed() -> None:
                try:
                    for chunk in chunks:
                        sink.write(chunk)
                finally:
                    with contextlib.suppress(OSError):
                        sink.close()

            feeder = _Worker(feed)
            feeder.start()
            try:
                with tarfile.open(fileobj=reader, mode="r|") as tar:
                    for member in tar:
                        if not member.isfile():
                            raise BackupError(_("The backup's files hold something other than files."))
                        if directory is None:
                            extracted = tar.extractfile(member)
                            if extracted is not None:
                                while extracted.read(_BLOCK):
                                    pass
                        else:
                            tar.extract(member, directory, filter="data")
                        count += 1
            except tarfile.TarError as exc:
                raise BackupError(_("The backup's files cannot be read: %(error)s") % {"error": exc}) from exc
            finally:
                with contextlib.suppress(OSError):
                    while reader.read(_BLOCK):  # let the feeder finish (and authenticate the last chunk)
                        pass
                feeder.join()
            if feeder.error is not None:
                raise BackupError(str(feeder.error))
    finally:
        ciphertext.close()
    _check_stored(manifest, "files", stored)
    if count != manifest["artifacts"]["files"]["count"]:
        raise BackupError(
            _("The backup holds %(found)s files, its manifest says %(expected)s.")
            % {"found": count, "expected": manifest["artifacts"]["files"]["count"]}
        )
    return count


def _schema_drop(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {_ident(schema)} CASCADE")


def _migrate_forward(schema: str, manifest: dict[str, Any]) -> str:
    """A backup of an older migration state is brought up to the code's; returns the schema's fingerprint."""
    missing = _known_tenant_migrations() - set(manifest["migrations"]["applied"])
    if missing:
        call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    return migration_fingerprint(schema_applied(schema))


def _known_tenant_migrations() -> set[str]:
    template = Tenant.objects.filter(kind=Tenant.Kind.TEMPLATE).values_list("schema_name", flat=True).first()
    return {f"{app}.{name}" for app, name in schema_applied(template)} if template else set()


def _caches_forget(schema: str) -> None:
    with schema_context(schema):
        identities_invalidate()
    workspace_forget(schema)


@dataclass(frozen=True)
class Loaded:
    schema: str
    files_dir: Path


def _load_all(*, manifest: dict[str, Any]) -> Loaded:
    """The backup as a scratch schema and a scratch files directory, both checked against the manifest."""
    scratch = _unique_schema(SCRATCH_PREFIX)
    files_dir = Path(settings.MEDIA_ROOT) / ".restore" / scratch
    try:
        load(manifest=manifest, target=scratch, commit=True)
        files_dir.mkdir(parents=True, mode=0o700)
        _files_load(manifest=manifest, directory=files_dir)
    except BaseException:
        _schema_drop(scratch)
        shutil.rmtree(files_dir, ignore_errors=True)
        raise
    return Loaded(schema=scratch, files_dir=files_dir)


def _restore_row(**fields: Any) -> Restore:
    return Restore.objects.create(**fields)


def _restore_failed(restore: Restore, exc: BaseException) -> None:
    Restore.objects.filter(pk=restore.pk).update(
        status=Restore.Status.FAILED, finished_at=timezone.now(), message=str(exc)[:4000]
    )
    logger.error("restore %s (%s) failed: %s", restore.id, restore.mode, exc)


# Advisory lock class of "a restore of this workspace is running" (the second key is the tenant's id).
_RESTORE_LOCK = 0x6B726573


@contextlib.contextmanager
def _one_restore_at_a_time(tenant: Tenant) -> Iterator[None]:
    """Two restores of one workspace at once would each swap in their own copy: the second is refused."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RESTORE_LOCK, tenant.pk])
        if not cursor.fetchone()[0]:
            raise BackupError(_("Another restore of this workspace is running."))
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RESTORE_LOCK, tenant.pk])


def restore_in_place(*, tenant: Tenant, backup: Backup, operator: str = "") -> Restore:
    """Replace the workspace's schema and files with the backup's. The replaced ones are kept (restore_confirm
    drops them). Raises BackupError with the live workspace untouched."""
    manifest = manifest_read(backup, workspace_uid=str(tenant.uid))
    with _one_restore_at_a_time(tenant):
        return _restore_in_place(tenant=tenant, backup=backup, manifest=manifest, operator=operator)


def _restore_in_place(*, tenant: Tenant, backup: Backup, manifest: dict[str, Any], operator: str) -> Restore:
    restore = _restore_row(
        backup=backup, tenant=tenant, mode=Restore.Mode.IN_PLACE, target_schema=tenant.schema_name, operator=operator
    )
    try:
        loaded = _load_all(manifest=manifest)
    except BackupError as exc:
        _restore_failed(restore, exc)
        raise
    replaced = _unique_schema(REPLACED_PREFIX)
    live = tenant.schema_name
    try:
        state = _migrate_forward(loaded.schema, manifest)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '30s'")
                cursor.execute(f"ALTER SCHEMA {_ident(live)} RENAME TO {_ident(replaced)}")
                cursor.execute(f"ALTER SCHEMA {_ident(loaded.schema)} RENAME TO {_ident(live)}")
            Tenant.objects.filter(pk=tenant.pk).update(migration_state=state)
            Restore.objects.filter(pk=restore.pk).update(
                status=Restore.Status.DONE, finished_at=timezone.now(), replaced_schema=replaced
            )
    except BaseException as exc:
        _schema_drop(loaded.schema)
        shutil.rmtree(loaded.files_dir, ignore_errors=True)
        _restore_failed(restore, exc)
        raise
    # The files follow the committed swap: two renames of directories.
    media = media_dir(live)
    kept = Path(settings.MEDIA_ROOT) / ".restore" / replaced
    if media.exists():
        media.rename(kept)
    loaded.files_dir.rename(media)
    Restore.objects.filter(pk=restore.pk).update(replaced_media=str(kept) if kept.exists() else "")
    _caches_forget(live)
    restore.refresh_from_db()
    logger.warning(
        "workspace %s restored from backup %s by %s; replaced schema kept as %s",
        live,
        backup.id,
        operator or "-",
        replaced,
    )
    return restore


def restore_confirm(*, restore: Restore) -> Restore:
    """The operator is satisfied with a restore: drop the schema and files it replaced."""
    if restore.status != Restore.Status.DONE or restore.mode != Restore.Mode.IN_PLACE:
        raise BackupError(_("Only a completed restore in place can be confirmed."))
    with transaction.atomic():
        if restore.replaced_schema.startswith(REPLACED_PREFIX):
            _schema_drop(restore.replaced_schema)
        Restore.objects.filter(pk=restore.pk).update(status=Restore.Status.CONFIRMED)
    if restore.replaced_media:
        shutil.rmtree(restore.replaced_media, ignore_errors=True)
    restore.refresh_from_db()
    return restore


def _subdomain_free(subdomain: str) -> str:
    subdomain = normalize_subdomain(subdomain)
    errors = subdomain_errors(subdomain)
    if errors:
        raise BackupError(" ".join(str(e) for e in errors))
    return subdomain


def _refuse_newer(manifest: dict[str, Any]) -> None:
    unknown = set(manifest["migrations"]["applied"]) - _known_migrations()
    if unknown:
        raise BackupError(
            _("This backup was made by a newer Kontor (unknown migrations: %(names)s).")
            % {"names": ", ".join(sorted(unknown)[:5])}
        )


def _new_workspace(
    *,
    manifest: dict[str, Any],
    subdomain: str,
    restore: Restore,
    fields: dict[str, Any],
    recorded: Callable[[Tenant], dict[str, Any]] = lambda tenant: {},
) -> Tenant:
    """Load the backup and make it a new workspace at `subdomain` (a Tenant with `fields`), in one transaction
    with its domain and the restore's outcome (`recorded` adds to it); the backup's files become its files."""
    try:
        loaded = _load_all(manifest=manifest)
    except BackupError as exc:
        _restore_failed(restore, exc)
        raise
    schema = schema_name_for(subdomain)
    try:
        state = _migrate_forward(loaded.schema, manifest)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER SCHEMA {_ident(loaded.schema)} RENAME TO {_ident(schema)}")
            tenant = Tenant.objects.create(
                schema_name=schema,
                kind=Tenant.Kind.WORKSPACE,
                activated_at=timezone.now(),
                migration_state=state,
                **fields,
            )
            Domain.objects.create(domain=workspace_domain_for(subdomain), tenant=tenant, is_primary=True)
            Restore.objects.filter(pk=restore.pk).update(
                status=Restore.Status.DONE, finished_at=timezone.now(), **recorded(tenant)
            )
    except BaseException as exc:
        _schema_drop(loaded.schema)
        shutil.rmtree(loaded.files_dir, ignore_errors=True)
        _restore_failed(restore, exc)
        raise
    loaded.files_dir.rename(media_dir(schema))
    restore.refresh_from_db()
    return tenant


def restore_copy(*, tenant: Tenant, backup: Backup, subdomain: str, operator: str = "") -> tuple[Restore, Tenant]:
    """Restore the backup as a new workspace at `subdomain`, for inspection; the original is not touched."""
    subdomain = _subdomain_free(subdomain)
    manifest = manifest_read(backup, workspace_uid=str(tenant.uid))
    restore = _restore_row(
        backup=backup,
        tenant=tenant,
        mode=Restore.Mode.COPY,
        target_schema=schema_name_for(subdomain),
        operator=operator,
    )
    fields = {
        "name": _("%(name)s (restored copy)") % {"name": tenant.name},
        "language": tenant.language,
        "currency": tenant.currency,
        "time_zone": tenant.time_zone,
    }
    copy = _new_workspace(manifest=manifest, subdomain=subdomain, restore=restore, fields=fields)
    return restore, copy


def _manifest_checked(manifest: Any) -> dict[str, Any]:
    """A manifest read from the storage alone (no Backup row: a database rebuilt after a disaster)."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("workspace"), dict):
        raise BackupError(_("The backup's manifest is not valid JSON."))
    uid = str(manifest["workspace"].get("uid", ""))
    try:
        check_manifest(manifest, workspace_uid=uid)
    except BackupCryptoError as exc:
        raise BackupError(str(exc)) from exc
    if manifest.get("version") != MANIFEST_VERSION:
        raise BackupError(_("The manifest does not match this backup."))
    _refuse_newer(manifest)
    return manifest


def _backup_of_manifest(manifest: dict[str, Any], *, name: str, tenant: Tenant) -> Backup:
    """The Backup row of a backup found in the storage, as backup_create would have written it (the row may be
    there still, its workspace gone)."""
    artifacts = manifest["artifacts"]
    created = datetime.datetime.fromisoformat(manifest["created_at"])
    backup, _created = Backup.objects.update_or_create(
        id=uuid.UUID(manifest["backup_id"]),
        defaults={
            "tenant": tenant,
            "schema_name": manifest["workspace"]["schema"],
            "workspace_uid": tenant.uid,
            "created_at": created,
            "finished_at": created,
            "status": Backup.Status.DONE,
            "storage_prefix": name.removesuffix(".manifest.json"),
            "key_id": manifest["seal"]["key_id"],
            "size": artifacts["dump"]["size"] + artifacts["files"]["size"],
            "plain_size": artifacts["dump"]["plain_size"] + artifacts["files"]["plain_size"],
            "rows": manifest["rows"],
            "files": artifacts["files"]["count"],
            "manifest": manifest,
            "pruned": False,
        },
    )
    return backup


def backup_recover(*, manifest_name: str, subdomain: str, operator: str = "") -> tuple[Restore, Tenant]:
    """Bring a workspace back from the storage alone into a database that does not have it (a new server after a
    disaster): the workspace gets its uid back, so its older backups stay readable, and its backup is recorded."""
    subdomain = _subdomain_free(subdomain)
    if not manifest_name.endswith(".manifest.json"):
        raise BackupError(_("Name the backup by its manifest (…/<time>-<id>.manifest.json)."))
    try:
        manifest = _manifest_checked(json.loads(backup_storage().read_bytes(manifest_name)))
    except (BackupStorageError, OSError) as exc:
        raise BackupError(_("The backup's manifest cannot be read: %(error)s") % {"error": exc}) from exc
    except ValueError as exc:
        raise BackupError(_("The backup's manifest is not valid JSON.")) from exc
    uid = uuid.UUID(manifest["workspace"]["uid"])
    if Tenant.objects.filter(uid=uid).exists():
        raise BackupError(_("This workspace exists here: restore it in place or as a copy instead."))
    restore = _restore_row(
        mode=Restore.Mode.COPY, target_schema=schema_name_for(subdomain), operator=operator, message=manifest_name
    )

    def recorded(tenant: Tenant) -> dict[str, Any]:
        return {"tenant": tenant, "backup": _backup_of_manifest(manifest, name=manifest_name, tenant=tenant)}

    fields = {"uid": uid, "name": manifest["workspace"].get("name", "")}
    tenant = _new_workspace(manifest=manifest, subdomain=subdomain, restore=restore, fields=fields, recorded=recorded)
    logger.warning("workspace %s recovered from %s by %s", tenant.schema_name, manifest_name, operator or "-")
    return restore, tenant


def manifests_stored() -> list[str]:
    """Every manifest in the backup storage, oldest first within a workspace (names sort by time)."""
    return [name for name in backup_storage().list("") if name.endswith(".manifest.json")]


# --- verification and retention ----------------------------------------------------------------------------------


def backup_verify(*, backup: Backup) -> bool:
    """Restore the backup into scratch inside a transaction that is rolled back at the end, after the checks (every
    chunk authenticates, sha256 and sizes match, each table's row count is the manifest's), and read its files
    through. Records the result on the backup; a failure is logged as an error (Sentry gets it when configured)."""
    restore = _restore_row(backup=backup, tenant=backup.tenant, mode=Restore.Mode.VERIFY, target_schema="")
    try:
        manifest = manifest_read(backup, workspace_uid=str(backup.workspace_uid))
        load(manifest=manifest, target=_unique_schema(SCRATCH_PREFIX), commit=False)
        _files_load(manifest=manifest, directory=None)
    except BackupError as exc:
        now = timezone.now()
        Backup.objects.filter(pk=backup.pk).update(
            verification=Backup.Verification.FAILED, verified_at=now, verification_message=str(exc)[:4000]
        )
        Restore.objects.filter(pk=restore.pk).update(
            status=Restore.Status.FAILED, finished_at=now, message=str(exc)[:4000]
        )
        logger.error("verification of backup %s of %s failed: %s", backup.id, backup.schema_name, exc)
        return False
    now = timezone.now()
    message = _("%(rows)s rows in %(tables)s tables and %(files)s files restored and checked.") % {
        "rows": manifest["rows"],
        "tables": len(manifest["tables"]),
        "files": manifest["artifacts"]["files"]["count"],
    }
    Backup.objects.filter(pk=backup.pk).update(
        verification=Backup.Verification.PASSED, verified_at=now, verification_message=message
    )
    Restore.objects.filter(pk=restore.pk).update(status=Restore.Status.DONE, finished_at=now, message=message)
    return True


def backups_prune(*, workspace_uid: uuid.UUID) -> int:
    """Apply the retention to one workspace's completed backups (a deleted workspace's too): remove the artifacts
    of those it does not keep (the rows stay, marked pruned). Returns how many were removed."""
    done = list(
        Backup.objects.filter(workspace_uid=workspace_uid, status=Backup.Status.DONE, pruned=False).values_list(
            "id", "created_at", "storage_prefix"
        )
    )
    keep = backups_to_keep(
        [(pk, created) for pk, created, _prefix in done],
        daily=settings.BACKUP_KEEP_DAILY,
        weekly=settings.BACKUP_KEEP_WEEKLY,
        monthly=settings.BACKUP_KEEP_MONTHLY,
        tz=datetime.UTC,
    )
    storage = backup_storage()
    removed = 0
    for pk, _created, prefix in done:
        if pk in keep:
            continue
        for suffix in (".dump", ".files", ".manifest.json"):
            storage.delete(prefix + suffix)
        Backup.objects.filter(pk=pk).update(pruned=True)
        removed += 1
    return removed
