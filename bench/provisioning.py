"""Signup latency: from form submit to a usable workspace, for each way of getting a schema.

    make bench        # or: python -m platform_core.embedded run -- python bench/provisioning.py [-n 20]

Each signup POSTs the public signup form through the whole Django stack, follows the one-time link into the
new workspace and loads its home page as the logged-in owner. That is the time a visitor waits. The three
ways run one after the other in the same run, on the same database (a scratch database `<name>_bench`,
dropped afterwards):
  (a) pool    - the pool holds a ready schema for every signup (refilled before, outside the timing);
  (b) script  - the pool is empty, the schema script made from the migrated template is replayed;
  (c) migrate - no pool and no template: a new schema is migrated from scratch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from platform_core.embedded import database_url


def _bench_database() -> dict[str, Any]:
    config: dict[str, Any] = environ.Env.db_url_config(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor")
    )
    config["NAME"] = f"{config['NAME'] or 'kontor'}_bench"
    return config


def _recreate_database(db: dict[str, Any], *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    name = db["NAME"]
    admin = {"host": db["HOST"], "port": db["PORT"] or None, "user": db["USER"], "password": db["PASSWORD"] or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **{k: v for k, v in admin.items() if v}) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--signups", type=int, default=20, help="signups per method (default 20)")
    args = parser.parse_args()

    bench_db = _bench_database()
    _recreate_database(bench_db)
    os.environ["DATABASE_URL"] = database_url(
        host=bench_db["HOST"],
        port=bench_db["PORT"],
        user=bench_db["USER"],
        password=bench_db["PASSWORD"],
        name=bench_db["NAME"],
    )
    os.environ["SCHEMA_POOL_SIZE"] = "0"  # the benchmark decides when the pool is filled

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from platform_core.celery import app as celery_app
    from tenants.context import use_public_schema
    from tenants.fleet.script import schema_script_refresh
    from tenants.models import Tenant
    from tenants.services import public_tenant_ensure, schema_pool_refill, schema_template_ensure

    settings.DEBUG = False
    celery_app.conf.task_default_queue = "kontor-bench"  # refills queued by signups wait here, unconsumed
    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure()
        schema_template_ensure()
        schema_script_refresh()
        password = "bench-password-for-signups-42"

        def signup(tag: str, i: int) -> float:
            public = Client(HTTP_HOST=settings.BASE_DOMAIN)
            subdomain = f"{tag}{i:03d}"
            started = time.perf_counter()
            response = public.post(
                "/signup/",
                {
                    "company_name": f"Bench {tag} {i}",
                    "subdomain": subdomain,
                    "owner_name": "Bench Owner",
                    "owner_email": f"owner@{subdomain}.test",
                    "owner_password": password,
                },
            )
            assert response.status_code == 302, response.content[:500]
            target = urlsplit(response["Location"])
            workspace = Client(HTTP_HOST=target.netloc)
            landed = workspace.get(f"{target.path}?{target.query}")
            assert landed.status_code == 302 and landed["Location"] == "/", landed
            home = workspace.get("/")
            assert home.status_code == 200, home
            elapsed = time.perf_counter() - started
            use_public_schema()
            return elapsed

        def run(tag: str) -> list[float]:
            times = []
            for i in range(args.signups):
                times.append(signup(tag, i))
                tenant = Tenant.objects.get(schema_name=f"ws_{tag}{i:03d}")
                assert tenant.kind == Tenant.Kind.WORKSPACE
            return times

        # Warm-up: imports, template caches, password validator word lists, connection.
        schema_pool_refill(size=1)
        signup("warm", 0)

        results: dict[str, list[float]] = {}
        t0 = time.perf_counter()
        schema_pool_refill(size=args.signups)
        fill_seconds = time.perf_counter() - t0
        results["(a) pool"] = run("pool")
        assert not Tenant.objects.filter(kind=Tenant.Kind.POOLED).exists()
        results["(b) script"] = run("script")
        Tenant.objects.get(kind=Tenant.Kind.TEMPLATE).delete(force_drop=True)
        results["(c) migrate"] = run("migrate")

        baseline = statistics.median(results["(c) migrate"])
        print(f"\nSignup to a usable workspace, {args.signups} signups each, same database, one run")
        print(f"{'method':<12} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'p50 vs migrate':>15}")
        for name, times in results.items():
            p50, p95 = _percentile(times, 50) * 1000, _percentile(times, 95) * 1000
            print(f"{name:<12} {p50:9.1f} {p95:9.1f} {max(times) * 1000:9.1f} {baseline / (p50 / 1000):14.1f}x")
        p95_pool = _percentile(results["(a) pool"], 95) * 1000
        print(f"\nTarget (a) p95 < 300 ms: {'met' if p95_pool < 300 else 'NOT met'} ({p95_pool:.1f} ms)")
        print(f"Filling the pool with {args.signups} schemas in the background took {fill_seconds:.1f} s")
    finally:
        from django.db import connections

        connections.close_all()
        _recreate_database(bench_db, drop_only=True)
        import redis

        redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).delete("kontor-bench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
