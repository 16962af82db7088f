"""Reads for the Backups page: only ever the rows of the workspace being served."""

from __future__ import annotations

import uuid

from django.http import Http404
from django.utils import timezone

from infra.backups import exports
from infra.backups.models import Backup, Export
from tenants.models import Tenant

PAGE_BACKUPS = 30
PAGE_EXPORTS = 5


def backups_of(tenant: Tenant, *, limit: int = PAGE_BACKUPS) -> list[Backup]:
    """The workspace's latest backups, newest first."""
    return list(Backup.objects.filter(tenant=tenant).order_by("-created_at")[:limit])


def exports_of(tenant: Tenant, *, limit: int = PAGE_EXPORTS) -> list[Export]:
    return list(Export.objects.filter(tenant=tenant).select_related("tenant").order_by("-created_at")[:limit])


def export_active(tenant: Tenant) -> Export | None:
    return Export.objects.filter(tenant=tenant, status__in=exports.ACTIVE).order_by("-created_at").first()


class ExportGone(Exception):
    """The link was good but the export is no longer there (expired, or its file removed)."""


def export_for_download(*, tenant: Tenant, export_id: str, token: str) -> Export:
    """The export a download link names, if the link is this workspace's and still valid: Http404 for an odd,
    unknown, foreign or tampered link, ExportGone for one that has expired."""
    try:
        pk = uuid.UUID(export_id)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Http404 from exc
    if "\x00" in token or len(token) > 500:
        raise Http404
    try:
        if not exports.token_check(tenant=tenant, export_pk=pk, token=token):
            raise Http404
    except exports.LinkExpired as exc:
        raise ExportGone from exc
    export = Export.objects.filter(pk=pk, tenant=tenant).select_related("tenant").first()
    if export is None:
        raise Http404
    expired = export.expires_at is not None and export.expires_at <= timezone.now()
    if export.status == Export.Status.EXPIRED or expired:
        raise ExportGone
    if export.status != Export.Status.DONE:
        raise Http404
    if not exports.export_path(export).is_file():
        raise ExportGone
    return export
