"""A full export of a workspace: every kind of record, its custom fields, history, audit log, people and files, as
one ZIP of CSV (for spreadsheets) and JSON Lines (for programs), built in the background.

The sections are found from the models, not written one per model: the accounts' people, roles, teams,
invitations and audit log, then every model of the CRM's apps (record kinds first, in the registry's order),
less what is derived (search terms) or personal screen settings. Columns come from each model's fields: a link
is its id and, where the linked model has a name, that name; custom field values get one column each; secrets
(password hashes, key hashes, tokens, two-factor devices) are never read.

Rows are read in chunks through a server-side cursor and written straight into the ZIP, so memory stays flat
whatever the workspace's size; the ZIP is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import OuterRef
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from infra.backups.models import Export
from tenants.accounts import kinds, policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, Scope, User
from tenants.context import current_schema
from tenants.models import Tenant

logger = logging.getLogger(__name__)

CHUNK = 2000
# Progress is written at most this often (seconds), and whenever a section starts.
PROGRESS_EVERY = 1.0
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CHARS = frozenset(_FORMULA_START)
_SIGNING_SALT = "infra.backups.export-download"
ACTIVE = (Export.Status.QUEUED, Export.Status.RUNNING)
# A file in EXPORT_DIR that no finished export owns is removed once it is this old.
ORPHAN_SECONDS = 24 * 3600

# The accounts' tables, in this order; then every CRM model but these (derived data, personal screen settings).
_ACCOUNT_MODELS = ("accounts.User", "accounts.Role", "accounts.Team", "accounts.Invitation", "accounts.AuditEvent")
_SKIPPED = {"search.searchterm", "crm_web.listpreference", "crm_web.samplerecord"}
# File names people recognise, in the order of the ZIP; any other model comes after, as "<app>_<model>".
_FILE_NAMES = {
    "accounts.user": "users",
    "accounts.role": "roles",
    "accounts.team": "teams",
    "accounts.invitation": "invitations",
    "accounts.auditevent": "audit_log",
    "companies.company": "companies",
    "contacts.contact": "contacts",
    "leads.lead": "leads",
    "deals.deal": "deals",
    "deals.deallineitem": "deal_line_items",
    "deals.pipeline": "pipelines",
    "deals.stage": "stages",
    "products.product": "products",
    "activities.activity": "activities",
    "files.attachment": "files",
    "customfields.customfield": "custom_fields",
    "history.changerecord": "history",
}
# Never exported, on any model: credentials and anything that opens an account.
_SECRET = re.compile(r"password|hash|secret|token|otp|recovery", re.IGNORECASE)
_NOT_EXPORTED = {"accounts.user": {"is_staff"}}
# What names a linked record, first match wins (several fields: joined with a space).
_LABEL_FIELDS: tuple[tuple[str, ...], ...] = (
    ("name",),
    ("title",),
    ("full_name", "email"),
    ("first_name", "last_name"),
    ("subject",),
    ("email",),
)


# --- the sections ---------------------------------------------------------------------------------------------


@dataclass
class Column:
    header: str
    key: str  # the key in a row of .values()
    render: Callable[[Any], str]


@dataclass
class Section:
    name: str
    model: type[models.Model]
    record_type: str | None = None
    label_lookups: dict[str, list[str]] = field(default_factory=dict)  # link -> its label lookups
    m2m: list[models.ManyToManyField] = field(default_factory=list)

    @property
    def queryset(self) -> models.QuerySet[Any]:
        return self.model._default_manager.order_by("pk")

    def fields(self) -> list[models.Field]:
        """The exported fields: the id, the model's own, then those every record shares (owner, tags, dates),
        then the custom fields (one column each)."""
        exclude = _NOT_EXPORTED.get(self.model._meta.label_lower, set())
        shared = {
            f.name
            for base in self.model.__mro__[1:]
            if base is not models.Model and issubclass(base, models.Model) and base._meta.abstract
            for f in base._meta.fields
        }
        kept = [f for f in self.model._meta.concrete_fields if not _SECRET.search(f.name) and f.name not in exclude]
        return sorted(kept, key=lambda f: (not f.primary_key, f.name in shared, f.name == "custom_fields"))


def _label_fields(model: type[models.Model]) -> tuple[str, ...]:
    names = {f.name for f in model._meta.concrete_fields}
    for candidate in _LABEL_FIELDS:
        if all(n in names for n in candidate):
            return candidate
    return ()


def sections() -> list[Section]:
    """What an export holds, in order: people and access, then the records (registered kinds first)."""
    kind_of = {k.model._meta.label_lower: k.key for k in kinds.all_kinds()}
    order = {label: i for i, label in enumerate(dict.fromkeys([*_FILE_NAMES, *kind_of]))}
    crm_models = [
        m
        for config in apps.get_app_configs()
        if config.name.startswith("crm.")
        for m in config.get_models()
        if m._meta.label_lower not in _SKIPPED and not m._meta.auto_created
    ]
    crm_models.sort(key=lambda m: (order.get(m._meta.label_lower, len(order)), m._meta.label_lower))
    found = [apps.get_model(label) for label in _ACCOUNT_MODELS] + crm_models
    result = []
    for model in found:
        label = model._meta.label_lower
        section = Section(
            name=_FILE_NAMES.get(label, label.replace(".", "_")),
            model=model,
            record_type=kind_of.get(label),
        )
        for f in section.fields():
            if f.is_relation and f.related_model is not None:
                section.label_lookups[f.name] = [f"{f.name}__{n}" for n in _label_fields(f.related_model)]
        section.m2m = [f for f in model._meta.many_to_many if isinstance(f, models.ManyToManyField)]
        result.append(section)
    return result


# --- values as a spreadsheet reads them -----------------------------------------------------------------------


class _Formats:
    def __init__(self, tz: datetime.tzinfo) -> None:
        self.tz = tz
        self.yes, self.no = _("Yes"), _("No")

    def text(self, value: Any) -> str:
        # Called for every cell: the common types are matched by exact class first, the rest as before.
        if value is None:
            return ""
        kind = value.__class__
        if kind is str:
            return "'" + value if value[:1] in _FORMULA_CHARS else value
        if kind is int or kind is Decimal:
            return str(value)
        if kind is datetime.datetime and value.tzinfo is not None:
            return value.astimezone(self.tz).isoformat(sep=" ", timespec="seconds")[:19]
        if isinstance(value, bool):
            return self.yes if value else self.no
        if isinstance(value, datetime.datetime):
            if timezone.is_aware(value):
                value = value.astimezone(self.tz)
            return value.isoformat(sep=" ", timespec="seconds")[:19]
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, Decimal | int | float):
            return str(value)
        if isinstance(value, list | tuple):
            return self.cell(", ".join(self.text(v) for v in value))
        if isinstance(value, dict):
            return self.cell(json.dumps(value, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder))
        return self.cell(str(value))

    @staticmethod
    def cell(text: str) -> str:
        # A value typed by someone must not run as a formula in a spreadsheet.
        return "'" + text if text.startswith(_FORMULA_START) else text


def _columns(section: Section, fmt: _Formats, custom: list[Any], users: dict[int, str]) -> list[Column]:
    columns: list[Column] = []
    for f in section.fields():
        label = capfirst(str(f.verbose_name))
        if f.is_relation:
            columns.append(Column(_("%(field)s (id)") % {"field": label}, f.attname, fmt.text))
            lookups = section.label_lookups.get(f.name, [])
            if lookups:

                def named(row: dict[str, Any], lookups: list[str] = lookups) -> str:
                    parts = [str(row[k]) for k in lookups if row.get(k)]
                    return fmt.cell(parts[0] if lookups[0].endswith("__full_name") and parts else " ".join(parts))

                columns.append(Column(label, "__row__", named))
            continue
        if f.name == "custom_fields" and section.record_type is not None:
            for definition in custom:
                columns.append(
                    Column(
                        str(definition.label), "custom_fields", _custom_render(definition, fmt, users, definition.key)
                    )
                )
            continue
        if f.choices:
            names = {k: str(v) for k, v in f.flatchoices}

            def chosen(value: Any, names: dict[Any, str] = names) -> str:
                return fmt.text(names.get(value, value))

            columns.append(Column(label, f.attname, chosen))
            continue
        columns.append(Column(label, f.attname, fmt.text))
    for m2m in section.m2m:
        columns.append(
            Column(_("%(field)s (id)") % {"field": capfirst(str(m2m.verbose_name))}, f"m2m_{m2m.name}", fmt.text)
        )
    seen: set[str] = set()
    for column in columns:  # two fields with one label (a link's name and a stored copy of it): tell them apart
        if column.header in seen:
            column.header = f"{column.header} ({column.key})"
        seen.add(column.header)
    return columns


def _custom_render(definition: Any, fmt: _Formats, users: dict[int, str], key: str) -> Callable[[Any], str]:
    kind = definition.field_type

    def render(values: Any) -> str:
        value = (values or {}).get(key) if isinstance(values, dict) else None
        if value is None or value == "":
            return ""
        if kind == "money" and isinstance(value, dict):
            return f"{value.get('amount', '')} {value.get('currency', '')}".strip()
        if kind == "user":
            try:
                return fmt.cell(users.get(int(value), str(value)))
            except (TypeError, ValueError):
                return fmt.text(value)
        return fmt.text(value)

    return render


def _values_query(section: Section) -> models.QuerySet[Any]:
    lookups = [f.attname for f in section.fields()]
    for extra in section.label_lookups.values():
        lookups += extra
    annotations: dict[str, Any] = {}
    for m2m in section.m2m:
        through = cast(type[models.Model], m2m.remote_field.through)
        source, target = m2m.m2m_field_name(), m2m.m2m_reverse_name()
        annotations[f"m2m_{m2m.name}"] = ArraySubquery(
            through._default_manager.filter(**{source: OuterRef("pk")}).order_by(target).values(target)
        )
    return section.queryset.annotate(**annotations).values(*lookups, *annotations)


# --- progress --------------------------------------------------------------------------------------------------


class _Progress:
    """Writes Export.progress/step at most once per PROGRESS_EVERY seconds (and when a section starts)."""

    def __init__(self, export: Export, total: int) -> None:
        self.export, self.total, self.done = export, max(total, 1), 0
        self.last = 0.0

    def step(self, text: str) -> None:
        self.export.step = text[:200]
        self._write()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self.last >= PROGRESS_EVERY:
            self._write()

    def _write(self) -> None:
        self.last = time.monotonic()
        self.export.progress = min(99, self.done * 100 // self.total)
        Export.objects.filter(pk=self.export.pk).update(progress=self.export.progress, step=self.export.step)


# --- the builder -------------------------------------------------------------------------------------------------


def export_dir(schema: str) -> Path:
    return Path(settings.EXPORT_DIR) / schema


def export_path(export: Export) -> Path:
    return export_dir(export.tenant.schema_name) / f"{export.pk}.zip"


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def _member(zf: zipfile.ZipFile, name: str) -> IO[bytes]:
    info = zipfile.ZipInfo(name, date_time=timezone.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # what whoever unpacks it gets, not our 0600
    return zf.open(info, "w", force_zip64=True)


def _safe_member_name(pk: object, name: str) -> str:
    # A ZIP member name a person reads, that can never climb out of files/ when unpacked.
    cleaned = re.sub(r"[^\w.\- ]+", "_", name).strip(" .") or "file"
    return f"files/{pk}-{cleaned[-150:]}"


@dataclass
class _Written:
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0
    missing_files: list[int] = field(default_factory=list)


def _write_section(
    zf: zipfile.ZipFile, section: Section, columns: list[Column], work: Path, progress: _Progress
) -> int:
    rows = 0
    encoder = DjangoJSONEncoder()
    is_files = section.model._meta.label_lower == "files.attachment"
    headers = [c.header for c in columns] + ([_("File in this export")] if is_files else [])
    with tempfile.NamedTemporaryFile("w", dir=work, suffix=".jsonl", encoding="utf-8", delete=True) as jsonl:
        with _member(zf, f"{section.name}.csv") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")  # the BOM: spreadsheets read UTF-8
            writer = csv.writer(text)
            writer.writerow(headers)
            for row in _values_query(section).iterator(chunk_size=CHUNK):
                cells = [c.render(row if c.key == "__row__" else row.get(c.key)) for c in columns]
                if is_files:
                    cells.append(_safe_member_name(row["id"], row.get("name") or ""))
                writer.writerow(cells)
                record = {k: v for k, v in row.items() if "__" not in k}
                jsonl.write(encoder.encode(record) + "\n")
                rows += 1
                progress.advance()
            text.flush()
            text.detach()
        jsonl.flush()
        with _member(zf, f"{section.name}.jsonl") as out, open(jsonl.name, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
    return rows


def _write_files(zf: zipfile.ZipFile, written: _Written, progress: _Progress) -> None:
    model = apps.get_model("files", "Attachment")
    for attachment in model._default_manager.order_by("pk").only("pk", "file", "name").iterator(chunk_size=CHUNK):
        member = _safe_member_name(attachment.pk, attachment.name)
        try:
            # Through the workspace's storage: MEDIA_ROOT/<schema>/ or whatever storage it is configured with.
            with attachment.file.open("rb") as src, _member(zf, member) as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                    written.file_bytes += len(chunk)
            written.files += 1
        except (OSError, ValueError):
            written.missing_files.append(attachment.pk)
            logger.warning("export: the file of attachment %s is missing from storage", attachment.pk)
        progress.advance()


def _readme(tenant: Tenant, export: Export, written: _Written, names: dict[str, str]) -> str:
    lines = [
        _("Full export of the workspace %(name)s (%(subdomain)s)")
        % {"name": tenant.name, "subdomain": tenant.subdomain},
        _("Made on %(date)s (UTC).") % {"date": timezone.now().strftime("%Y-%m-%d %H:%M")},
        "",
        _("Each kind of record is in two files: a CSV file for spreadsheets and a JSON Lines file for programs."),
        _("Uploaded files are in the files/ folder; manifest.json lists every file with its number of rows."),
        "",
    ]
    for name, rows in written.rows.items():
        lines.append(f"{name}.csv / {name}.jsonl: {names[name]}, {rows}")
    lines.append(f"files/: {written.files}")
    return "\n".join(lines) + "\n"


def _requester_locale(export: Export, tenant: Tenant) -> tuple[str, datetime.tzinfo]:
    mine = User.objects.filter(pk=export.requested_by_id).values_list("language", "time_zone").first()
    user_language, user_zone = mine or ("", "")
    language = user_language or tenant.language or settings.LANGUAGE_CODE
    try:
        tz: datetime.tzinfo = zoneinfo.ZoneInfo(user_zone or tenant.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = datetime.UTC
    return language, tz


def _claim(export_id: object) -> Export | None:
    """The export to build, marked running; None when there is nothing to do (unknown, done, failed, expired)."""
    try:
        pk = uuid.UUID(str(export_id))
    except ValueError:
        return None
    claimed = Export.objects.filter(pk=pk, status__in=ACTIVE).update(status=Export.Status.RUNNING, progress=0)
    if not claimed:
        return None
    return Export.objects.select_related("tenant").get(pk=pk)


def export_build(*, export_id: object) -> Export | None:
    """Build the ZIP of a queued export, in the workspace's schema (the one the task runs in). Safe to run twice:
    a finished export is left alone, a redelivered one is built again from the start."""
    export = _claim(export_id)
    if export is None:
        return None
    tenant = export.tenant
    if tenant.schema_name != current_schema():
        # Never read one workspace's records for another's export.
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.FAILED, error="queued in another schema", finished_at=timezone.now()
        )
        logger.error("export %s of %s ran in schema %s: refused", export.pk, tenant.schema_name, current_schema())
        return None
    directory = export_dir(tenant.schema_name)
    final = directory / f"{export.pk}.zip"
    partial: Path | None = None
    try:
        _private_dir(Path(settings.EXPORT_DIR))
        _private_dir(directory)
        language, tz = _requester_locale(export, tenant)
        with translation.override(language):
            partial = directory / f".{export.pk}.{uuid.uuid4().hex}.part"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                written = _build_into(out, export, tenant, tz, directory)
            os.replace(partial, final)
            partial = None
    except Exception as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        logger.exception("export %s of %s failed", export.pk, tenant.schema_name)
        export.refresh_from_db()
        return export
    finished = timezone.now()
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.DONE,
        progress=100,
        step="",
        size=final.stat().st_size,
        finished_at=finished,
        expires_at=finished + datetime.timedelta(hours=settings.EXPORT_LINK_HOURS),
        error="",
    )
    logger.info("export %s of %s done: %s rows, %s files", export.pk, tenant.schema_name, sum(written.rows.values()),
                written.files)  # fmt: skip
    export.refresh_from_db()
    return export


def _build_into(out: IO[bytes], export: Export, tenant: Tenant, tz: datetime.tzinfo, work: Path) -> _Written:
    fmt = _Formats(tz)
    found = sections()
    custom_model = apps.get_model("customfields", "CustomField")
    custom: dict[str, list[Any]] = {}
    for definition in custom_model._default_manager.order_by("record_type", "position", "pk"):
        custom.setdefault(definition.record_type, []).append(definition)
    users = {pk: name or email for pk, name, email in User.objects.values_list("pk", "full_name", "email")}
    counts = {s.name: s.queryset.count() for s in found}
    attachments = counts.get("files", 0)
    progress = _Progress(export, sum(counts.values()) + attachments)
    written = _Written()
    names: dict[str, str] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for section in found:
            names[section.name] = str(capfirst(section.model._meta.verbose_name_plural))
            progress.step(names[section.name])
            columns = _columns(section, fmt, custom.get(section.record_type or "", []), users)
            written.rows[section.name] = _write_section(zf, section, columns, work, progress)
        progress.step(_("Files"))
        _write_files(zf, written, progress)
        manifest = {
            "format": "kontor-workspace-export",
            "version": 1,
            "workspace": {"name": tenant.name, "subdomain": tenant.subdomain, "uid": str(tenant.uid)},
            "export_id": str(export.pk),
            "made_at": timezone.now().isoformat(),
            "time_zone_of_csv_dates": str(tz),
            "sections": [
                {"name": n, "title": names[n], "csv": f"{n}.csv", "jsonl": f"{n}.jsonl", "rows": rows}
                for n, rows in written.rows.items()
            ],
            "files": {
                "folder": "files/",
                "count": written.files,
                "bytes": written.file_bytes,
                "missing_attachment_ids": written.missing_files,
            },
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        zf.writestr("README.txt", _readme(tenant, export, written, names))
    return written


# --- services ---------------------------------------------------------------------------------------------------


def may_export_all(user: User) -> bool:
    """May `user` have a full export? It holds everything, so the permission is not enough on its own: the role
    must also export every record of every kind with no field hidden, and see the audit log (a custom role given
    the permission must not read through an export what its own pages hide)."""
    Perm = policy.WorkspacePermission
    if not (policy.has_permission(user, Perm.MANAGE_BACKUPS) and policy.has_permission(user, Perm.VIEW_AUDIT_LOG)):
        return False
    return all(
        policy.scope_of(user, policy.Action.EXPORT, kind.key) == Scope.ALL and not policy.hidden_fields(user, kind.key)
        for kind in kinds.all_kinds()
    )


def _require_export_all(user: User) -> None:
    if not may_export_all(user):
        raise PermissionDenied


@transaction.atomic
def export_request(*, actor: User, tenant: Tenant) -> Export:
    """Ask for a full export of the workspace; the ZIP is built by a task queued after commit. One at a time."""
    _require_export_all(actor)
    # Two clicks at once must not both pass the check below: requests of one workspace queue on its row.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    if Export.objects.filter(tenant=tenant, status__in=ACTIVE).exists():
        raise ValidationError(_("An export is already being built. Wait until it is ready, then ask again."))
    now = timezone.now()
    export = Export.objects.create(
        tenant=tenant,
        requested_by_id=actor.pk,
        expires_at=now + datetime.timedelta(hours=settings.EXPORT_LINK_HOURS),
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        target_type="workspace_export",
        target_id=export.pk,
        target_label=_("Full export of the workspace"),
        details={"what": "workspace", "step": "requested"},
    )
    from infra.backups.export_tasks import export_build as task

    # The schema is taken now: the task reads this workspace's records and no other's.
    task.apply_async_on_commit(args=[str(export.pk)], headers={"_schema_name": current_schema()})
    return export


@transaction.atomic
def export_download(*, actor: User, export: Export) -> None:
    """Record that `actor` downloads the export (called once the file is open and about to be sent)."""
    _require_export_all(actor)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        target_type="workspace_export",
        target_id=export.pk,
        target_label=_("Full export of the workspace"),
        details={"what": "workspace", "step": "downloaded", "size": export.size},
    )


def exports_expire(*, now: datetime.datetime | None = None) -> int:
    """Delete the files of expired exports and mark them expired; fail exports that never finished; remove files
    no export row owns any more (a deleted workspace's, a crashed build's). Returns how many exports changed."""
    now = now or timezone.now()
    changed = 0
    for export in Export.objects.filter(status=Export.Status.DONE, expires_at__lte=now).select_related("tenant"):
        export_path(export).unlink(missing_ok=True)
        changed += Export.objects.filter(pk=export.pk, status=Export.Status.DONE).update(status=Export.Status.EXPIRED)
    stale = Export.objects.filter(status__in=ACTIVE, expires_at__lte=now)
    changed += stale.update(status=Export.Status.FAILED, error="did not finish in time", finished_at=now)
    changed += _sweep_orphans(now)
    return changed


def _sweep_orphans(now: datetime.datetime) -> int:
    root = Path(settings.EXPORT_DIR)
    if not root.is_dir():
        return 0
    live = {str(pk) for pk in Export.objects.filter(status=Export.Status.DONE).values_list("pk", flat=True)}
    removed = 0
    for path in root.glob("*/*"):
        if path.suffix == ".zip" and path.name.removesuffix(".zip") in live:
            continue
        # A build in progress has its files here before its row says done: only old strays are removed (a
        # deleted workspace's exports, what a crashed build left).
        try:
            if now.timestamp() - path.stat().st_mtime < ORPHAN_SECONDS or not path.is_file():
                continue
        except OSError:
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


# --- download links -------------------------------------------------------------------------------------------


def _signer(tenant: Tenant) -> signing.TimestampSigner:
    # The workspace is in the salt, so a link signed for one workspace's export is no link in another.
    return signing.TimestampSigner(salt=f"{_SIGNING_SALT}:{tenant.uid}")


def download_token(export: Export) -> str:
    """The part of a download link that proves it: a timestamp and a signature of the export's id (which is in
    the URL already, so it is left out of the token)."""
    value = str(export.pk)
    return _signer(export.tenant).sign(value)[len(value) + 1 :]


class LinkExpired(Exception):
    pass


def token_check(*, tenant: Tenant, export_pk: uuid.UUID, token: str) -> bool:
    """Is `token` a link to this export of this workspace? LinkExpired when it was, but is too old."""
    try:
        _signer(tenant).unsign(f"{export_pk}:{token}", max_age=datetime.timedelta(hours=settings.EXPORT_LINK_HOURS))
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature:
        return False
    return True


def download_name(export: Export) -> str:
    stamp = timezone.localtime(export.finished_at or export.created_at).date().isoformat()
    subdomain = re.sub(r"[^a-z0-9-]", "", export.tenant.subdomain.lower()) or "workspace"
    return f"{subdomain}-export-{stamp}.zip"
