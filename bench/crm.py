"""CRM at ten years' size: server time and queries per request, full-size workspace beside a small one.

    make bench-crm            # or: python -m platform_core.embedded run -- python bench/crm.py [--reuse]

Seeds (COPY) one workspace with 200,000 companies, 1,000,000 contacts, 300,000 deals and 1,000,000 activities
and another with 1,000 contacts, in a scratch database `<name>_crmbench` (kept for `--reuse`; `--drop` removes
it). Then times each page and API call in-process through the whole Django stack (middleware, session, views,
templates), as the owner of each workspace, and prints p50/p95 milliseconds and queries per request for both
sizes and the ratio full/small. Targets on a 2-core machine at full size: pages and API p95 < 100 ms, search
p95 < 50 ms, ratio < 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.provisioning import _percentile, _recreate_database
from platform_core.embedded import database_url

FULL = {"companies": 200_000, "contacts": 1_000_000, "deals": 300_000, "activities": 1_000_000, "leads": 20_000}
SMALL = {"companies": 200, "contacts": 1_000, "deals": 300, "activities": 1_000, "leads": 20}
TEAM = 15  # people in the company using it
PASSWORD = "bench-password-for-crm-42"


@dataclass
class Measure:
    name: str
    target_ms: float
    p50: float = 0.0
    p95: float = 0.0
    queries: int = 0


def _database() -> dict[str, Any]:
    import environ

    config: dict[str, Any] = environ.Env.db_url_config(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor")
    )
    config["NAME"] = f"{config['NAME'] or 'kontor'}_crmbench"
    return config


def _database_exists(db: dict[str, Any]) -> bool:
    import psycopg

    params = {
        k: v
        for k, v in {
            "host": db["HOST"],
            "port": db["PORT"] or None,
            "user": db["USER"],
            "password": db["PASSWORD"] or None,
        }.items()
        if v
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db["NAME"],)).fetchone() is not None


def open_database(*, reuse: bool) -> dict[str, Any]:
    """Point Django at the scratch database (seeded earlier when `reuse` and it exists), set it up, migrate."""
    db = _database()
    reuse = reuse and _database_exists(db)
    if not reuse:
        _recreate_database(db)
    os.environ["DATABASE_URL"] = database_url(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], name=db["NAME"]
    )
    os.environ["SCHEMA_POOL_SIZE"] = "0"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tenants.services import public_tenant_ensure

    settings.DEBUG = False
    # On reuse, migrations added since the seeding apply to the workspaces.
    call_command("migrate_schemas", shared=not reuse, interactive=False, verbosity=0)
    public_tenant_ensure()
    return db


def bench_workspace(sub: str, size: dict[str, int]) -> Any:
    """The seeded workspace `sub`, seeding it (with TEAM people owning its records) when it does not exist."""
    from django.conf import settings
    from django_tenants.utils import tenant_context

    from crm.seed import SeedSize, seed_workspace
    from tenants.accounts.services import user_create
    from tenants.context import use_public_schema
    from tenants.models import Domain
    from tenants.services import workspace_create

    domain = Domain.objects.filter(domain=f"{sub}.{settings.BASE_DOMAIN}").select_related("tenant").first()
    if domain is not None:
        return domain.tenant
    created = workspace_create(
        company_name=f"Bench {sub}",
        subdomain=sub,
        owner_email=f"owner@{sub}.test",
        owner_password=PASSWORD,
        owner_name="Bench Owner",
    )
    tenant = created.tenant
    with tenant_context(tenant):
        owners = [created.owner.pk] + [
            user_create(email=f"user{i}@{sub}.test", password=PASSWORD, full_name=f"Manager {i}").pk
            for i in range(1, TEAM)
        ]
        started = time.perf_counter()
        report = seed_workspace(size=SeedSize(**size), owner_ids=owners)
        rows = sum(report.rows.values())
        print(f"Seeded {sub}: {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        for table, count in report.rows.items():
            print(f"    {table:<14} {count:>10,} rows {report.seconds[table]:7.1f} s", flush=True)
    use_public_schema()
    return tenant


def crm_calls(client: Any, *, company_id: int, fragment: str, phone: str) -> list[tuple[Measure, Callable[[], Any]]]:
    """The requests a sales team makes all day, each with its p95 target."""
    from django.urls import reverse

    deal_body = json.dumps({"title": "Bench deal", "company": company_id, "amount": "1500.00", "currency": "RUB"})
    return [
        (Measure("company list page", 100), lambda: client.get(reverse("companies:list"))),
        (
            Measure("client card (largest company)", 100),
            lambda: client.get(reverse("companies:detail", args=[company_id])),
        ),
        (Measure("pipeline board", 100), lambda: client.get(reverse("deals:board"))),
        (
            Measure("search: name fragment", 50),
            lambda: client.get(reverse("search"), {"q": fragment}, HTTP_HX_REQUEST="true"),
        ),
        (
            Measure("search: phone number", 50),
            lambda: client.get(reverse("search"), {"q": phone}, HTTP_HX_REQUEST="true"),
        ),
        (
            # '8 916 123': the start of a national number, trunk prefix included.
            Measure("search: phone start (8 ...)", 50),
            lambda: client.get(reverse("search"), {"q": phone[:9]}, HTTP_HX_REQUEST="true"),
        ),
        (
            Measure("search: phone last digits", 50),
            lambda: client.get(reverse("search"), {"q": phone[-9:]}, HTTP_HX_REQUEST="true"),
        ),
        (Measure("API contact list (50)", 100), lambda: client.get("/api/v1/contacts/", {"limit": 50})),
        (
            Measure("API deal create", 100),
            lambda: client.post("/api/v1/deals/", deal_body, content_type="application/json"),
        ),
    ]


def timed(call: Callable[[], Any]) -> tuple[float, int, int]:
    """Milliseconds, queries and status of one request through the whole stack."""
    elapsed, _sql, queries, status = timed_with_sql(call)
    return elapsed, queries, status


def timed_with_sql(call: Callable[[], Any]) -> tuple[float, float, int, int]:
    """Milliseconds of one request, the milliseconds of it spent in SQL, its queries and its status."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenants.context import use_public_schema

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
    use_public_schema()
    sql = sum(float(q["time"]) for q in captured.captured_queries) * 1000
    return elapsed, sql, len(captured.captured_queries), response.status_code


def national_format(phone: str) -> str:
    return f"8 {phone[2:5]} {phone[5:8]}-{phone[8:10]}-{phone[10:12]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="reuse the seeded database of an earlier run")
    parser.add_argument("--drop", action="store_true", help="drop the scratch database at the end")
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per measurement")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (quick trials)")
    args = parser.parse_args()

    db = open_database(reuse=args.reuse)
    from django.test import Client
    from django_tenants.utils import tenant_context

    from tenants.accounts.models import User
    from tenants.context import use_public_schema
    from tenants.models import Domain

    full_size = {k: max(1, int(v * args.scale)) for k, v in FULL.items()}
    big = bench_workspace("big", full_size)
    small = bench_workspace("small", SMALL)

    def measurements(tenant: Any) -> list[Measure]:
        host = Domain.objects.get(tenant=tenant).domain
        with tenant_context(tenant):
            from crm.activities.models import Activity
            from crm.companies.models import Company
            from crm.contacts.models import Contact

            owner = User.objects.get(email__startswith="owner@")
            top = Company.objects.order_by("id").first()
            assert top is not None
            records = (Contact.objects.filter(company=top).count(), Activity.objects.filter(company=top).count())
            sample = Contact.objects.order_by("id")[Contact.objects.count() // 2]
            fragment = sample.last_name[:4]
            national = national_format(sample.phones[0])
            client = Client(HTTP_HOST=host)
            client.force_login(owner)  # the session lives in the workspace's schema
        use_public_schema()
        print(
            f"  {host}: client card of company #{top.pk} with {records[0]:,} contacts and {records[1]:,} "
            f"activities; search '{fragment}' and '{national}'",
            flush=True,
        )
        results = []
        for measure, call in crm_calls(client, company_id=top.pk, fragment=fragment, phone=national):
            _, _, status = timed(call)  # warm-up, and a check that the page exists
            if status >= 400 and status != 501:
                raise SystemExit(f"{measure.name}: HTTP {status} on {host}")
            times, queries = [], 0
            for _ in range(args.repeat):
                elapsed, count, status = timed(call)
                times.append(elapsed)
                queries = max(queries, count)
            measure.p50, measure.p95 = _percentile(times, 50), _percentile(times, 95)
            measure.queries = queries if status < 400 else -1
            results.append(measure)
        return results

    print("Measuring...", flush=True)
    big_results = measurements(big)
    small_results = measurements(small)
    print(
        f"\n{'request':<32} {'full p50':>9} {'full p95':>9} {'small p95':>9} {'ratio':>6} {'queries':>9} "
        f"{'target p95':>10}"
    )
    for b, s in zip(big_results, small_results, strict=True):
        if b.queries < 0:
            print(f"{b.name:<32} {'(page not available)':>40}")
            continue
        ratio = b.p95 / s.p95 if s.p95 else float("nan")
        verdict = "ok" if b.p95 < b.target_ms and ratio < 2 else "MISSED"
        print(
            f"{b.name:<32} {b.p50:8.1f}  {b.p95:8.1f}  {s.p95:8.1f}  {ratio:5.2f} {b.queries:>4}/{s.queries:<4} "
            f"{b.target_ms:>6.0f} ms {verdict}"
        )
    if args.drop:
        from django.db import connections

        connections.close_all()
        _recreate_database(db, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
