"""Business processes at scale: timer delay, record-update throughput and memory, each beside its baseline.

    make bench-processes       # or: python -m platform_core.embedded run -- python bench/processes.py [--quick]

One workspace made by the bench (a seeded deal per instance), in the database of DATABASE_URL; dropped at the end.

1. Timer delay. `--instances` (10,000) running instances, started through the engine (`instance_start`, a
   transaction per 100), each about a deal, each waiting on a stored timer: step one waits `{"until": T}`, with
   the T spread uniformly over a `--window` (60 s) that opens once they are all started (the instances are spread
   over one definition per 0.25 s of the window), then a notification to the deal's owner, then a 30-day wait.
   A real `celery worker -B` (2 pool processes; beat's `crm.processes.tasks.tick` every PROCESSES_TICK_SECONDS)
   fires them. Delay = the moment the runner ended the wait (the step's finished_at) - its due time; p50/p95/p99/
   max and the rate. Baseline at the same due times, in a second worker (1 process) so the two pools do not queue
   behind each other: as many no-op Celery tasks queued with `eta` - Celery's own scheduling.
2. Record-update throughput: `deal_update`, each followed by the outbox delivery in-process (`deliver_pending`,
   every registered consumer, processes.triggers among them), with no active definition vs 20 active ones of the
   kinds administrators make (record_updated with conditions that do not match, stage_entered, date triggers on
   a custom date field and on expected_close_date, record_created, forms, calls, schedules, manual; on deals,
   leads, companies and contacts). Rounds alternate the two; medians. Target: at most 15% slower with 20.
3. Memory flat in the number of waiting instances: in a fresh process each (bench/processes_probe.py), (a) a
   runner cycle (`timers.fire_due()` firing 200 due timers, then `timers.due_refresh`) and (b) the trigger
   consumer delivering 200 deal updates with the 20 definitions active; peak RSS and the operation's tracemalloc
   peak, with a tenth of the instances waiting and with all of them. Target: ratio ~1.0.

`--quick`: 1,000 instances, a 20 s window, fewer update rounds (a smoke test).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")
os.environ.setdefault("SCHEMA_POOL_SIZE", "0")

from bench.processes_worker import BASELINE_QUEUE, DELAYS, NOOP
from bench.provisioning import _percentile

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "kontor-bench-processes"
PASSWORD = "bench-password-for-processes-42"
TEAM = 5
BATCH = 100  # instances started per transaction
PROBE_TIMERS = 200  # timers the runner probe fires (one runner batch)
PROBE_UPDATES = 200  # deal updates the trigger probe delivers
SLOWDOWN_LIMIT = 0.15
MEMORY_RATIO_LIMIT = 1.25
DEFINITIONS_PER_SECOND = 4  # of the timer window: due times 0.25 s apart


# --- setting up --------------------------------------------------------------------------------------------


def _open() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from platform_core.celery import app as celery_app
    from tenants.services import public_tenant_ensure, schema_script_ensure

    settings.DEBUG = False
    settings.EVENTS_DISPATCH_EAGER = False  # deliveries are called by the bench (2) or run by the worker
    celery_app.conf.task_default_queue = QUEUE
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    public_tenant_ensure()
    schema_script_ensure()


def _workspace(deals: int) -> tuple[Any, Any]:
    from django_tenants.utils import tenant_context

    from crm.customfields.services import custom_field_create
    from crm.seed import SeedSize, seed_workspace
    from tenants.accounts.services import user_create
    from tenants.context import use_public_schema
    from tenants.services import workspace_create

    sub = f"pbench{int(time.time())}"
    created = workspace_create(
        company_name="Processes bench", subdomain=sub, owner_email=f"owner@{sub}.test", owner_password=PASSWORD,
        owner_name="Bench Owner",
    )  # fmt: skip
    with tenant_context(created.tenant):
        from tenants.accounts.models import Team

        sales = Team.objects.create(name="Sales", head=created.owner)
        owners = [created.owner.pk] + [
            user_create(email=f"user{i}@{sub}.test", password=PASSWORD, full_name=f"Manager {i}", team=sales).pk
            for i in range(1, TEAM)
        ]
        started = time.perf_counter()
        size = SeedSize(
            companies=max(50, deals // 20), contacts=max(100, deals // 5), deals=deals, activities=0, leads=50
        )
        report = seed_workspace(size=size, owner_ids=owners)
        custom_field_create(
            actor=created.owner, record_type="deal", label="Warranty ends", field_type="date", key="warranty_ends"
        )
        print(f"Seeded {sub}: {sum(report.rows.values()):,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    use_public_schema()
    return created.tenant, created.owner


def _process(owner: Any, name: str, draft: dict[str, Any], *, active: bool = False) -> Any:
    """A definition made as an administrator makes it (create, publish, and activate when asked)."""
    from crm.processes import services

    definition = services.definition_create(actor=owner, name=name, draft=draft)
    services.definition_publish(actor=owner, definition=definition)
    if active:
        services.definition_set_active(actor=owner, definition=definition, active=True)
    definition.refresh_from_db()
    return definition


def _set_active(owner: Any, definitions: list[Any], active: bool) -> None:
    from crm.processes import services

    for definition in definitions:
        services.definition_set_active(actor=owner, definition=definition, active=active)


def _waiting_steps(until: datetime.datetime | None = None) -> list[dict[str, Any]]:
    first: dict[str, Any] = (
        {"id": "pause", "type": "wait", "until": until.isoformat()}
        if until is not None
        else {"id": "pause", "type": "wait", "duration": {"days": 30}}
    )
    return [
        first,
        {"id": "told", "type": "notify", "to": {"to": "owner"}, "text": "{process.name}: {record.title}"},
        {"id": "later", "type": "wait", "duration": {"days": 30}},
    ]


def _start_many(pairs: list[tuple[Any, int]], key: str, owner: Any) -> float:
    """Start an instance per (definition, deal id) through the engine, a transaction per BATCH; seconds."""
    from django.db import transaction

    from crm.processes import engine

    started = time.perf_counter()
    for at in range(0, len(pairs), BATCH):
        with transaction.atomic():
            for n, (definition, deal_id) in enumerate(pairs[at : at + BATCH], start=at):
                engine.instance_start(
                    definition=definition,
                    version=definition.current,
                    record_type="deal",
                    record_id=deal_id,
                    start_key=f"{key}:{n}",
                    actor=owner,
                )
    return time.perf_counter() - started


def _twenty(owner: Any) -> list[Any]:
    """20 definitions of the kinds administrators make, on deals and the other record types (inactive)."""
    from crm.deals.models import Stage
    from tenants.accounts.models import Team

    won = Stage.objects.filter(outcome="won").order_by("id").first()
    team = Team.objects.order_by("id").values_list("pk", flat=True).first()
    some_open = Stage.objects.filter(outcome="open").order_by("-id").first()
    never = {
        "all": [{"field": "title", "op": "eq", "value": "no such title"}, {"field": "amount", "op": "gt", "value": "1"}]
    }
    task = [{"id": "t", "type": "task", "title": "Follow up {record.name}", "assign": {"to": "owner"},
             "deadline": {"hours": 4, "working": True}, "wait": True}]  # fmt: skip
    approval = [{"id": "a", "type": "approval", "approvers": {"to": "team_head"}, "mode": "any", "hold": True,
                 "timeout": {"days": 1, "working": True}}, *task]  # fmt: skip
    triggers: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
        ("Big amount", {"type": "record_updated", "record_type": "deal", "fields": ["amount"],
                        "condition": {"field": "amount", "op": "gt", "value": "1000000000000"}}, task),
        ("Discount approval", {"type": "record_updated", "record_type": "deal",
                               "condition": {"field": "discount_percent", "op": "gt", "value": "15"}}, approval),
        ("Renamed", {"type": "record_updated", "record_type": "deal", "condition": never}, task),
        ("Deal won: shipment", {"type": "stage_entered", "record_type": "deal", "outcome": "won"}, approval),
        ("Deal lost: ask why", {"type": "stage_entered", "record_type": "deal", "outcome": "lost"}, task),
        ("Negotiation", {"type": "stage_entered", "record_type": "deal", "stage": getattr(some_open, "pk", None)},
         task),
        ("Warranty ends", {"type": "date", "record_type": "deal", "field": "cf:warranty_ends",
                           "offset": {"days": -14}, "at": "09:00"}, task),
        ("Close date near", {"type": "date", "record_type": "deal", "field": "expected_close_date",
                             "offset": {"days": -3}, "at": "09:00"}, task),
        ("Huge new deal", {"type": "record_created", "record_type": "deal",
                           "condition": {"field": "amount", "op": "gt", "value": "1000000000"}}, approval),
        ("Deal check", {"type": "manual", "record_type": "deal"}, task),
        ("Deal handover", {"type": "manual", "record_type": "deal"}, approval),
        ("New web lead", {"type": "record_created", "record_type": "lead"},
         [{**task[0], "assign": {"to": "round_robin", "team": team}, "deadline": {"minutes": 15, "working": True}}]),
        ("Form lead", {"type": "form", "connection": None}, task),
        ("Lead changed", {"type": "record_updated", "record_type": "lead",
                          "condition": {"field": "title", "op": "eq", "value": "no such title"}}, task),
        ("Lead check", {"type": "manual", "record_type": "lead"}, task),
        ("New company", {"type": "record_created", "record_type": "company"}, task),
        ("Company changed", {"type": "record_updated", "record_type": "company", "fields": ["name"]}, task),
        ("Contact changed", {"type": "record_updated", "record_type": "contact",
                             "condition": {"field": "first_name", "op": "eq", "value": "no such name"}}, task),
        ("Missed call", {"type": "call", "direction": "inbound", "missed": True}, task),
        ("Weekly review", {"type": "schedule", "every": "week", "weekday": 0, "at": "09:00"},
         [{"id": "n", "type": "notify", "to": {"to": "user", "user": owner.pk}, "text": "Review the pipeline"}]),
    ]  # fmt: skip
    assert won is not None and len(triggers) == 20
    return [_process(owner, name, {"trigger": trigger, "steps": steps}) for name, trigger, steps in triggers]


# --- workers -----------------------------------------------------------------------------------------------


def _start_worker(tmp: str, name: str, args: list[str]) -> subprocess.Popen[bytes]:
    log = open(Path(tmp) / f"{name}.log", "wb")  # noqa: SIM115
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CELERY_TASK_DEFAULT_QUEUE": QUEUE, "SCHEMA_POOL_SIZE": "0"}
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "platform_core.celery", "worker", *args),
            *("-l", "warning", "--without-mingle", "--without-gossip", "-n", f"{name}@%h"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _stop(worker: subprocess.Popen[bytes] | None) -> None:
    if worker is not None and worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def _wait(condition: Callable[[], bool], timeout: float, every: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


# --- 1. timer delay ----------------------------------------------------------------------------------------


def timer_delay(
    owner: Any, deal_ids: list[int], *, window: float, start_rate: float, tmp: str
) -> tuple[list[tuple[str, str, str]], bool, dict[str, Any]]:
    import redis
    from django.conf import settings

    from crm.processes.models import StepRun
    from platform_core.celery import app as celery_app

    n = len(deal_ids)
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(DELAYS)
    count = max(1, min(n, int(window * DEFINITIONS_PER_SECOND)))
    # The window opens once every instance is started and the baseline queued (estimated from the first
    # instances' rate, with room to spare).
    opens = time.time() + count * 0.05 + 1.5 * n / start_rate + n / 2000 + 20
    dues = [opens + window * (k + 0.5) / count for k in range(count)]
    workers = [
        _start_worker(tmp, "processes", ["-B", "-s", f"{tmp}/beat", "-Q", QUEUE, "-c", "2"]),
        _start_worker(tmp, "baseline", ["-Q", BASELINE_QUEUE, "-c", "1", "--include", "bench.processes_worker"]),
    ]
    try:
        manual = {"type": "manual", "record_type": "deal"}
        untils = [datetime.datetime.fromtimestamp(due, tz=datetime.UTC) for due in dues]
        definitions = [
            _process(owner, f"Wait {k}", {"trigger": manual, "steps": _waiting_steps(moment)})
            for k, moment in enumerate(untils)
        ]
        pairs = [(definitions[i % count], deal_id) for i, deal_id in enumerate(deal_ids)]
        seconds = _start_many(pairs, "timers", owner)
        started_rate = n / seconds
        print(f"Started {n:,} instances in {seconds:.1f} s ({started_rate:.0f}/s)", flush=True)
        for i in range(n):
            due = dues[i % count]
            celery_app.send_task(
                NOOP, args=[i, due], eta=datetime.datetime.fromtimestamp(due, tz=datetime.UTC), queue=BASELINE_QUEUE
            )
        margin = opens - time.time()
        print(f"Window opens in {margin:.0f} s, lasts {window:.0f} s", flush=True)
        ids = [d.pk for d in definitions]
        runs = StepRun.objects.filter(instance__definition_id__in=ids, step_id="pause")
        fired = _wait(
            lambda: runs.filter(state="done").count() >= n and client.hlen(DELAYS) >= n,
            timeout=max(margin, 0) + window + max(300.0, n / 8),
            every=2.0,
        )
    finally:
        for worker in workers:
            _stop(worker)
    moments = [
        (due.timestamp(), done.timestamp())
        for due, done in runs.filter(state="done").values_list("due_at", "finished_at")
        if due is not None and done is not None
    ]
    delays = [done - due for due, done in moments]
    told = StepRun.objects.filter(instance__definition_id__in=ids, step_id="told").count()
    raw: dict[bytes, bytes] = client.hgetall(DELAYS)  # type: ignore[assignment]
    eta = [float(v) for v in raw.values()]
    client.delete(DELAYS)
    span = max(done for _, done in moments) - min(due for due, _ in moments) if moments else 0.0
    ran = [dues[int(k) % count] + float(v) for k, v in raw.items()]
    eta_span = max(ran) - min(dues) if ran else 0.0

    def pcts(values: list[float]) -> str:
        if not values:
            return "-"
        return " / ".join(f"{_percentile(values, p):.2f}" for p in (50, 95, 99)) + f" / {max(values):.2f}"

    rows = [
        ("instances started (instance_start)", f"{started_rate:.0f}/s", f"{n:,} in {seconds:.0f} s, {BATCH}/tx"),
        ("timers due in the window", f"{n:,} over {window:.0f} s", f"{n / window:.0f}/s needed, {count} due times"),
        ("timer delay p50/p95/p99/max (s)", pcts(delays), f"Celery eta no-op: {pcts(eta)}"),
        ("timers fired / rate", f"{len(delays):,} at {len(delays) / span:.0f}/s" if span else "-",
         f"eta no-ops run: {len(eta):,} at {len(eta) / eta_span:.0f}/s" if eta_span else "-"),
        ("fired once (one notify step each)", f"{told:,}", f"{n:,}"),
    ]  # fmt: skip
    p95 = _percentile(delays, 95) if delays else float("inf")
    ok = fired and told == n and margin > 0
    if margin <= 0:
        print("WARNING: the instances took longer to start than estimated: timers came due meanwhile", flush=True)
    return rows, ok, {"p95": p95, "definitions": definitions}


# --- 2. update throughput ----------------------------------------------------------------------------------


def _updater(owner: Any, deals: list[Any]) -> Callable[[int], None]:
    from crm.deals.services import deal_update
    from tenants.events.outbox import deliver_pending

    today = datetime.date.today()

    def update(i: int) -> None:
        deal = deals[i % len(deals)]
        data: dict[str, Any] = {"amount": str(1000 + i % 5000)}
        if i % 2:
            data["custom_fields"] = {"warranty_ends": (today + datetime.timedelta(days=100 + i % 300)).isoformat()}
        deal_update(actor=owner, deal=deal, data=data)
        while deliver_pending().more:
            pass

    return update


def update_throughput(
    owner: Any, deals: list[Any], twenty: list[Any], *, rounds: int, per_round: int
) -> tuple[list[tuple[str, str, str]], bool]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    update = _updater(owner, deals)
    counter = iter(range(10**9))
    rates: dict[bool, list[float]] = {False: [], True: []}
    queries: dict[bool, int] = {}
    for active in (False, True):
        _set_active(owner, twenty, active)
        for _ in range(20):  # warm-up
            update(next(counter))
        with CaptureQueriesContext(connection) as captured:
            update(next(counter))
        queries[active] = len(captured.captured_queries)
    for r in range(rounds):
        for active in (False, True) if r % 2 == 0 else (True, False):
            _set_active(owner, twenty, active)
            started = time.perf_counter()
            for _ in range(per_round):
                update(next(counter))
            rates[active].append(per_round / (time.perf_counter() - started))
        print(f"round {r + 1}: without {rates[False][-1]:.0f}/s, with 20 {rates[True][-1]:.0f}/s", flush=True)
    _set_active(owner, twenty, False)
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    slowdown = without / with_ - 1
    ok = slowdown <= SLOWDOWN_LIMIT
    return [
        ("deal_update + delivery, no definitions", f"{without:.0f}/s", f"{queries[False]} queries/update"),
        ("deal_update + delivery, 20 active", f"{with_:.0f}/s", f"{queries[True]} queries/update"),
        ("slower with 20 (median of rounds)", f"{slowdown:+.1%}", f"<= {SLOWDOWN_LIMIT:.0%}, {rounds} x {per_round}"),
    ], ok


# --- 3. memory ---------------------------------------------------------------------------------------------


def _probe(*args: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "processes_probe.py"), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"probe {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def memory_point(owner: Any, schema: str, deals: list[Any], twenty: list[Any], label: str) -> dict[str, Any]:
    """The runner probe and the trigger probe with the instances waiting now."""
    from crm.processes.models import Instance, Timer
    from tenants.events.outbox import GAP_WAIT

    until = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(hours=1)
    due = _process(owner, f"Due {label}", {"trigger": {"type": "manual", "record_type": "deal"},
                                           "steps": _waiting_steps(until)})  # fmt: skip
    _start_many([(due, d.pk) for d in deals[:PROBE_TIMERS]], f"due-{label}", owner)
    waiting = Instance.objects.filter(state="running").count()
    pending = Timer.objects.count()
    runner = _probe("runner", schema, str(until.timestamp() + 1))
    _set_active(owner, twenty, True)
    update = _updater(owner, deals)
    from crm.deals.services import deal_update

    for i in range(PROBE_UPDATES):
        deal = deals[i % len(deals)]
        # Amounts no earlier update set: an update that changes nothing writes no event.
        deal_update(actor=owner, deal=deal, data={"amount": str(10_000 * (2 if label == "small" else 3) + i)})
    time.sleep(GAP_WAIT.total_seconds() + 0.5)  # a gap in the event ids is waited for, then passed
    consumer = _probe("triggers", schema)
    if consumer.get("behind") or consumer.get("error"):
        print(f"WARNING: the trigger probe left {consumer.get('behind')} events: {consumer.get('error')}", flush=True)
    _set_active(owner, twenty, False)
    update(0)  # the other consumers catch up
    return {"waiting": waiting, "pending": pending, "runner": runner, "consumer": consumer}


def memory_rows(small: dict[str, Any], large: dict[str, Any]) -> tuple[list[tuple[str, str, str]], bool]:
    rows = [
        ("waiting instances / pending timers", f"{large['waiting']:,} / {large['pending']:,}",
         f"{small['waiting']:,} / {small['pending']:,}"),
    ]  # fmt: skip
    ok = True
    for part, name, what in (
        ("runner", "runner cycle", f"{PROBE_TIMERS} timers fired"),
        ("consumer", "trigger consumer", f"{PROBE_UPDATES} deal updates"),
    ):
        big, little = large[part], small[part]
        rss_ratio = big["rss_peak_mb"] / little["rss_peak_mb"]
        traced_ratio = big["traced_peak_mb"] / max(little["traced_peak_mb"], 1e-6)
        ok = ok and rss_ratio <= MEMORY_RATIO_LIMIT and traced_ratio <= MEMORY_RATIO_LIMIT
        rows += [
            (f"{name}: peak RSS (MB)", f"{big['rss_peak_mb']:.0f} (x{rss_ratio:.2f})",
             f"{little['rss_peak_mb']:.0f}; {what} in {big['seconds']:.1f} / {little['seconds']:.1f} s"),
            (f"{name}: tracemalloc peak (MB)", f"{big['traced_peak_mb']:.1f} (x{traced_ratio:.2f})",
             f"{little['traced_peak_mb']:.1f}; done {big['done']:.0f} / {little['done']:.0f}"),
        ]  # fmt: skip
    return rows, ok


# --- the run -----------------------------------------------------------------------------------------------


def _print(title: str, rows: list[tuple[str, str, str]], header: str) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}\n{'figure':<{width}}  {'value':>24}  {header}")
    for name, value, other in rows:
        print(f"{name:<{width}}  {value:>24}  {other}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=10_000, help="running instances with timers")
    parser.add_argument("--window", type=float, default=60.0, help="seconds the due times are spread over")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the update throughput")
    parser.add_argument("--updates", type=int, default=300, help="deal updates per round and mode")
    parser.add_argument("--quick", action="store_true", help="1,000 instances, a 20 s window, 3 rounds of 100")
    args = parser.parse_args()
    if args.quick:
        args.instances, args.window, args.rounds, args.updates = 1000, 20.0, 3, 100
    n = args.instances

    _open()
    import redis
    from django.conf import settings
    from django_tenants.utils import tenant_context

    from crm.deals.models import Deal
    from crm.processes import timers
    from tenants.events.outbox import PENDING_KEY
    from tenants.services import workspace_delete

    client = redis.Redis.from_url(settings.REDIS_URL)
    tenant, owner = _workspace(n)
    ok = True
    try:
        with tenant_context(tenant), tempfile.TemporaryDirectory() as tmp:
            deal_ids = list(Deal.objects.order_by("id").values_list("id", flat=True)[:n])
            deals = list(Deal.objects.filter(line_items__isnull=True).order_by("id")[:PROBE_UPDATES])
            twenty = _twenty(owner)
            # A tenth of the instances wait 30 days: the small population of the memory figures, and the
            # rate that sizes the timer window's start.
            standing = _process(owner, "Standing", {"trigger": {"type": "manual", "record_type": "deal"},
                                                    "steps": _waiting_steps()})  # fmt: skip
            first = max(1, n // 10)
            seconds = _start_many([(standing, d) for d in deal_ids[:first]], "standing", owner)
            start_rate = first / seconds
            print(f"Started {first:,} waiting instances in {seconds:.1f} s ({start_rate:.0f}/s)", flush=True)
            small = memory_point(owner, tenant.schema_name, deals, twenty, "small")

            delay_rows, delay_ok, _info = timer_delay(
                owner, deal_ids, window=args.window, start_rate=start_rate, tmp=tmp
            )
            if not delay_ok:
                print((Path(tmp) / "processes.log").read_text()[-3000:], flush=True)
            large = memory_point(owner, tenant.schema_name, deals, twenty, "large")
            update_rows, update_ok = update_throughput(owner, deals, twenty, rounds=args.rounds, per_round=args.updates)
            memory, memory_ok = memory_rows(small, large)
            _print("1. Timer delay (due -> fired)", delay_rows, "baseline / note")
            _print("2. Record-update throughput", update_rows, "note")
            _print(f"3. Memory, {large['waiting']:,} vs {small['waiting']:,} waiting", memory, "with fewer waiting")
            ok = delay_ok and update_ok and memory_ok
            print(
                f"\n{'ok' if ok else 'MISSED'} (every timer fired once; updates at most {SLOWDOWN_LIMIT:.0%} slower "
                f"with 20 definitions; memory ratio <= {MEMORY_RATIO_LIMIT})"
            )
    finally:
        schema = tenant.schema_name
        workspace_delete(tenant=tenant)
        client.zrem(timers.DUE_KEY, schema)
        client.srem(PENDING_KEY, schema)
        client.delete(QUEUE, BASELINE_QUEUE, DELAYS, f"kontor:processes:queued:{schema}")
        print(f"Dropped the workspace {schema}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
