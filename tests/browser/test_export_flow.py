"""An administrator exports all the workspace's data: the page shows the export waiting, keeps asking (htmx
polling) while a real Celery worker builds it, then offers the download, which is a ZIP of the workspace."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.fixups.django import DjangoFixup
from celery.signals import worker_process_init
from django.conf import settings
from django_tenants.utils import tenant_context

from infra.backups.models import Export
from platform_core.celery import app as celery_app
from tests.browser.conftest import log_in
from tests.factories import CompanyFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def export_dir(settings, tmp_path: Path) -> Path:
    settings.EXPORT_DIR = tmp_path / "exports"
    return settings.EXPORT_DIR


@pytest.fixture
def thread_worker():
    """A worker thread of this process (see tests/platform_core/test_tasks.py for why the fixup is held off)."""
    fixups = [f.worker_fixup for f in celery_app._fixups if isinstance(f, DjangoFixup)]
    for fixup in fixups:
        worker_process_init.disconnect(fixup.on_worker_process_init)
    redis.Redis.from_url(settings.REDIS_URL).delete(celery_app.conf.task_default_queue)

    def start():
        return start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10)

    yield start
    for fixup in fixups:
        worker_process_init.connect(fixup.on_worker_process_init)


def test_export_all_data_from_the_backups_page(page, ws, base: str, export_dir, thread_worker) -> None:
    with tenant_context(ws.tenant):
        CompanyFactory(name="Exported Company")
    log_in(page, base, ws.owner.email)
    page.get_by_role("link", name="Backups").click()
    page.wait_for_url(f"{base}/settings/backups/")
    page.get_by_text("No backup yet").wait_for()

    page.get_by_test_id("export-start").click()
    # Queued, nobody builds it yet: the bar is shown and the section keeps polling.
    page.get_by_test_id("export-progress").wait_for()
    assert page.get_by_test_id("export-section").get_attribute("hx-trigger") == "every 2s"
    assert Export.objects.get(tenant=ws.tenant).status == Export.Status.QUEUED

    with thread_worker():
        # The worker builds it; the polled section replaces itself with the download link and stops polling.
        page.get_by_test_id("export-download").wait_for(timeout=60_000)
    assert page.get_by_test_id("export-section").get_attribute("hx-trigger") is None
    assert page.get_by_test_id("export-progress").count() == 0
    export = Export.objects.get(tenant=ws.tenant)
    assert export.status == Export.Status.DONE and export.progress == 100

    with page.expect_download() as info:
        page.get_by_test_id("export-download").click()
    download = info.value
    assert download.suggested_filename.startswith(f"{ws.tenant.subdomain}-export-")
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as zf:
        assert "Exported Company" in zf.read("companies.csv").decode("utf-8-sig")
