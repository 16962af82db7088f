"""Tasks of the full export: the build (queued by exports.export_request, runs in the workspace's schema) and the
cleanup of expired export files (on the beat, in the public schema)."""

from __future__ import annotations

from celery import shared_task

from infra.backups import exports


@shared_task(name="infra.backups.export_tasks.export_build", ignore_result=True, acks_late=True)
def export_build(export_id: str) -> str:
    """Build the ZIP of export `export_id` (takes the id, re-reads the row; a finished export is left alone)."""
    export = exports.export_build(export_id=export_id)
    return export.status if export is not None else "skipped"


@shared_task(name="infra.backups.export_tasks.exports_expire", ignore_result=True)
def exports_expire() -> int:
    """Delete expired export files and mark their exports expired."""
    return exports.exports_expire()
