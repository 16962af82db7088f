"""A 500, on a page or in the API, is logged with its traceback and the workspace; the API's is answered in JSON.

The failure is a real one: the table the request reads is renamed away inside the test's transaction (rolled
back afterwards), so the database raises while the request runs, as it would for a broken schema.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection
from django.urls import reverse

from platform_core.errors import TenantLogFilter

pytestmark = pytest.mark.django_db


def _table_gone(schema: str, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{schema}"."{table}" RENAME TO "{table}_gone"')


def _console_handler() -> logging.Handler:
    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, TenantLogFilter) for f in h.filters)]
    assert handlers, "settings.LOGGING's console handler carries the tenant filter"
    return handlers[0]


def _server_error_record(caplog: pytest.LogCaptureFixture, path: str) -> logging.LogRecord:
    errors = [r for r in caplog.records if r.name == "django.request" and r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in caplog.records]
    record = errors[0]
    assert path in record.getMessage()
    assert record.exc_info is not None
    return record


def _assert_logged_with_tenant(record: logging.LogRecord, *, schema: str, host: str) -> None:
    # Recorded while the request ran: the connection is back on public now.
    connection.set_schema_to_public()
    assert record.tenant == schema  # type: ignore[attr-defined]
    line = _console_handler().format(record)
    assert f"tenant={schema} host={host}" in line.splitlines()[0]
    assert "Traceback (most recent call last)" in line
    assert "UndefinedTable" in line


def test_a_page_500_is_logged_with_its_traceback_and_workspace(workspace, caplog) -> None:
    client = workspace.client(logged_in_as=workspace.owner)
    client.raise_request_exception = False
    _table_gone(workspace.schema, "companies_company")
    path = reverse("companies:list", urlconf="platform_core.urls_tenant")
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get(path)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    _assert_logged_with_tenant(_server_error_record(caplog, path), schema=workspace.schema, host=workspace.domain)


def test_an_api_500_is_logged_with_its_traceback_and_workspace_and_answered_in_json(workspace, caplog) -> None:
    client = workspace.client(logged_in_as=workspace.owner)
    client.raise_request_exception = False
    _table_gone(workspace.schema, "contacts_contact")
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/api/v1/contacts/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert set(json.loads(response.content)) == {"detail"}
    _assert_logged_with_tenant(
        _server_error_record(caplog, "/api/v1/contacts/"), schema=workspace.schema, host=workspace.domain
    )


def test_the_filter_never_refuses_a_record_and_says_so_outside_a_request() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert TenantLogFilter().filter(record) is True
    assert record.tenant == "public"  # type: ignore[attr-defined]
    assert record.host == "-"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_task_s_log_lines_name_its_workspace_too(workspace) -> None:
    """The Celery worker keeps the project's logging (it does not hijack the root logger), so a failing task's
    traceback, logged by celery.app.trace, says which workspace it ran in."""
    from django_tenants.utils import tenant_context

    from platform_core.celery import app

    assert app.conf.worker_hijack_root_logger is False
    (handler,) = [h for h in logging.getLogger().handlers if any(isinstance(f, TenantLogFilter) for f in h.filters)]
    with tenant_context(workspace.tenant):
        record = logging.getLogger("celery.app.trace").makeRecord(
            "celery.app.trace", logging.ERROR, __file__, 1, "Task failed", None, None
        )
        assert handler.filter(record)
    assert f"[tenant={workspace.schema} host=-] Task failed" in handler.format(record)
