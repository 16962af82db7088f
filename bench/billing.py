"""Seats that follow the team, exactly once, with Stripe slow and failing.

    make bench-billing    # or: python -m platform_core.embedded run -- python bench/billing.py [--workspaces 100]

1. Sets up `--workspaces` subscribed workspaces (each with its owner and `--people` more people) in a scratch
   database (`<name>_billing_crmbench`), against the local fake Stripe (tests/fakes/stripe_server.py) serving
   the real API in this process.
2. Turns on the faults: every Stripe call takes `--latency` more (200 ms) and `--error-rate` of them (5%)
   answer 500 without doing anything.
3. Makes `--changes` seat changes (1,000), spread evenly over the workspaces: deactivating and reactivating
   people through the users page, as an administrator does (POST, in-process through the whole Django stack).
   A real Celery worker process delivers the workspace events, enters the seat ledger and pushes each change
   to Stripe, retrying what failed.
4. Waits until every ledger is in Stripe, then checks, per workspace: the ledger's last count = Stripe's
   quantity = the people actually active; Stripe applied exactly one update per ledger entry (distinct
   idempotency keys applied = entries; proration lines = 2 per entry: nothing doubled, nothing lost).
5. The latency of the activation request, p50/p95, billing on (the subscribed workspaces) and off (the same
   requests with billing off, in as many workspaces of their own, never subscribed), interleaved request by
   request. Target: unchanged (the Stripe call is never on the request's path).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.crm import open_database, timed
from bench.provisioning import _percentile

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "kontor-bench-billing"
API_KEY = "sk_test_bench"
WEBHOOK_SECRET = "whsec_bench"
PASSWORD = "bench-password-not-secret"
LATENCY_LIMIT = 0.10  # p95 with billing on at most 10% over billing off


class RemoteFake:
    """The fake Stripe in a process of its own (as Stripe is elsewhere): its threads never take the GIL from
    the requests being timed here. Attributes are read and methods called over a pipe."""

    def __init__(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fake, args=(child,), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()

    def _ask(self, *message: Any) -> Any:
        self._conn.send(message)
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(value)
        return value

    def set(self, **values: Any) -> None:
        self._ask("set", values)

    def get(self, name: str) -> Any:
        return self._ask("get", name)

    def call(self, name: str, *args: Any) -> Any:
        return self._ask("call", name, args)

    def stop(self) -> None:
        self._ask("stop")
        self._process.join(timeout=10)


def _serve_fake(conn: Any) -> None:
    from tests.fakes.stripe_server import FakeStripe

    fake = FakeStripe(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
    fake.start()
    conn.send(fake.url)
    while True:
        kind, *rest = conn.recv()
        try:
            if kind == "stop":
                fake.stop()
                conn.send((True, None))
                return
            if kind == "set":
                for name, value in rest[0].items():
                    setattr(fake, name, value)
                result: Any = None
            elif kind == "get":
                result = getattr(fake, rest[0])
                if rest[0] == "request_log":
                    result = [tuple(r) for r in result]
            else:
                result = getattr(fake, rest[0])(*rest[1])
            conn.send((True, result))
        except Exception as exc:  # the bench shows it
            conn.send((False, repr(exc)))


def start_worker(tmp: str, stripe_url: str, concurrency: int) -> subprocess.Popen[bytes]:
    log = open(Path(tmp) / "worker.log", "wb")  # noqa: SIM115
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BILLING_ENABLED": "1",
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_TIMEOUT_SECONDS": "5",
        # Retries start at a second and double; capped low so a run does not wait on one unlucky change.
        "BILLING_RETRY_MAX_SECONDS": "8",
        "EVENTS_RETRY_BASE_SECONDS": "1",
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
    }
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "platform_core.celery", "worker", "-Q", QUEUE),
            *("-c", str(concurrency), "-P", "threads", "-l", "warning", "--without-mingle", "--without-gossip"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def make_workspaces(prefix: str, count: int, people: int, *, subscribe: bool, fake: Any) -> list[dict[str, Any]]:
    """`count` workspaces with their owner and `people` more (created directly: no seat events yet)."""
    from django_tenants.utils import tenant_context

    from billing import services
    from billing.models import Price
    from tenants.accounts.roles import SALES_MANAGER, roles_ensure_builtin
    from tenants.accounts.services import user_create
    from tenants.context import use_public_schema
    from tenants.services import workspace_create

    price = Price.objects.get(lookup_key="kontor_standard_eur_month")
    made = []
    for i in range(count):
        created = workspace_create(
            company_name=f"Billing bench {prefix} {i}",
            subdomain=f"{prefix}{i}-{random.randrange(16**6):06x}",
            owner_email=f"owner@{prefix}{i}.example",
            owner_password=PASSWORD,
        )
        tenant = created.tenant
        with tenant_context(tenant):
            role = roles_ensure_builtin()[SALES_MANAGER]
            staff = [
                user_create(email=f"p{n}@{prefix}{i}.example", password=PASSWORD, full_name=f"P {n}", role=role).pk
                for n in range(people)
            ]
            account = services.account_for(tenant)
            if subscribe:
                url = services.checkout_start(
                    actor=created.owner,
                    account=account,
                    price=price,
                    priority_support=False,
                    success_url=f"http://{created.domain.domain}/settings/billing/",
                    cancel_url=f"http://{created.domain.domain}/settings/billing/",
                )
                session_id = url.rstrip("/").rsplit("/", 1)[-1]
                fake.call("complete_checkout", session_id, "ok")
                assert services.checkout_confirm(account=account, session_id=session_id)
        use_public_schema()
        made.append({"tenant": tenant, "host": created.domain.domain, "owner": created.owner, "people": staff})
    fake.call("take")  # the webhooks of the setup: the confirmations above did their work
    return made


def seat_change_requests(workspaces: list[dict[str, Any]], changes: int) -> list[tuple[dict[str, Any], str]]:
    """`changes` valid requests, spread evenly: each deactivates an active person or reactivates an inactive one."""
    plan: list[tuple[dict[str, Any], str]] = []
    active = {id(ws): set(ws["people"]) for ws in workspaces}
    rng = random.Random(13)
    for n in range(changes):
        ws = workspaces[n % len(workspaces)]
        pk = rng.choice(ws["people"])
        if pk in active[id(ws)]:
            active[id(ws)].discard(pk)
            plan.append((ws, f"/settings/users/{pk}/deactivate/"))
        else:
            active[id(ws)].add(pk)
            plan.append((ws, f"/settings/users/{pk}/reactivate/"))
    return plan


def client_for(ws: dict[str, Any]) -> Any:
    from django.test import Client
    from django_tenants.utils import tenant_context

    from tenants.context import use_public_schema

    client = Client(HTTP_HOST=ws["host"])
    with tenant_context(ws["tenant"]):
        client.force_login(ws["owner"])
    use_public_schema()
    return client


def drain(accounts: list[int], *, timeout: float) -> float:
    """Seconds until no account's ledger is ahead of Stripe and no seat event waits (or the timeout)."""
    from django.db.models import Max

    from billing.models import Account, SeatEntry
    from billing.services import seats_behind

    started = time.monotonic()
    settled = 0
    while time.monotonic() - started < timeout:
        behind = set(seats_behind()) & set(accounts)
        tops = dict(SeatEntry.objects.filter(account_id__in=accounts).values_list("account_id").annotate(top=Max("id")))
        applied = dict(Account.objects.filter(pk__in=accounts).values_list("pk", "ledger_applied"))
        if not behind and all(applied[a] >= tops.get(a, 0) for a in accounts):
            settled += 1
            if settled >= 3:  # stable for three looks: no event still on its way
                return time.monotonic() - started
        else:
            settled = 0
        time.sleep(1.0)
    return float("nan")


def verify(workspaces: list[dict[str, Any]], fake: Any) -> dict[str, int]:
    from django_tenants.utils import tenant_context

    from billing.models import Account, SeatEntry
    from tenants.accounts.selectors import active_user_count
    from tenants.context import use_public_schema

    found = Counter[str]()
    applied_keys = {key for method, path, key, status in fake.get("request_log") if key and status == 200}
    subscriptions = fake.get("subscriptions")
    for ws in workspaces:
        account = Account.objects.get(tenant=ws["tenant"])
        with tenant_context(ws["tenant"]):
            people = active_user_count()
        use_public_schema()
        ledger = list(SeatEntry.objects.filter(account=account).order_by("id"))
        changes = [e for e in ledger if e.reason not in (SeatEntry.Reason.OPENED, SeatEntry.Reason.SUBSCRIBED)]
        subscription = subscriptions[account.stripe_subscription_id]
        quantity = subscription["items"]["data"][0]["quantity"]
        keys = {e.idempotency_key for e in changes}
        proration_lines = len(fake.call("pending_items", account.stripe_customer_id))
        found["entries"] += len(changes)
        found["applied"] += len(keys & applied_keys)
        found["quantity_mismatch"] += int(not (ledger[-1].seats == quantity == people))
        found["lost"] += len(keys - applied_keys)
        found["doubled"] += int(proration_lines != 2 * len(keys & applied_keys))
    return dict(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--people", type=int, default=6, help="people besides the owner in each workspace")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds Stripe adds to each call")
    parser.add_argument("--error-rate", type=float, default=0.05, help="share of Stripe calls answering 500")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's threads")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for every change to reach Stripe")
    args = parser.parse_args()

    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor"))
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path.rstrip('/') or '/kontor'}_billing"))
    for name, value in (
        ("BILLING_ENABLED", "1"),
        ("STRIPE_SECRET_KEY", API_KEY),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ):
        os.environ[name] = value
    os.environ["EMAIL_URL"] = "memorymail://"  # the mails of a hundred subscriptions are not printed
    open_database(reuse=False)
    from django.conf import settings

    from billing.models import Account
    from platform_core.celery import app as celery_app
    from tenants.services import schema_script_ensure

    settings.EVENTS_DISPATCH_EAGER = False
    celery_app.conf.task_default_queue = QUEUE
    # Signups replay the schema script (as production does when its pool is empty), not a full migrate.
    schema_script_ensure()
    fake = RemoteFake()
    settings.STRIPE_API_BASE = fake.url
    try:
        started = time.monotonic()
        billed = make_workspaces("bill", args.workspaces, args.people, subscribe=True, fake=fake)
        # As many unbilled workspaces: both kinds of request spread over as many schemas.
        free = make_workspaces("free", args.workspaces, args.people, subscribe=False, fake=fake)
        print(
            f"set up {len(billed)} subscribed and {len(free)} unbilled workspaces in {time.monotonic() - started:.0f} s"
        )
        accounts = list(Account.objects.filter(tenant__in=[ws["tenant"] for ws in billed]).values_list("pk", flat=True))
        fake.set(request_log=[], latency=args.latency, error_rate=args.error_rate)

        plan = seat_change_requests(billed, args.changes)
        off_plan = seat_change_requests(free, args.changes)
        clients = {ws["host"]: client_for(ws) for ws in billed + free}
        times: dict[bool, list[float]] = {True: [], False: []}
        with tempfile.TemporaryDirectory() as tmp:
            worker = start_worker(tmp, fake.url, args.concurrency)
            try:
                sent = time.monotonic()
                for (ws, path), (free_ws, free_path) in zip(plan, off_plan, strict=True):
                    settings.BILLING_ENABLED = True
                    elapsed, _q, status = timed(partial(clients[ws["host"]].post, path))
                    assert status == 302, (status, path)
                    times[True].append(elapsed)
                    settings.BILLING_ENABLED = False
                    elapsed, _q, status = timed(partial(clients[free_ws["host"]].post, free_path))
                    assert status == 302, (status, free_path)
                    times[False].append(elapsed)
                settings.BILLING_ENABLED = True
                requests_done = time.monotonic() - sent
                settle = drain(accounts, timeout=args.timeout)
                total = time.monotonic() - sent
            finally:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
                log = (Path(tmp) / "worker.log").read_text(errors="replace")
        fake.set(latency=0.0, error_rate=0.0)
        found = verify(billed, fake)
        updates = [r for r in fake.get("request_log") if r[0] == "POST" and r[1].startswith("/v1/subscriptions/")]
    finally:
        fake.stop()
    failed = sum(1 for r in updates if (r[3] or 0) >= 500)
    print(
        f"\nStripe: +{args.latency * 1000:.0f} ms per call, {args.error_rate:.0%} answering 500; worker: "
        f"{args.concurrency} threads"
    )
    print(f"{'seat changes requested':<38} {args.changes:>8}")
    print(f"{'ledger entries':<38} {found.get('entries', 0):>8}")
    print(f"{'subscription updates sent (all tries)':<38} {len(updates):>8}")
    print(f"{'  of which answered 500':<38} {failed:>8}")
    print(f"{'updates Stripe applied (distinct keys)':<38} {found.get('applied', 0):>8}")
    print(f"{'lost (entry never applied)':<38} {found.get('lost', 0):>8}")
    print(f"{'doubled (proration lines != 2/entry)':<38} {found.get('doubled', 0):>8}")
    print(f"{'workspaces ledger != Stripe != people':<38} {found.get('quantity_mismatch', 0):>8}")
    print(f"{'requests sent in (s)':<38} {requests_done:>8.1f}")
    print(f"{'all in Stripe after (s)':<38} {total:>8.1f}  (drain after the last request: {settle:.1f} s)")
    on50, on95 = _percentile(times[True], 50), _percentile(times[True], 95)
    off50, off95 = _percentile(times[False], 50), _percentile(times[False], 95)
    cost = on95 / off95 - 1
    print(f"\n{'activation request':<22} {'billing on p50':>14} {'p95':>7} {'off p50':>8} {'p95':>7} {'p95 cost':>9}")
    print(
        f"{'POST users/deactivate|reactivate':<22} {on50:13.1f}  {on95:6.1f}  {off50:7.1f}  {off95:6.1f}  {cost:+8.1%}"
    )
    ok = (
        found.get("entries", 0) > 0
        and found.get("applied", 0) == found.get("entries", 0)
        and not found.get("lost")
        and not found.get("doubled")
        and not found.get("quantity_mismatch")
        and cost <= LATENCY_LIMIT
    )
    if not ok:
        print("\nMISSED; the worker's log ends with:\n" + log[-3000:])
    else:
        print("\nall seat changes applied exactly once; activation latency unchanged: ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
