"""Backups in the background: each workspace is backed up once a day at its own time of day and its latest backup
restored and checked once a week at its own time of the week, so a fleet's backups spread over the day instead
of all starting at midnight. Beat runs `schedule` every BACKUP_SCHEDULE_SECONDS; the tasks it queues re-check that
they are still due, so one queued twice does the work once."""

from __future__ import annotations

import datetime
import logging
import uuid

from celery import shared_task
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from infra.backups.models import Backup, Restore
from infra.backups.services import BackupError, backup_create, backup_verify, backups_prune
from tenants.models import Tenant

logger = logging.getLogger(__name__)

_DAY = 86_400
_WEEK = 7 * _DAY


def daily_slot(uid: uuid.UUID) -> datetime.timedelta:
    """The workspace's time of day for its backup, spread evenly over the day by its uid."""
    return datetime.timedelta(seconds=int(uid.hex[:8], 16) % _DAY)


def weekly_slot(uid: uuid.UUID) -> datetime.timedelta:
    """The workspace's time of the week (from Monday 00:00 UTC) for the verification of its latest backup."""
    return datetime.timedelta(seconds=int(uid.hex[8:16], 16) % _WEEK)


def last_daily_slot(uid: uuid.UUID, now: datetime.datetime) -> datetime.datetime:
    midnight = now.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    slot = midnight + daily_slot(uid)
    return slot if slot <= now else slot - datetime.timedelta(days=1)


def last_weekly_slot(uid: uuid.UUID, now: datetime.datetime) -> datetime.datetime:
    day = now.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = day - datetime.timedelta(days=day.weekday())
    slot = monday + weekly_slot(uid)
    return slot if slot <= now else slot - datetime.timedelta(days=7)


def backup_due(tenant: Tenant, now: datetime.datetime, last_started: datetime.datetime | None) -> bool:
    """No backup was started since the workspace's slot of the day last came (a failed one waits for the next)."""
    return last_started is None or last_started < last_daily_slot(tenant.uid, now)


def verification_due(tenant: Tenant, now: datetime.datetime, last_verified: datetime.datetime | None) -> bool:
    period = datetime.timedelta(days=settings.BACKUP_VERIFY_DAYS)
    if period == datetime.timedelta(days=7):
        return last_verified is None or last_verified < last_weekly_slot(tenant.uid, now)
    return last_verified is None or last_verified <= now - period


@shared_task(name="infra.backups.tasks.schedule", ignore_result=True)
def schedule() -> tuple[int, int]:
    """Queue the backups and verifications whose time has come. Two queries for the whole fleet."""
    now = timezone.now()
    started = dict(Backup.objects.values_list("tenant_id").annotate(Max("created_at")).order_by())
    verified = dict(
        Backup.objects.filter(verified_at__isnull=False)
        .values_list("tenant_id")
        .annotate(Max("verified_at"))
        .order_by()
    )
    backups = verifications = 0
    for tenant in Tenant.objects.filter(kind=Tenant.Kind.WORKSPACE).only("id", "uid"):
        if backup_due(tenant, now, started.get(tenant.pk)):
            backup_run.delay(tenant.pk)
            backups += 1
        elif tenant.pk in started and verification_due(tenant, now, verified.get(tenant.pk)):
            verify_run.delay(tenant.pk)
            verifications += 1
    return backups, verifications


@shared_task(name="infra.backups.tasks.backup_run", ignore_result=True)
def backup_run(tenant_id: int) -> str | None:
    tenant = Tenant.objects.filter(pk=tenant_id, kind=Tenant.Kind.WORKSPACE).first()
    if tenant is None:
        return None
    last = Backup.objects.filter(tenant=tenant).aggregate(last=Max("created_at"))["last"]
    if not backup_due(tenant, timezone.now(), last):
        return None
    try:
        return str(backup_create(tenant=tenant, trigger=Backup.Trigger.SCHEDULED).pk)
    except BackupError:
        return None  # logged and recorded on the backup's row


@shared_task(name="infra.backups.tasks.verify_run", ignore_result=True)
def verify_run(tenant_id: int) -> bool | None:
    """Restore the workspace's latest completed backup into scratch and check it."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return None
    last = Backup.objects.filter(tenant=tenant).aggregate(last=Max("verified_at"))["last"]
    if not verification_due(tenant, timezone.now(), last):
        return None
    latest = (
        Backup.objects.filter(tenant=tenant, status=Backup.Status.DONE, pruned=False).order_by("-created_at").first()
    )
    if latest is None:
        return None
    return backup_verify(backup=latest)


@shared_task(name="infra.backups.tasks.prune", ignore_result=True)
def prune() -> int:
    """The retention (BACKUP_KEEP_DAILY / WEEKLY / MONTHLY) over every workspace's backups, deleted ones' too."""
    removed = 0
    workspaces = Backup.objects.filter(status=Backup.Status.DONE, pruned=False).values_list("workspace_uid", flat=True)
    for uid in sorted(set(workspaces)):
        removed += backups_prune(workspace_uid=uid)
    history_forget(now=timezone.now())
    return removed


def history_forget(*, now: datetime.datetime) -> None:
    """The rows of removed and failed backups and of verifications are history: kept for a year past the monthly
    retention, so the fleet's tables do not grow by a row per workspace and day for ever."""
    horizon = now - datetime.timedelta(days=31 * settings.BACKUP_KEEP_MONTHLY + 365)
    Restore.objects.filter(mode=Restore.Mode.VERIFY, started_at__lt=horizon).delete()
    Backup.objects.filter(created_at__lt=horizon).exclude(status=Backup.Status.DONE, pruned=False).delete()
