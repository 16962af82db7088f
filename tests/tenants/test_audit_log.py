"""The audit log page: filters, paging, the CSV export (itself audited) and the log's append-only table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _in(workspace, fn: Callable[[], Any]) -> Any:
    with tenant_context(workspace.tenant):
        return fn()


def _count(workspace) -> int:
    return _in(workspace, lambda: AuditEvent.objects.count())


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def events(workspace) -> None:
    def make() -> None:
        owner = workspace.owner
        audit_record(
            actor=owner,
            action=AuditEvent.Action.TEAM_CREATED,
            target_type="team",
            target_id=1,
            target_label="Northern branch",
        )
        audit_record(
            actor=owner,
            action=AuditEvent.Action.ROLE_CREATED,
            target_type="role",
            target_id=7,
            target_label="=HYPERLINK(1)",
            details={"after": {"name": "x"}},
        )
        old = audit_record(actor=None, action=AuditEvent.Action.LOGIN_FAILED, actor_label="intruder@example.com")
        # An entry from last year, written as such (the log is never updated afterwards).
        AuditEvent.objects.create(
            at=timezone.now() - timezone.timedelta(days=400),
            action=AuditEvent.Action.EXPORT,
            actor_label="old@example.com",
        )
        assert old.pk

    _in(workspace, make)


def test_list_filters_and_pages(workspace, owner_client, events) -> None:
    response = owner_client.get("/settings/audit/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Northern branch" in content and "intruder@example.com" in content
    assert content.index("intruder@example.com") < content.index("Northern branch")  # newest first

    content = owner_client.get("/settings/audit/", {"action": "team_created"}).content.decode()
    assert "Northern branch" in content and "intruder@example.com" not in content
    content = owner_client.get("/settings/audit/", {"q": "northern"}).content.decode()
    assert "Northern branch" in content and "HYPERLINK" not in content
    content = owner_client.get("/settings/audit/", {"actor": workspace.owner.pk}).content.decode()
    assert "intruder@example.com" not in content and "Northern branch" in content
    today = timezone.localdate().isoformat()
    content = owner_client.get("/settings/audit/", {"date_from": today}).content.decode()
    assert "old@example.com" not in content and "Northern branch" in content
    last_year = (timezone.localdate() - timezone.timedelta(days=400)).isoformat()
    content = owner_client.get("/settings/audit/", {"date_to": last_year}).content.decode()
    assert "old@example.com" in content and "Northern branch" not in content

    # Paging: limit + 1 rows read, an "older" link that continues exactly where the page ended.
    _in(
        workspace,
        lambda: [
            audit_record(actor=None, action=AuditEvent.Action.LOGIN_FAILED, actor_label=f"n{i}@x.test")
            for i in range(60)
        ],
    )
    first = owner_client.get("/settings/audit/", {"action": "login_failed"})
    rows = first.context["page"].events
    assert len(rows) == 50 and first.context["page"].next_before == rows[-1].pk
    second = owner_client.get("/settings/audit/", {"action": "login_failed", "before": rows[-1].pk})
    rest = second.context["page"].events
    assert len(rest) == 11 and second.context["page"].next_before is None
    assert not {e.pk for e in rows} & {e.pk for e in rest}


def test_csv_export_of_the_filtered_rows_is_audited(workspace, owner_client, events) -> None:
    response = owner_client.get("/settings/audit/export.csv", {"action": "role_created"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["action"] == "role_created" and row["actor"] == workspace.owner.email
    assert row["target type"] == "role" and row["target id"] == "7"
    # A label that looks like a formula is neutralised for spreadsheets.
    assert row["target"] == "'=HYPERLINK(1)"
    assert json.loads(row["details"]) == {"after": {"name": "x"}}
    assert set(row) == {
        "time",
        "actor",
        "action",
        "target type",
        "target id",
        "target",
        "IP address",
        "user agent",
        "details",
    }
    export = _in(workspace, lambda: AuditEvent.objects.filter(action="export", actor=workspace.owner).get())
    assert export.details["what"] == "audit_log" and export.details["rows"] == 1
    assert export.details["filters"]["action"] == "role_created"
    assert export.ip == "127.0.0.1"

    # Unfiltered: every entry so far, the export's own entry excluded from the file it describes.
    total = _count(workspace)
    rows = _csv(owner_client.get("/settings/audit/export.csv"))
    assert len(rows) == total


def test_refused_without_permission_and_across_workspaces(workspace, other_workspace, events) -> None:
    manager = _in(workspace, lambda: user_create(email="m@example.com", password=PASSWORD))
    client = workspace.client(logged_in_as=manager)
    before = _count(workspace)
    assert client.get("/settings/audit/").status_code == 403
    assert client.get("/settings/audit/export.csv").status_code == 403
    assert _count(workspace) == before

    stranger = other_workspace.client(logged_in_as=other_workspace.owner)
    assert b"Northern branch" not in stranger.get("/settings/audit/").content
    body = b"".join(stranger.get("/settings/audit/export.csv").streaming_content)
    assert b"Northern branch" not in body and b"intruder" not in body
    assert _count(workspace) == before


def test_audit_log_is_append_only_at_the_database(workspace, events) -> None:
    def tamper(sql: str) -> None:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)

    def check() -> None:
        before = list(AuditEvent.objects.values_list("id", "action", "target_label"))
        tamper("UPDATE accounts_auditevent SET target_label = 'rewritten'")
        tamper("DELETE FROM accounts_auditevent")
        assert list(AuditEvent.objects.values_list("id", "action", "target_label")) == before

    _in(workspace, check)


def test_api_keys_are_audited(workspace, owner_client) -> None:
    owner_client.post("/profile/api-keys/", {"name": "script"})
    key_id = _in(workspace, lambda: workspace.owner.api_keys.get().pk)
    owner_client.post(f"/profile/api-keys/{key_id}/revoke/")
    owner_client.post(f"/profile/api-keys/{key_id}/revoke/")  # twice: one entry
    actions = _in(
        workspace,
        lambda: list(AuditEvent.objects.filter(action__startswith="api_key").values_list("action", "target_id")),
    )
    assert sorted(actions) == [("api_key_created", str(key_id)), ("api_key_revoked", str(key_id))]
