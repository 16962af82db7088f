"""The full export of a workspace: asked for by an administrator, built by the task in the workspace's schema into
one ZIP (CSV + JSON Lines per kind, files, manifest), downloaded through a signed link bound to the export and
its workspace, which expires; every request and download audited."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import re
import stat
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.companies.services import company_create, company_update
from crm.customfields.services import custom_field_create
from crm.deals.models import DealLineItem
from crm.files.models import Attachment
from crm.files.services import attachment_create
from crm.history.models import ChangeRecord
from infra.backups import export_tasks, exports
from infra.backups.models import Export
from tenants.accounts.models import AuditEvent
from tenants.accounts.roles import SALES_HEAD, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import ContactFactory, DealFactory, LeadFactory, ProductFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
FILE_BYTES = b"%PDF-1.4 the signed contract \x00\x01\x02"


@pytest.fixture(autouse=True)
def dirs(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    settings.EXPORT_DIR = tmp_path / "exports"
    return tmp_path


def _seed(workspace) -> dict:
    """One record of every kind, custom field values, history, a file and the audit log."""
    with inside(workspace):
        owner = workspace.owner
        custom_field_create(
            actor=owner, record_type="company", label="Region code", field_type="text", key="region_code"
        )
        custom_field_create(actor=owner, record_type="deal", label="Budget", field_type="money", key="budget")
        company = company_create(actor=owner, data={"name": "Acme Export", "custom_fields": {"region_code": "=NW-7"}})
        company_update(actor=owner, company=company, data={"industry": "Mining"})
        contact = ContactFactory(first_name="Ivan", last_name="Petrov", company=company, owner=owner)
        deal = DealFactory(
            title="Big order",
            company=company,
            owner=owner,
            custom_fields={"budget": {"amount": "1500.00", "currency": "EUR"}},
        )
        deal.contacts.add(contact)
        product = ProductFactory(name="Widget")
        DealLineItem.objects.create(deal=deal, product=product, name="Widget", quantity=2, price=Decimal("10.00"))
        LeadFactory(title="Web request", owner=owner)
        Activity.objects.create(subject="Call Ivan", assignee=owner, created_by=owner, company=company)
        upload = SimpleUploadedFile("contract.pdf", FILE_BYTES, content_type="application/pdf")
        attachment = attachment_create(actor=owner, record=company, upload=upload)
        return {"company": company.pk, "deal": deal.pk, "attachment": attachment.pk, "contact": contact.pk}


def _request(client) -> Export:
    response = client.post(reverse("backups:export"))
    assert response.status_code == 302
    return Export.objects.get()


def _build(workspace, export: Export) -> Export:
    # The real task, run eagerly in the workspace's schema (as the worker does from the task's schema header).
    with tenant_context(workspace.tenant):
        export_tasks.export_build.apply(args=[str(export.pk)])
    export.refresh_from_db()
    return export


def _built_with_link(workspace, client, capture) -> tuple[Export, str]:
    """An export asked for by `client`, built, and its download link."""
    with capture(execute=False):
        export = _request(client)
    export = _build(workspace, export)
    return export, reverse("backups:export_download", args=[export.pk, exports.download_token(export)])


def _csv(zf: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = zf.read(name)
    assert raw.startswith(b"\xef\xbb\xbf"), f"{name} has no byte order mark"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def _jsonl(zf: zipfile.ZipFile, name: str) -> list[dict]:
    return [json.loads(line) for line in zf.read(name).decode().splitlines()]


def test_the_export_holds_every_kind_with_custom_fields_history_files_and_no_secrets(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    ids = _seed(workspace)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        export = _request(owner_client)
    assert export.status == Export.Status.QUEUED and export.tenant_id == workspace.tenant.pk
    assert callbacks, "the build is queued after commit"
    export = _build(workspace, export)
    assert export.status == Export.Status.DONE and export.progress == 100 and export.size > 0
    path = exports.export_path(export)
    assert path == Path(exports.export_dir(workspace.schema)) / f"{export.pk}.zip"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if p != path], "no temporary file is left beside the ZIP"

    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        rows = {s["name"]: s["rows"] for s in manifest["sections"]}
        with inside(workspace):
            expected = {s.name: s.queryset.count() for s in exports.sections()}
            users = list(workspace.owner.__class__.objects.values_list("email", flat=True))
            history = ChangeRecord.objects.count()
            audit = AuditEvent.objects.count()
        assert rows == expected
        first = ["users", "roles", "teams", "invitations", "audit_log", "companies", "contacts", "leads"]
        assert list(rows)[:8] == first
        for kind in (
            "users", "roles", "teams", "audit_log", "companies", "contacts", "leads", "deals", "activities",
            "products", "files", "pipelines", "stages", "deal_line_items", "custom_fields", "history",
        ):  # fmt: skip
            assert f"{kind}.csv" in names and f"{kind}.jsonl" in names, kind
        assert "README.txt" in names
        assert rows["companies"] == rows["contacts"] == rows["deals"] == rows["leads"] == 1
        assert rows["history"] == history >= 2 and rows["custom_fields"] == 2 and rows["files"] == 1
        # The audit log as it was when the build read it (the request's entry included).
        assert rows["audit_log"] == audit

        companies = _csv(zf, "companies.csv")
        assert companies[0]["Name"] == "Acme Export" and companies[0]["Industry"] == "Mining"
        # The id and the company's own fields first; what every record shares after; custom fields last.
        assert list(companies[0])[:2] == ["ID", "Name"] and list(companies[0])[-1] == "Region code"
        # A custom field is a column named by its label; a value that looks like a formula is quoted.
        assert companies[0]["Region code"] == "'=NW-7"
        assert _jsonl(zf, "companies.jsonl")[0]["custom_fields"] == {"region_code": "=NW-7"}
        deals = _csv(zf, "deals.csv")
        assert deals[0]["Budget"] == "1500.00 EUR"
        assert deals[0]["Company (id)"] == str(ids["company"]) and deals[0]["Company"] == "Acme Export"
        assert deals[0]["Contacts (id)"] == str(ids["contact"])
        assert _jsonl(zf, "deals.jsonl")[0]["m2m_contacts"] == [ids["contact"]]
        contacts = _csv(zf, "contacts.csv")
        assert contacts[0]["Company"] == "Acme Export"
        assert {r["record_id"] for r in _jsonl(zf, "history.jsonl")} >= {ids["company"]}

        files = _csv(zf, "files.csv")
        member = files[0]["File in this export"]
        assert member.startswith(f"files/{ids['attachment']}-") and member.endswith("contract.pdf")
        assert zf.read(member) == FILE_BYTES
        assert manifest["files"]["count"] == 1 and manifest["files"]["missing_attachment_ids"] == []

        exported_users = _csv(zf, "users.csv")
        assert sorted(u["Email address"] for u in exported_users) == sorted(users)
        assert not [h for h in exported_users[0] if "password" in h.lower() or "hash" in h.lower()]
        everything = b"".join(zf.read(n) for n in names if not n.startswith("files/"))
        with inside(workspace):
            hashed = workspace.owner.__class__.objects.get(pk=workspace.owner.pk).password
        assert hashed.encode() not in everything


def test_request_and_download_are_audited_and_the_file_is_named_after_the_workspace(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    export = _build(workspace, export)
    page = owner_client.get(reverse("backups:page")).content.decode()
    links = re.findall(r'href="(/settings/backups/export/[^"]+/download/[^"]+/)"', page)
    assert links and links[0].startswith(f"/settings/backups/export/{export.pk}/download/")
    response = owner_client.get(links[0])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == exports.export_path(export).read_bytes()
    stamp = timezone.localdate().isoformat()
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"{workspace.tenant.subdomain}-export-" in disposition
    assert stamp[:4] in disposition
    with inside(workspace):
        events = list(AuditEvent.objects.filter(target_type="workspace_export").order_by("id"))
    assert [e.details["step"] for e in events] == ["requested", "downloaded"]
    assert all(e.actor_id == workspace.owner.pk and e.target_id == str(export.pk) for e in events)


def test_a_second_export_is_refused_while_one_is_being_built(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        _request(owner_client)
        response = owner_client.post(reverse("backups:export"), follow=True)
    assert "already being built" in response.content.decode()
    assert Export.objects.count() == 1
    with inside(workspace):
        assert AuditEvent.objects.filter(target_type="workspace_export").count() == 1


def test_the_page_polls_while_building_and_stops_when_done(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING, progress=42, step="Deals")
    fragment = owner_client.get(reverse("backups:export_status")).content.decode()
    assert 'hx-trigger="every 2s"' in fragment and 'value="42"' in fragment and "Deals" in fragment
    assert "export-start" not in fragment  # no second button while one runs
    export = _build(workspace, export)
    fragment = owner_client.get(reverse("backups:export_status")).content.decode()
    assert "hx-trigger" not in fragment and "export-download" in fragment and "export-start" in fragment


def test_a_failed_build_leaves_no_file_and_says_so(
    workspace, owner_client, django_capture_on_commit_callbacks, dirs
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    # The storage of exports cannot be written (a file where the workspace's folder should be).
    (dirs / "exports").mkdir()
    (dirs / "exports" / workspace.schema).write_text("not a folder")
    export = _build(workspace, export)
    assert export.status == Export.Status.FAILED and export.error
    assert not list((dirs / "exports").glob("**/*.zip"))
    (dirs / "exports" / workspace.schema).unlink()

    # Failing half-way, once the records are written and the files are being copied: an attachment whose
    # stored name points outside the workspace's folder is refused by the storage.
    with inside(workspace):
        Attachment.objects.create(name="passwd", file="../../../etc/passwd", size=1)
    Export.objects.filter(pk=export.pk).update(status=Export.Status.QUEUED, error="")
    export = _build(workspace, export)
    assert export.status == Export.Status.FAILED and "Suspicious" in export.error
    assert list((dirs / "exports" / workspace.schema).iterdir()) == [], "the partial ZIP is removed"
    page = owner_client.get(reverse("backups:page")).content.decode()
    assert 'data-status="failed"' in page and "export-start" in page


def test_a_missing_upload_is_listed_not_fatal(workspace, owner_client, django_capture_on_commit_callbacks) -> None:
    with inside(workspace):
        Attachment.objects.create(name="gone.txt", file="attachments/gone.txt", size=3)
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    export = _build(workspace, export)
    assert export.status == Export.Status.DONE
    with zipfile.ZipFile(exports.export_path(export)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert len(manifest["files"]["missing_attachment_ids"]) == 1


def test_the_task_is_idempotent_and_refuses_another_schema(
    workspace, other_workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    # Queued from the wrong schema: nothing of the other workspace is read, the export fails.
    with tenant_context(other_workspace.tenant):
        export_tasks.export_build.apply(args=[str(export.pk)])
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert not Path(exports.export_dir(other_workspace.schema)).exists()
    Export.objects.filter(pk=export.pk).update(status=Export.Status.QUEUED, error="")
    export = _build(workspace, export)
    assert export.status == Export.Status.DONE
    first = exports.export_path(export).stat().st_mtime_ns
    export = _build(workspace, export)  # delivered twice: the finished export is left alone
    assert export.status == Export.Status.DONE and exports.export_path(export).stat().st_mtime_ns == first
    for odd in ("not-a-uuid", "\x00", ""):
        assert export_tasks.export_build.apply(args=[odd]).get() == "skipped"


# --- who may do what ------------------------------------------------------------------------------------------


def _member_client(workspace, role_key: str = SALES_HEAD):
    with inside(workspace):
        user_create(email="head@example.com", password=PASSWORD, full_name="Head", role=builtin_role(role_key))
        from tenants.accounts.models import User

        user = User.objects.get(email="head@example.com")
    return workspace.client(logged_in_as=user)


def test_a_member_without_the_permission_can_do_nothing(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    _export, url = _built_with_link(workspace, owner_client, django_capture_on_commit_callbacks)
    member = _member_client(workspace)
    with inside(workspace):
        before = AuditEvent.objects.filter(target_type="workspace_export").count()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for method, target in (
            ("get", reverse("backups:page")),
            ("get", reverse("backups:export_status")),
            ("post", reverse("backups:export")),
            ("get", url),
        ):
            assert getattr(member, method)(target).status_code == 403, target
    assert not callbacks
    assert Export.objects.count() == 1
    with inside(workspace):
        assert AuditEvent.objects.filter(target_type="workspace_export").count() == before
    nav = member.get("/").content.decode()
    assert reverse("backups:page") not in nav
    assert reverse("backups:page") in owner_client.get("/").content.decode()


def test_another_workspaces_admin_cannot_download_even_with_the_link(
    workspace, other_workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    export = _build(workspace, export)
    token = exports.download_token(export)
    other = other_workspace.client(logged_in_as=other_workspace.owner)
    url = reverse("backups:export_download", args=[export.pk, token])
    response = other.get(url)
    assert response.status_code == 404
    # Nor with a link its own workspace signed for this export's id.
    forged = exports._signer(other_workspace.tenant).sign(str(export.pk)).split(":", 1)[1]
    assert other.get(reverse("backups:export_download", args=[export.pk, forged])).status_code == 404
    assert str(export.pk) not in other.get(reverse("backups:page")).content.decode()
    with inside(other_workspace):
        assert not AuditEvent.objects.filter(target_type="workspace_export").exists()


@pytest.mark.parametrize(
    "export_id, token",
    [
        ("not-a-uuid", "x"),
        ("00000000-0000-0000-0000-000000000000", "x"),
        ("%00", "x"),
        ("{pk}", "tampered"),
        ("{pk}", "{token}x"),
        ("{other}", "{token}"),
    ],
)
def test_odd_links_are_404(workspace, owner_client, django_capture_on_commit_callbacks, export_id, token) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    export = _build(workspace, export)
    good = exports.download_token(export)
    export_id = export_id.format(pk=export.pk, other="11111111-1111-1111-1111-111111111111")
    token = token.format(token=good)
    response = owner_client.get(f"/settings/backups/export/{export_id}/download/{token}/")
    assert response.status_code == 404
    with inside(workspace):
        assert not AuditEvent.objects.filter(details__step="downloaded").exists()


def test_an_expired_link_is_refused_and_the_cleanup_removes_the_file(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    export, url = _built_with_link(workspace, owner_client, django_capture_on_commit_callbacks)
    path = exports.export_path(export)
    assert owner_client.get(url).status_code == 200
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    response = owner_client.get(url)
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert path.exists()
    assert export_tasks.exports_expire.apply().get() >= 1
    export.refresh_from_db()
    assert export.status == Export.Status.EXPIRED and not path.exists()
    assert owner_client.get(url).status_code == 410
    assert "export-download" not in owner_client.get(reverse("backups:page")).content.decode()
    with inside(workspace):
        assert AuditEvent.objects.filter(details__step="downloaded").count() == 1


def test_a_link_older_than_its_lifetime_is_refused(
    workspace, owner_client, django_capture_on_commit_callbacks, settings
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    export = _build(workspace, export)
    token = exports.download_token(export)
    settings.EXPORT_LINK_HOURS = 0  # the signature is now older than a link may be
    response = owner_client.get(reverse("backups:export_download", args=[export.pk, token]))
    assert response.status_code == 410


def test_cleanup_removes_old_files_no_export_owns(dirs) -> None:
    stray = dirs / "exports" / "gone_schema"
    stray.mkdir(parents=True)
    old, fresh = stray / "3f0c1d2e-0000-0000-0000-000000000000.zip", stray / ".abc.part"
    old.write_bytes(b"PK")
    fresh.write_bytes(b"PK")  # a build in progress
    day_ago = timezone.now().timestamp() - exports.ORPHAN_SECONDS - 60
    os.utime(old, (day_ago, day_ago))
    exports.exports_expire()
    assert list(stray.iterdir()) == [fresh]


def test_every_registered_kind_is_exported_and_progress_is_not_written_per_row(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.companies.models import Company
    from tenants.accounts import kinds

    assert {k.model for k in kinds.all_kinds()} <= {s.model for s in exports.sections()}
    with inside(workspace):
        Company.objects.bulk_create([Company(name=f"Bulk {i}") for i in range(500)])
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    with CaptureQueriesContext(connection) as queries:
        export = _build(workspace, export)
    assert export.status == Export.Status.DONE and export.progress == 100
    writes = [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "backups_export"')]
    # A write per section at most (and one a second), not one per row.
    assert len(writes) < len(exports.sections()) + 10


def test_a_seeded_workspace_exports_every_row(workspace, owner_client, django_capture_on_commit_callbacks) -> None:
    from crm.seed import SeedSize, seed_workspace

    with inside(workspace):
        report = seed_workspace(size=SeedSize.for_companies(120), owner_ids=[workspace.owner.pk], seed=3)
    with django_capture_on_commit_callbacks(execute=False):
        export = _request(owner_client)
    export = _build(workspace, export)
    assert export.status == Export.Status.DONE
    with zipfile.ZipFile(exports.export_path(export)) as zf:
        rows = {s["name"]: s["rows"] for s in json.loads(zf.read("manifest.json"))["sections"]}
        for name in ("companies", "contacts", "deals", "activities", "leads"):
            assert len(_csv(zf, f"{name}.csv")) == rows[name]
            assert len(_jsonl(zf, f"{name}.jsonl")) == rows[name]
    for name in ("companies", "contacts", "deals", "leads", "activities"):
        assert rows[name] == report.rows[name], name


def test_a_role_with_the_permission_but_hidden_fields_gets_no_export(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    """The permission alone does not open a full export: a custom role that hides deal amounts would read them
    in it. The page says why; the request and the download are refused and leave nothing."""
    from tenants.accounts.models import Role
    from tenants.accounts.roles import ADMIN, builtin_definitions

    export, url = _built_with_link(workspace, owner_client, django_capture_on_commit_callbacks)
    admin = builtin_definitions()[ADMIN]
    with inside(workspace):
        role = Role.objects.create(
            name="Backup keeper",
            grants=admin["grants"],
            permissions=["manage_backups", "view_audit_log"],
            hidden_fields={"deal": ["amount"]},
        )
        keeper = user_create(email="keeper@example.com", password=PASSWORD, role=role)
        before = AuditEvent.objects.filter(target_type="workspace_export").count()
    client = workspace.client(logged_in_as=keeper)
    page = client.get(reverse("backups:page"))
    assert page.status_code == 200 and 'data-testid="export-not-allowed"' in page.content.decode()
    assert "export-start" not in page.content.decode() and str(export.pk) not in page.content.decode()
    assert client.get(url).status_code == 403
    Export.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(reverse("backups:export")).status_code == 403
    assert not callbacks and not Export.objects.exists()
    with inside(workspace):
        assert AuditEvent.objects.filter(target_type="workspace_export").count() == before
        role.hidden_fields = {}
        role.save()
    assert 'data-testid="export-start"' in client.get(reverse("backups:page")).content.decode()
