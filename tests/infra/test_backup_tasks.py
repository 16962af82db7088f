"""When backups and verifications run, and what the retention keeps."""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from infra.backups.models import Backup
from infra.backups.services import backup_create, backups_prune
from infra.backups.storage import backup_storage
from infra.backups.tasks import backup_due, backup_run, daily_slot, last_daily_slot, schedule, verification_due
from tests.conftest import Workspace

UTC = datetime.UTC


@pytest.fixture
def places(tmp_path: Path) -> Iterator[Path]:
    with override_settings(BACKUP_DIR=tmp_path / "backups", MEDIA_ROOT=tmp_path / "media", BACKUP_S3_BUCKET=""):
        yield tmp_path


def test_the_fleets_backups_spread_over_the_day() -> None:
    hours = Counter(daily_slot(uuid.uuid4()).seconds // 3600 for _ in range(2400))
    assert set(hours) == set(range(24))
    assert min(hours.values()) > 40  # 100 per hour expected: no hour is left empty or crowded


def test_a_backup_is_due_once_per_day_after_its_slot() -> None:
    class Ws:
        uid = uuid.UUID("00002a30-0000-4000-8000-000000000000")  # slot 03:00:00 (0x2a30 = 10800 s)

    ws = Ws()
    now = datetime.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert last_daily_slot(ws.uid, now) == datetime.datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert backup_due(ws, now, None)  # type: ignore[arg-type]
    assert not backup_due(ws, now, datetime.datetime(2026, 11, 30, 3, 5, tzinfo=UTC))  # type: ignore[arg-type]
    later = datetime.datetime(2026, 12, 1, 3, 1, tzinfo=UTC)
    assert backup_due(ws, later, datetime.datetime(2026, 11, 30, 3, 5, tzinfo=UTC))  # type: ignore[arg-type]
    assert not verification_due(ws, later, later - datetime.timedelta(hours=1))  # type: ignore[arg-type]
    assert verification_due(ws, later, later - datetime.timedelta(days=8))  # type: ignore[arg-type]


@pytest.mark.django_db
def test_schedule_queues_the_workspaces_that_are_due(workspace: Workspace) -> None:
    backups, _verifications = schedule()
    assert backups >= 1  # the new workspace has never been backed up


def test_a_backup_task_queued_twice_backs_up_once(committed_db: Callable[..., Workspace], places: Path) -> None:
    ws = committed_db()
    assert backup_run(ws.tenant.pk) is not None
    assert backup_run(ws.tenant.pk) is None
    assert Backup.objects.filter(tenant=ws.tenant, status=Backup.Status.DONE).count() == 1
    assert backup_run(10**9) is None  # a workspace that is gone


def test_the_retention_removes_what_it_does_not_keep(committed_db: Callable[..., Workspace], places: Path) -> None:
    ws = committed_db()
    backups = [backup_create(tenant=ws.tenant) for _ in range(3)]
    now = timezone.now()
    # Three backups on the same day: only the newest is kept; the two others lose their files.
    for age, backup in zip((3, 2, 1), backups, strict=True):
        Backup.objects.filter(pk=backup.pk).update(created_at=now - datetime.timedelta(minutes=age))
    with override_settings(BACKUP_KEEP_DAILY=7, BACKUP_KEEP_WEEKLY=4, BACKUP_KEEP_MONTHLY=12):
        assert backups_prune(workspace_uid=ws.tenant.uid) == 2
    storage = backup_storage()
    for backup in backups[:2]:
        backup.refresh_from_db()
        assert backup.pruned and not storage.list(backup.storage_prefix + ".")
    assert storage.exists(backups[2].storage_prefix + ".dump")
    assert backups_prune(workspace_uid=ws.tenant.uid) == 0


@pytest.mark.django_db
def test_old_history_is_forgotten_but_kept_backups_stay(workspace: Workspace) -> None:
    from infra.backups.models import Restore
    from infra.backups.tasks import history_forget

    now = timezone.now()
    old = now - datetime.timedelta(days=3 * 365)

    def row(**fields: object) -> Backup:
        values = {"tenant": workspace.tenant, "schema_name": workspace.schema, "workspace_uid": workspace.tenant.uid}
        values.update({"created_at": old, **fields})
        return Backup.objects.create(**values)

    kept = row(status=Backup.Status.DONE)
    gone = [row(status=Backup.Status.DONE, pruned=True), row(status=Backup.Status.FAILED)]
    recent = row(status=Backup.Status.FAILED, created_at=now)
    verification = Restore.objects.create(backup=kept, tenant=workspace.tenant, mode=Restore.Mode.VERIFY)
    Restore.objects.filter(pk=verification.pk).update(started_at=old)
    history_forget(now=now)
    left = set(Backup.objects.filter(tenant=workspace.tenant).values_list("pk", flat=True))
    assert left == {kept.pk, recent.pk} and not {b.pk for b in gone} & left
    assert not Restore.objects.filter(pk=verification.pk).exists()
