"""A workspace's billing states as time passes, without Stripe: the trial opened at signup, its end, a grace
running out, a cancelled workspace kept then deleted (and what stays of it), the mails each step sends once,
and the seat ledger that no one can rewrite."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation

from billing import mails, services
from billing.models import Account, SeatEntry, State
from crm.companies.models import Company
from infra.backups.models import Export
from tenants.accounts.roles import ADMIN, builtin_role
from tenants.models import Domain, Tenant
from tests.billing.stripe_support import account_of
from tests.conftest import Workspace
from tests.factories import CompanyFactory, UserFactory
from tests.web.records_support import inside

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("billing_without_stripe")]
DAY = datetime.timedelta(days=1)


def _tenant(workspace: Workspace) -> Tenant:
    return Tenant.objects.get(pk=workspace.tenant.pk)


def _cancelled(workspace: Workspace, *, delete_after: datetime.datetime) -> Account:
    """A cancelled account, as Stripe's cancellation leaves it, projected onto its workspace."""
    account = account_of(workspace)
    now = timezone.now()
    Account.objects.filter(pk=account.pk).update(
        state=State.CANCELLED, state_changed_at=now, cancelled_at=now, delete_after=delete_after
    )
    account.refresh_from_db()
    services._project(account)
    return account


def test_a_new_workspace_starts_a_fourteen_day_trial_with_its_owner_as_one_seat(workspace) -> None:
    before = timezone.now()
    account = account_of(workspace)
    assert account.tenant_id == workspace.tenant.pk
    assert account.state == State.TRIAL
    # Fourteen days from the signup (which the fixture made just before `before`).
    assert datetime.timedelta(0) <= before + DAY * 14 - account.trial_ends_at < datetime.timedelta(minutes=5)
    assert account.state_changed_at == account.trial_ends_at - DAY * 14
    [opened] = SeatEntry.objects.filter(account=account)
    assert (opened.reason, opened.source, opened.seats, opened.delta) == (SeatEntry.Reason.OPENED, "opened", 1, 1)
    tenant = _tenant(workspace)
    assert (tenant.read_only, tenant.billing_state, tenant.billing_until) == (False, "trial", account.trial_ends_at)
    # Asked again, the same account (never a second one).
    assert services.account_for(tenant) == account
    assert Account.objects.filter(workspace_uid=workspace.tenant.uid).count() == 1


def test_a_trial_that_ends_unpaid_makes_the_workspace_read_only_and_requests_see_it_at_once(
    workspace, owner_client, django_capture_on_commit_callbacks
) -> None:
    # A page first, so the routing cache holds the workspace as it was.
    assert 'data-testid="billing-notice"' not in owner_client.get("/").content.decode()
    account = account_of(workspace)
    # Three days ahead its administrators are told.
    assert services.states_advance(now=account.trial_ends_at - DAY * 3)["trials_ended"] == 0
    assert services.states_advance(now=account.trial_ends_at - datetime.timedelta(seconds=1))["trials_ended"] == 0
    assert not _tenant(workspace).read_only
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        done = services.states_advance(now=account.trial_ends_at + datetime.timedelta(seconds=1))
    assert done == {"trials_ended": 1, "grace_ended": 0, "deleted": 0}
    account.refresh_from_db()
    assert account.state == State.READ_ONLY
    tenant = _tenant(workspace)
    assert tenant.read_only and tenant.billing_state == "read_only"
    # The transition is mailed to the billing administrators (the owner), once.
    assert [m.to for m in mail.outbox] == [[workspace.owner.email]]
    assert workspace.tenant.name in mail.outbox[0].subject

    page = owner_client.get("/").content.decode()
    assert 'data-testid="billing-notice"' in page and 'data-state="read_only"' in page

    # Time goes on: nothing more happens, nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.states_advance(now=account.trial_ends_at + DAY * 3) == {
            "trials_ended": 0,
            "grace_ended": 0,
            "deleted": 0,
        }
    assert len(mail.outbox) == 1


def test_a_past_due_workspace_becomes_read_only_when_its_grace_runs_out(
    workspace, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    account = account_of(workspace)
    Account.objects.filter(pk=account.pk).update(
        state=State.PAST_DUE, state_changed_at=now, grace_ends_at=now + DAY * 7, trial_ends_at=now - DAY
    )
    account.refresh_from_db()
    services._project(account)
    tenant = _tenant(workspace)
    assert (tenant.read_only, tenant.billing_state, tenant.billing_until) == (False, "past_due", now + DAY * 7)

    assert services.states_advance(now=now + DAY * 6)["grace_ended"] == 0
    assert not _tenant(workspace).read_only
    with django_capture_on_commit_callbacks(execute=True):
        assert services.states_advance(now=now + DAY * 7 + datetime.timedelta(seconds=1))["grace_ended"] == 1
    account.refresh_from_db()
    assert account.state == State.READ_ONLY
    assert _tenant(workspace).read_only
    assert [m.to for m in mail.outbox] == [[workspace.owner.email]]


def test_a_cancelled_workspace_is_kept_until_its_date_then_deleted_with_a_report(
    workspace, other_workspace, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / workspace.schema / "files").mkdir(parents=True)
    (tmp_path / workspace.schema / "files" / "contract.pdf").write_bytes(b"%PDF-1.4 kept until the end")
    (tmp_path / other_workspace.schema).mkdir()
    (tmp_path / other_workspace.schema / "theirs.txt").write_bytes(b"not ours")
    now = timezone.now()
    account = _cancelled(workspace, delete_after=now + DAY * 30)
    schema, domain = workspace.schema, workspace.domain
    tenant = _tenant(workspace)
    assert tenant.read_only and tenant.billing_state == "cancelled"
    with inside(workspace):
        CompanyFactory(name="Kept until the end")
    # The final export was asked for: its row goes with the workspace, it does not hold the deletion back.
    Export.objects.create(
        tenant=workspace.tenant, requested_by_id=workspace.owner.pk, expires_at=now + DAY, status=Export.Status.DONE
    )
    ledger_before = list(SeatEntry.objects.filter(account=account).values_list("pk", "seats", "delta"))

    # Before its date: nothing is deleted.
    assert services.states_advance(now=now + DAY * 29)["deleted"] == 0
    assert Tenant.objects.filter(pk=workspace.tenant.pk).exists()
    assert _schema_exists(schema)
    with inside(workspace):
        assert Company.objects.filter(name="Kept until the end").exists()

    assert services.states_advance(now=now + DAY * 30 + datetime.timedelta(seconds=1))["deleted"] == 1
    assert not Tenant.objects.filter(pk=workspace.tenant.pk).exists()
    assert not Domain.objects.filter(domain=domain).exists()
    assert not _schema_exists(schema)
    account.refresh_from_db()
    assert account.state == State.DELETED and account.tenant_id is None and account.deleted_at is not None
    report = account.deletion_report
    assert report["schema"] == schema and report["domains"] == [domain]
    assert report["tables"] > 0 and "companies_company" in report["per_table"]
    assert report["people"] == 1
    assert report["uploads"] == {"files": 1, "bytes": len(b"%PDF-1.4 kept until the end")}
    assert not (tmp_path / workspace.schema).exists()
    assert (tmp_path / other_workspace.schema / "theirs.txt").exists()
    # The ledger is an accounting record: it outlives the workspace, untouched.
    assert list(SeatEntry.objects.filter(account=account).values_list("pk", "seats", "delta")) == ledger_before
    # The other workspace (whose trial ended meanwhile: its administrators were told, three days' notice) is
    # still there.
    assert _tenant(other_workspace).billing_state == "trial" and _schema_exists(other_workspace.schema)

    # Deleted is final: time passing, the trial's or the grace's dates, change nothing.
    for later in (DAY * 60, DAY * 400):
        assert services.states_advance(now=now + later)["deleted"] == 0
        assert not services.account_delete(account_id=account.pk, now=now + later)
    account.refresh_from_db()
    assert account.state == State.DELETED and account.deletion_report == report


def _schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        return cursor.fetchone() is not None


def test_the_trial_reminder_is_sent_once_three_days_before_in_each_persons_language(
    workspace, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    # The texts may not be translated yet: the language each mail was written in is seen as it is rendered.
    languages: dict[str, str] = {}
    render = mails.render_to_string

    def rendering(template: str, context: dict) -> str:
        languages[context["person"].email] = translation.get_language()
        return render(template, context)

    monkeypatch.setattr(mails, "render_to_string", rendering)
    with inside(workspace):
        russian = UserFactory(email="anna@example.com", language="ru", role=builtin_role(ADMIN))
        UserFactory(email="seller@example.com")  # no billing permission: not told
    account = account_of(workspace)
    mail.outbox.clear()
    assert services.states_advance(now=account.trial_ends_at - DAY * 4) == {
        "trials_ended": 0,
        "grace_ended": 0,
        "deleted": 0,
    }
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        services.states_advance(now=account.trial_ends_at - DAY * 3 + datetime.timedelta(minutes=1))
    assert sorted(m.to[0] for m in mail.outbox) == sorted([workspace.owner.email, russian.email])
    assert all(len(m.to) == 1 and m.subject for m in mail.outbox)
    assert languages == {russian.email: "ru", workspace.owner.email: "en"}
    account.refresh_from_db()
    assert account.trial_mail_sent_at is not None and account.state == State.TRIAL

    with django_capture_on_commit_callbacks(execute=True):
        services.states_advance(now=account.trial_ends_at - DAY)
        services.trials_remind(now=account.trial_ends_at - DAY)
    assert len(mail.outbox) == 2


def test_the_seat_ledger_cannot_be_updated_nor_deleted(workspace) -> None:
    account = account_of(workspace)
    entry = SeatEntry.objects.get(account=account)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SeatEntry.objects.filter(pk=entry.pk).update(seats=99)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SeatEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_seatentry WHERE account_id = %s", [account.pk])
    entry.refresh_from_db()
    assert (entry.seats, entry.delta) == (1, 1)
    assert SeatEntry.objects.filter(account=account).count() == 1


def test_a_trial_is_never_closed_without_notice(workspace, django_capture_on_commit_callbacks) -> None:
    """Billing turned on for workspaces whose trial is long over: they are told first and closed three days on."""
    account = account_of(workspace)
    now = account.trial_ends_at + DAY * 30
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.states_advance(now=now)["trials_ended"] == 0
    account.refresh_from_db()
    assert account.state == State.TRIAL and account.trial_ends_at == now + services.TRIAL_NOTICE
    assert [m.to for m in mail.outbox] == [[workspace.owner.email]]
    assert _tenant(workspace).billing_until == account.trial_ends_at
    assert services.states_advance(now=now + DAY * 2)["trials_ended"] == 0
    assert services.states_advance(now=now + DAY * 3 + datetime.timedelta(seconds=1))["trials_ended"] == 1
    assert _tenant(workspace).read_only


def test_billing_turned_off_reopens_the_workspaces_it_closed(workspace, settings) -> None:
    from billing.tasks import states_advance

    account = account_of(workspace)
    services.states_advance(now=account.trial_ends_at - DAY * 3)
    services.states_advance(now=account.trial_ends_at + DAY)
    assert _tenant(workspace).read_only
    settings.BILLING_ENABLED = False
    assert states_advance() == {"reopened": 1}
    tenant = _tenant(workspace)
    assert not tenant.read_only
    account.refresh_from_db()
    assert account.state == State.READ_ONLY  # kept, should billing come back
    assert states_advance() == {"reopened": 0}
