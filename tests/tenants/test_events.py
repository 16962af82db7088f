"""The workspace event outbox: events are written with the change (a rollback leaves none) and delivered after
commit by a real Celery worker process to every registered consumer, at least once, in order, each consumer at
its own pace, within its own workspace."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context

from crm.activities.services import activity_create, activity_set_done
from crm.companies.models import Company
from crm.companies.services import company_create, company_delete, company_merge, company_update
from crm.contacts.services import contact_create
from crm.deals.models import Stage
from crm.deals.services import deal_create, deal_move_to_stage, deal_update
from crm.leads.services import lead_convert, lead_create
from tenants.accounts.consumers import ACTIVE_SEATS, active_seats
from tenants.accounts.models import User
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tenants.accounts.services import invitation_accept, invitation_create, invitation_token_make, user_deactivate
from tenants.events import outbox
from tenants.events.models import ConsumerCursor, Counter, Event
from tests.tenants.events_support import FLAKY_FAILURES, QUEUE, key

ROOT = Path(__file__).resolve().parents[2]


class Abort(Exception):
    pass


def _new(since: int) -> list[Event]:
    return list(Event.objects.filter(id__gt=since).order_by("id"))


def _top() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- written with the change ---------------------------------------------------------------------------------


def test_a_rolled_back_change_leaves_no_event(in_workspace) -> None:
    owner = in_workspace.owner
    company = company_create(actor=owner, data={"name": "Kept"})
    before = _top()
    with pytest.raises(Abort), transaction.atomic():
        company_create(actor=owner, data={"name": "Never"})
        company_update(actor=owner, company=company, data={"name": "Renamed"})
        raise Abort
    assert _new(before) == []


def test_each_change_writes_exactly_one_event_with_its_snapshot(in_workspace) -> None:
    owner = in_workspace.owner
    before = _top()
    company = company_create(actor=owner, data={"name": "Acme", "tax_id": "7707083893"})
    (created,) = _new(before)
    assert (created.type, created.kind, created.record_id, created.actor_id) == (
        "record.created",
        "company",
        company.pk,
        owner.pk,
    )
    assert created.version == 1 and created.snapshot["name"] == "Acme" and created.snapshot["owner_id"] == owner.pk
    assert isinstance(created.uuid, uuid.UUID) and created.fields == []

    before = _top()
    company_update(actor=owner, company=company, data={"name": "Acme Ltd", "notes": "big"})
    (updated,) = _new(before)
    assert updated.type == "record.updated" and sorted(updated.fields) == ["name", "notes"]
    assert updated.version == 2 and updated.snapshot["name"] == "Acme Ltd"

    before = _top()
    company_update(actor=owner, company=company, data={"name": "Acme Ltd"})  # no change, no event
    assert _new(before) == []

    duplicate = company_create(actor=owner, data={"name": "Acme dup", "phones": ["+79161234567"]})
    before = _top()
    company_merge(actor=owner, survivor=company, duplicate=duplicate)
    (merged,) = _new(before)
    assert merged.type == "record.merged" and merged.record_id == company.pk
    assert merged.context["merged_id"] == duplicate.pk and "phones" in merged.fields

    deal = deal_create(actor=owner, data={"title": "Big one", "company": company.pk})
    contact = contact_create(actor=owner, data={"first_name": "Ann"})
    before = _top()
    deal_update(actor=owner, deal=deal, data={}, contacts=[contact.pk])
    assert [(e.type, e.record_id, e.fields) for e in _new(before)] == [("record.updated", deal.pk, ["contacts"])]
    won = Stage.objects.get(pipeline=deal.pipeline, outcome=Stage.Outcome.WON)
    before = _top()
    deal_move_to_stage(actor=owner, deal=deal, stage=won)
    (moved,) = _new(before)
    assert (moved.type, moved.kind, moved.record_id) == ("deal.won", "deal", deal.pk)
    assert moved.snapshot["stage_id"] == won.pk and moved.context["to_stage_id"] == won.pk

    activity = activity_create(actor=owner, data={"kind": "task", "subject": "Call back"})
    before = _top()
    activity_set_done(actor=owner, activity=activity, done=True)
    assert [(e.type, e.record_id) for e in _new(before)] == [("activity.done", activity.pk)]

    lead = lead_create(actor=owner, data={"title": "Inbound", "company_name": "Lead Co"})
    before = _top()
    conversion = lead_convert(actor=owner, lead=lead)
    types = [(e.type, e.kind) for e in _new(before)]
    assert types == [("record.created", "company"), ("record.created", "deal"), ("lead.converted", "lead")]
    assert _new(before)[-1].context["deal_id"] == conversion.deal.pk

    before = _top()
    company_delete(actor=owner, company=Company.objects.get(pk=conversion.company.pk))
    (deleted,) = _new(before)
    assert deleted.type == "record.deleted" and deleted.snapshot["name"] == "Lead Co"


def test_people_events_and_the_active_seat_count(in_workspace, django_capture_on_commit_callbacks) -> None:
    owner = in_workspace.owner
    before = _top()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_create(
            actor=owner, email="new@example.com", role=builtin_role(SALES_MANAGER), site_url="http://x.test"
        )
    (invited,) = _new(before)
    assert invited.type == "user.invited" and invited.snapshot["email"] == "new@example.com"
    assert "password" not in str(invited.snapshot)
    assert not Counter.objects.filter(name=ACTIVE_SEATS).exists() and active_seats() == 1  # the owner alone
    before = _top()
    with django_capture_on_commit_callbacks(execute=True):
        person = invitation_accept(
            token=invitation_token_make(invitation), full_name="New", password="a-long-enough-secret-9"
        )
    (activated,) = _new(before)
    assert (activated.type, activated.record_id, activated.snapshot["email"]) == (
        "user.activated",
        person.pk,
        "new@example.com",
    )
    assert Counter.objects.get(name=ACTIVE_SEATS).value == 2 == active_seats()
    before = _top()
    with django_capture_on_commit_callbacks(execute=True):
        user_deactivate(actor=owner, user=person)
    (deactivated,) = _new(before)
    assert deactivated.type == "user.deactivated" and deactivated.snapshot["is_active"] is False
    assert Counter.objects.get(name=ACTIVE_SEATS).value == 1 == User.objects.filter(is_active=True).count()


def test_delivered_events_are_pruned_after_the_retention_only(in_workspace) -> None:
    import datetime

    from django.utils import timezone

    company_create(actor=in_workspace.owner, data={"name": "Old"})
    outbox.deliver_pending()  # every registered consumer has had them
    delivered = _top()
    company_create(actor=in_workspace.owner, data={"name": "Not delivered yet"})
    assert outbox.events_prune() == 0  # delivered, but younger than the retention
    later = timezone.now() + datetime.timedelta(days=settings.EVENTS_RETENTION_DAYS, seconds=1)
    assert outbox.events_prune(now=later) > 0
    assert list(Event.objects.values_list("snapshot__name", flat=True)) == ["Not delivered yet"]
    assert not Event.objects.filter(id__lte=delivered).exists()


# --- delivered by a real worker --------------------------------------------------------------------------------


def _test_database_url() -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor"))
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class Worker:
    """A `celery worker -B` process (with its beat, the sweep every second) running the test consumers."""

    def __init__(self, tmp_path: Path, run: str, **env: str) -> None:
        self.tmp_path, self.run, self.env = tmp_path, run, env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        environment = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "EVENTS_TEST_RUN": self.run,
            "EVENTS_SWEEP_SECONDS": "1",
            "EVENTS_RETRY_BASE_SECONDS": "0.5",
            "EVENTS_DISPATCH_EAGER": "false",
            **self.env,
        }
        log = open(self.tmp_path / f"worker-{self.starts}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "platform_core.celery", "worker", "-B"),
                *("-s", str(self.tmp_path / f"beat-{self.starts}"), "-Q", QUEUE, "-c", "2"),
                *("--include", "tests.tenants.events_support", "-l", "warning", "--without-mingle"),
                "--without-gossip",
            ],
            cwd=ROOT,
            env=environment,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@pytest.fixture
def worker(committed_db, tmp_path, settings) -> Iterator[Callable[..., Worker]]:
    settings.EVENTS_DISPATCH_EAGER = False  # commits queue Celery tasks for the worker process
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(QUEUE, outbox.PENDING_KEY)
    made: list[Worker] = []

    def factory(**env: str) -> Worker:
        w = Worker(tmp_path, uuid.uuid4().hex, **env)
        made.append(w)
        w.start()
        return w

    yield factory
    for w in made:
        w.kill(signal.SIGTERM)
    client.delete(QUEUE)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _count(run: str, schema: str, what: str) -> int:
    return int(_redis().get(key(run, schema, what)) or 0)


def _ids(run: str, schema: str, what: str) -> list[int]:
    return [int(x) for x in _redis().lrange(key(run, schema, what), 0, -1)]


def _positions(ws) -> set[int]:
    with schema_context(ws.schema):
        return set(ConsumerCursor.objects.filter(consumer__startswith="test.").values_list("position", flat=True))


def _create_companies(ws, names: list[str]) -> list[int]:
    ids = []
    with schema_context(ws.schema):
        for name in names:
            ids.append(company_create(actor=ws.owner, data={"name": name}).pk)  # one transaction each
        return list(Event.objects.filter(type="record.created", record_id__in=ids).values_list("id", flat=True))


def test_a_killed_worker_loses_nothing_and_effects_count_once(committed_db, worker) -> None:
    a, b = committed_db(), committed_db()
    w = worker(EVENTS_TEST_DELAY="0.05")
    events_a = _create_companies(a, [f"{a.schema} {n}" for n in range(40)])
    events_b = _create_companies(b, [f"{b.schema} {n}" for n in range(40)])

    _wait(lambda: _count(w.run, a.schema, "effects") + _count(w.run, b.schema, "effects") >= 10, "first deliveries")
    w.kill()  # SIGKILL to the worker and its pool processes, in the middle of a batch
    delivered_at_kill = _count(w.run, a.schema, "effects") + _count(w.run, b.schema, "effects")
    assert delivered_at_kill < len(events_a) + len(events_b), "the worker was not killed during the dispatch"
    w.start()

    for ws, events in ((a, events_a), (b, events_b)):
        _wait(lambda ws=ws, events=events: _count(w.run, ws.schema, "effects") == len(events), f"{ws.schema}")
        # Each event had its effect once, in the order of the outbox, though some were delivered twice.
        assert _ids(w.run, ws.schema, "order") == sorted(events)
        assert _count(w.run, ws.schema, "deliveries") >= len(events)
        _wait(lambda ws=ws, events=events: _positions(ws) == {max(events)}, f"every consumer of {ws.schema}")
    assert _count(w.run, a.schema, "deliveries") + _count(w.run, b.schema, "deliveries") > len(events_a) + len(
        events_b
    ), "the killed batch was delivered again (at least once), its effects counted once"
    time.sleep(1.5)  # nothing more arrives later
    assert _count(w.run, a.schema, "effects") == len(events_a) and _count(w.run, b.schema, "effects") == len(events_b)


def test_a_failing_consumer_retries_with_backoff_alone_and_workspaces_stay_apart(committed_db, worker) -> None:
    a, b = committed_db(), committed_db()
    w = worker()
    first = _create_companies(a, ["before"])
    poison = _create_companies(a, ["poison"])
    after_a = _create_companies(a, [f"{a.schema} after {n}" for n in range(5)])
    events_b = _create_companies(b, [f"{b.schema} {n}" for n in range(5)])

    # The steady consumers of both workspaces get everything while the flaky one is stuck on the poison.
    _wait(lambda: _ids(w.run, a.schema, "steady") == first + poison + after_a, "steady consumer of A")
    _wait(lambda: _ids(w.run, b.schema, "steady") == events_b, "steady consumer of B")
    with schema_context(a.schema):
        stuck = ConsumerCursor.objects.get(consumer="test.flaky")
    assert stuck.position == first[0] and stuck.attempts >= 1 and "refuses" in stuck.last_error
    assert _ids(w.run, a.schema, "flaky") == first
    assert _ids(w.run, b.schema, "flaky") == events_b  # B's flaky consumer is not held back by A's poison

    # Then the flaky consumer gets the poison (after FLAKY_FAILURES failures) and the rest, in order.
    _wait(lambda: _ids(w.run, a.schema, "flaky") == first + poison + after_a, "flaky consumer of A", timeout=60)
    attempts = [float(x) for x in _redis().lrange(key(w.run, a.schema, "poison-attempts"), 0, -1)]
    assert len(attempts) == FLAKY_FAILURES + 1
    # Retries wait 0.5 s, 1 s, 2 s (EVENTS_RETRY_BASE_SECONDS doubling): never sooner.
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 0.5 * 2**n - 0.05 for n, gap in enumerate(gaps)), gaps
    with schema_context(a.schema):
        assert ConsumerCursor.objects.get(consumer="test.flaky").attempts == 0

    # No workspace's events reached a consumer running for the other.
    names_a = [n.decode() for n in _redis().lrange(key(w.run, a.schema, "names"), 0, -1)]
    names_b = [n.decode() for n in _redis().lrange(key(w.run, b.schema, "names"), 0, -1)]
    assert names_b and all(n.startswith(b.schema) for n in names_b)
    assert not any(b.schema in n for n in names_a) and len(names_a) == 7
