"""Webhook delivery latency: from the commit of a CRM change to the receiver's arrival, as in production.

    python -m platform_core.embedded run -- python bench/integrations_webhooks.py [--events 200 --rate 20]

A workspace in a scratch database of its own (`<name>_webhooks_crmbench`) with one webhook connection
subscribed to new leads, pointing at the documented receiver example (tests/fakes/webhook_receiver.py, in a
process of its own, verifying every signature). A real Celery worker process (prefork, its beat for the
sweep) runs the outbox dispatcher and the delivery tasks. `--events` leads (200) are created through the
CRM's service (`lead_create`, each its own transaction) at `--rate` (10) a second by `--writers` threads.

Figures: commit -> receiver p50/p95/max, beside the outbox's own latency to a no-op consumer of the same events
(commit -> consumer, the baseline: a webhook adds a task hop and an HTTP POST to it); every event delivered,
once.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.crm import open_database
from bench.provisioning import _percentile

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "kontor-bench-webhooks"
ARRIVED = "bench:webhooks:arrived"
ARRIVALS = "bench:webhooks:arrivals"
PASSWORD = "bench-password-not-secret"
LATENCY_P95_LIMIT = 2.0  # seconds, commit -> receiver


def _serve_receiver(conn: Any, redis_url: str) -> None:
    """The documented receiver on 127.0.0.1 (port 0), noting each verified arrival in Redis."""
    from http.server import ThreadingHTTPServer

    import redis

    from tests.fakes.webhook_receiver import WebhookHandler

    client = redis.Redis.from_url(redis_url)
    state = {"secret": ""}

    class Handler(WebhookHandler):
        seen: set[str] = set()

        @property
        def secret(self) -> str:  # type: ignore[override]
            return state["secret"]

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived = time.time()
            status = self.receive(body)
            if status == 204:
                event_id = self.headers.get("Kontor-Webhook-Id", "")
                client.hsetnx(ARRIVED, event_id, arrived)
                client.hincrby(ARRIVALS, event_id, 1)
            self.answer(status)

        def handle_event(self, event: dict[str, Any]) -> None:
            pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(f"http://127.0.0.1:{server.server_address[1]}/kontor")
    state["secret"] = conn.recv()
    conn.recv()  # stop
    server.shutdown()


def start_worker(tmp: str, concurrency: int) -> subprocess.Popen[bytes]:
    log = open(Path(tmp) / "worker.log", "wb")  # noqa: SIM115
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "INTEGRATIONS_ALLOW_PRIVATE_NETWORKS": "1",
        "WEBHOOKS_SWEEP_SECONDS": "5",
    }
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "platform_core.celery", "worker", "-B", "-s", f"{tmp}/beat"),
            *("-Q", QUEUE, "-c", str(concurrency), "-l", "warning", "--without-mingle", "--without-gossip"),
            *("--include", "bench.integrations_webhooks_consumer"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _open() -> None:
    """The scratch database `<name>_webhooks_crmbench`, unless Django is set up already (another bench's)."""
    from django.apps import apps

    if apps.ready:
        return
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor"))
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path.rstrip('/') or '/kontor'}_webhooks"))
    os.environ["EMAIL_URL"] = "memorymail://"
    open_database(reuse=False)


def measure(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Set up, run the worker and the receiver, create the leads, and return the figures (args: events, rate,
    writers, concurrency; defaults for those missing)."""
    import multiprocessing

    _open()
    events, rate = int(getattr(args, "events", 200)), float(getattr(args, "rate", 10))
    writers, concurrency = int(getattr(args, "writers", 2)), int(getattr(args, "concurrency", 2))

    import redis
    from django.conf import settings
    from django.db import connection as db
    from django_tenants.utils import tenant_context

    from bench.integrations_webhooks_consumer import CONSUMED
    from crm.leads.services import lead_create
    from integrations.core.services import connection_create
    from integrations.webhooks.services import KIND, signing_secret_reveal
    from platform_core.celery import app as celery_app
    from tenants.events.models import Event
    from tenants.services import schema_script_ensure, workspace_create

    settings.EVENTS_DISPATCH_EAGER = False
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True
    celery_app.conf.task_default_queue = QUEUE
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(ARRIVED, ARRIVALS, CONSUMED)
    schema_script_ensure()
    created = workspace_create(
        company_name="Webhook bench", subdomain=f"hooks{int(time.time())}", owner_email="owner@hooks.example",
        owner_password=PASSWORD,
    )  # fmt: skip
    tenant, owner = created.tenant, created.owner

    context = multiprocessing.get_context("spawn")
    pipe, child = context.Pipe()
    receiver = context.Process(target=_serve_receiver, args=(child, settings.REDIS_URL), daemon=True)
    receiver.start()
    url = pipe.recv()
    with tenant_context(tenant):
        conn = connection_create(
            actor=owner,
            kind=KIND,
            name="Bench receiver",
            settings={"url": url, "types": ["record.created"], "kinds": ["lead"]},
        ).connection
        pipe.send(signing_secret_reveal(actor=owner, connection=conn))

    committed: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        worker = start_worker(tmp, concurrency)
        try:
            # The worker is up when a first lead has gone all the way.
            with tenant_context(tenant):
                probe = lead_create(actor=owner, data={"title": "Probe"})
                probe_id = str(Event.objects.get(type="record.created", kind="lead", record_id=probe.pk).uuid)
            if not _wait(lambda: client.hexists(ARRIVED, probe_id), 90):
                raise SystemExit("the worker did not deliver within 90 s:\n" + (Path(tmp) / "worker.log").read_text())
            client.delete(ARRIVED, ARRIVALS, CONSUMED)

            interval = 1 / rate
            started = time.monotonic()

            def write(first: int) -> None:
                with tenant_context(tenant):
                    for i in range(first, events, writers):
                        pause = started + i * interval - time.monotonic()
                        if pause > 0:
                            time.sleep(pause)
                        lead = lead_create(actor=owner, data={"title": f"Lead {i}", "email": f"l{i}@example.com"})
                        at = time.time()  # lead_create has committed
                        event = Event.objects.get(type="record.created", kind="lead", record_id=lead.pk)
                        committed[str(event.uuid)] = at
                db.close()

            threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            produced_in = time.monotonic() - started
            _wait(lambda: client.hlen(ARRIVED) >= len(committed) and client.hlen(CONSUMED) >= len(committed), 60)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
            pipe.send("stop")
            receiver.join(timeout=10)

    def latencies(key: str) -> list[float]:
        raw: dict[bytes, bytes] = client.hgetall(key)  # type: ignore[assignment]
        seen = {k.decode(): float(v) for k, v in raw.items()}
        return [seen[u] - t for u, t in committed.items() if u in seen]

    hooks, consumed = latencies(ARRIVED), latencies(CONSUMED)
    counts: dict[bytes, bytes] = client.hgetall(ARRIVALS)  # type: ignore[assignment]
    twice = sum(1 for v in counts.values() if int(v) > 1)

    def ms(values: list[float], pct: float) -> str:
        return f"{_percentile(values, pct) * 1000:.0f} ms" if values else "-"

    rate = len(committed) / produced_in
    return [
        ("leads created (lead_create, committed)", f"{len(committed)} at {rate:.0f}/s", f"{writers} writers"),
        ("webhook p50, commit -> receiver", ms(hooks, 50), f"outbox -> no-op consumer p50 {ms(consumed, 50)}"),
        ("webhook p95, commit -> receiver", ms(hooks, 95), f"outbox -> no-op consumer p95 {ms(consumed, 95)}"),
        ("webhook max", ms(hooks, 100), f"outbox max {ms(consumed, 100)}"),
        ("delivered / lost / twice", f"{len(hooks)} / {len(committed) - len(hooks)} / {twice}", "all / 0 / 0"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200, help="leads created (one event each)")
    parser.add_argument("--rate", type=float, default=10, help="leads created per second")
    parser.add_argument("--writers", type=int, default=2, help="threads creating them")
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's pool processes (as bench/events.py)")
    args = parser.parse_args()

    rows = measure(args)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'value':>16}  baseline / ceiling")
    for name, value, baseline in rows:
        print(f"{name:<{width}}  {value:>16}  {baseline}")
    _delivered, lost, twice = (int(x) for x in rows[-1][1].split(" / "))
    p95 = float(rows[2][1].split()[0]) / 1000 if rows[2][1] != "-" else float("inf")
    ok = lost == 0 and twice == 0 and p95 <= LATENCY_P95_LIMIT
    print(f"\n{'ok' if ok else 'MISSED'} (every event delivered once, p95 <= {LATENCY_P95_LIMIT:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
