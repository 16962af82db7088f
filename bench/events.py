"""What the event outbox costs and how fast it delivers.

    make bench-events          # or: python -m platform_core.embedded run -- python bench/events.py [--seconds 60]

1. Write overhead: the API's deal create and company edit, in-process through the whole Django stack, with the
   outbox on and off (EVENTS_ENABLED, interleaved request by request so both see the same machine): p50/p95 ms
   side by side. Target: at most +10%.
2. Delivery: a real Celery worker process (2 pool processes, its beat) runs a consumer while this process
   commits `--rate` events a second (each its own transaction, as a service writes them) for `--seconds`.
   Latency is from each commit to the consumer's receipt. Targets: p95 <= 1 s, and every event received
   (count in = count out).

Uses a small seeded workspace in a scratch database of its own, `<name>_events_crmbench` (`--reuse` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.crm import SMALL, bench_workspace, open_database, timed
from bench.provisioning import _percentile

ROOT = Path(__file__).resolve().parent.parent
OVERHEAD_LIMIT = 0.10
LATENCY_P95_LIMIT = 1.0


def write_overhead(host: str, repeat: int) -> bool:
    from django.conf import settings
    from django.test import Client
    from django_tenants.utils import schema_context

    from crm.companies.models import Company
    from tenants.accounts.models import User
    from tenants.context import use_public_schema
    from tenants.models import Domain

    schema = Domain.objects.select_related("tenant").get(domain=host).tenant.schema_name
    client = Client(HTTP_HOST=host)
    with schema_context(schema):
        owner = User.objects.get(email__startswith="owner@")
        company = Company.objects.order_by("id").first()
        assert company is not None
        client.force_login(owner)
    use_public_schema()
    deal = json.dumps({"title": "Bench deal", "company": company.pk, "amount": "1500.00", "currency": "RUB"})
    n = [0]

    def deal_create():
        return client.post("/api/v1/deals/", deal, content_type="application/json")

    def company_edit():
        n[0] += 1
        body = json.dumps({"notes": f"edit {n[0]}"})
        return client.patch(f"/api/v1/companies/{company.pk}", body, content_type="application/json")

    print(f"\n{'request':<20} {'outbox p50':>10} {'p95':>7} {'without p50':>11} {'p95':>7} {'cost p50':>8} {'p95':>6}")
    ok = True
    for name, call in (("API deal create", deal_create), ("API company edit", company_edit)):
        times: dict[bool, list[float]] = {True: [], False: []}
        for enabled in (True, False):
            settings.EVENTS_ENABLED = enabled
            for _ in range(5):  # warm-up
                assert timed(call)[2] < 300
        for _ in range(repeat):
            for enabled in (True, False):
                settings.EVENTS_ENABLED = enabled
                elapsed, _, status = timed(call)
                assert status < 300, status
                times[enabled].append(elapsed)
        settings.EVENTS_ENABLED = True
        on50, on95 = _percentile(times[True], 50), _percentile(times[True], 95)
        off50, off95 = _percentile(times[False], 50), _percentile(times[False], 95)
        cost50, cost95 = on50 / off50 - 1, on95 / off95 - 1
        verdict = "ok" if cost50 <= OVERHEAD_LIMIT else "MISSED"
        ok = ok and cost50 <= OVERHEAD_LIMIT
        print(
            f"{name:<20} {on50:9.1f}  {on95:6.1f}  {off50:10.1f}  {off95:6.1f}  {cost50:+7.1%} "
            f"{cost95:+6.1%}  {verdict}"
        )
    return ok


def start_worker(tmp: str) -> subprocess.Popen[bytes]:
    log = open(Path(tmp) / "worker.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "platform_core.celery", "worker", "-B", "-s", f"{tmp}/beat"),
            *("-Q", "kontor-bench-events", "-c", "2", "--include", "bench.events_consumer", "-l", "warning"),
            *("--without-mingle", "--without-gossip"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def delivery(schema: str, *, rate: float, seconds: float, writers: int) -> bool:
    import redis
    from django.conf import settings
    from django.db import transaction
    from django_tenants.utils import schema_context

    from bench.events_consumer import RECEIVED, TICK
    from tenants.events.outbox import event_record

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(RECEIVED)
    committed: dict[str, float] = {}
    # Wait for the worker: one event, received.
    with schema_context(schema), transaction.atomic():
        probe = event_record(type=TICK, kind="bench", snapshot={"probe": True})
    assert probe is not None
    deadline = time.monotonic() + 60
    while not client.hexists(RECEIVED, str(probe.uuid)):
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not deliver within 60 s (see its log)")
        time.sleep(0.1)
    client.delete(RECEIVED)

    # Several writers, as several web processes would be: one commit takes a few ms of round trips.
    interval = 1 / rate
    total = int(rate * seconds)
    started = time.monotonic()

    def write(first: int) -> None:
        from django.db import connection

        with schema_context(schema):
            for i in range(first, total, writers):
                pause = started + i * interval - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                with transaction.atomic():
                    event = event_record(type=TICK, kind="bench", snapshot={"n": i})
                assert event is not None
                committed[str(event.uuid)] = time.time()
        connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    produced_in = time.monotonic() - started
    deadline = time.monotonic() + 60
    while client.hlen(RECEIVED) < len(committed) and time.monotonic() < deadline:
        time.sleep(0.2)
    raw: dict[bytes, bytes] = client.hgetall(RECEIVED)  # type: ignore[assignment]
    received = {k.decode(): float(v) for k, v in raw.items()}
    latencies = [received[u] - t for u, t in committed.items() if u in received]
    lost = len(committed) - len(latencies)
    p50, p95 = _percentile(latencies, 50), _percentile(latencies, 95)
    achieved = len(committed) / produced_in
    ok = p95 <= LATENCY_P95_LIMIT and lost == 0
    print(
        f"\nDelivery at {achieved:.0f} events/s ({writers} writers) for {produced_in:.0f} s: "
        f"in {len(committed)}, out {len(latencies)}, "
        f"lost {lost}; latency commit -> consumer p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms  {'ok' if ok else 'MISSED'} (p95 <= {LATENCY_P95_LIMIT:.0f} s, none lost)"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="reuse the scratch database of an earlier run")
    parser.add_argument("--repeat", type=int, default=200, help="timed requests per request kind and mode")
    parser.add_argument("--rate", type=float, default=200, help="events committed per second")
    parser.add_argument("--seconds", type=float, default=60, help="how long to keep that rate")
    parser.add_argument("--writers", type=int, default=4, help="threads committing the events")
    args = parser.parse_args()

    # A scratch database of its own (`<name>_events_crmbench`): never the full-size one of bench/crm.py.
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor"))
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path.rstrip('/') or '/kontor'}_events"))
    open_database(reuse=args.reuse)
    from django.conf import settings

    from platform_core.celery import app as celery_app
    from tenants.models import Domain

    settings.EVENTS_DISPATCH_EAGER = False
    celery_app.conf.task_default_queue = "kontor-bench-events"
    tenant = bench_workspace("events", SMALL)
    host = Domain.objects.get(tenant=tenant).domain
    with tempfile.TemporaryDirectory() as tmp:
        worker = start_worker(tmp)
        try:
            cost_ok = write_overhead(host, args.repeat)
            delivery_ok = delivery(tenant.schema_name, rate=args.rate, seconds=args.seconds, writers=args.writers)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    return 0 if cost_ok and delivery_ok else 1


if __name__ == "__main__":
    sys.exit(main())
