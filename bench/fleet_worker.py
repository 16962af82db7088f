"""The subprocesses of bench/fleet.py (not run by hand): each prints one JSON line, its result.

python bench/fleet_worker.py baseline SCHEMA,SCHEMA,... --prepare 0003 --to 0005
    django-tenants' `migrate_schemas` of the bench app `fleetapp`, one schema at a time (as its standard
    executor does), in one process: `--prepare` (untimed) brings each schema to a starting migration, then
    each schema's migration to `--to` is timed. Needs DJANGO_SETTINGS_MODULE=bench.fleet_settings.
python bench/fleet_worker.py memory HOSTS.json --sample-every K
    A fresh worker: one API request per workspace through Django's WSGI handler (as gunicorn calls it, so
    the request_started/finished connection handling runs), then its backend's memory read from
    pg_backend_memory_contexts every K workspaces and at the end. DATABASE_CONN_MAX_SCHEMAS in the
    environment turns connection recycling on or off.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")


def baseline(schemas: list[str], *, prepare: str, to: str) -> dict[str, Any]:
    from django.core.management import call_command

    from tenants.context import use_public_schema

    def migrate(schema: str, target: str) -> None:
        call_command("migrate_schemas", "fleetapp", target, schema_name=schema, interactive=False, verbosity=0)
        use_public_schema()

    if prepare:
        for schema in schemas:
            migrate(schema, prepare)
    seconds = []
    for schema in schemas:
        started = time.perf_counter()
        migrate(schema, to)
        seconds.append(time.perf_counter() - started)
    return {"schemas": len(schemas), "seconds": seconds}


def memory(hosts: list[dict[str, str]], *, sample_every: int) -> dict[str, Any]:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test import RequestFactory

    handler = WSGIHandler()
    statuses: dict[str, int] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1

    def read() -> tuple[int, int, int]:
        """Bytes of CacheMemoryContext with its children (the relation and catalog caches), of every context,
        and the backend's pid. The contexts come depth-first: a context's children follow it, one level down."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, level, total_bytes, pg_backend_pid()"
                " FROM pg_get_backend_memory_contexts() WITH ORDINALITY ORDER BY ordinality"
            )
            rows = cursor.fetchall()
        cache, total, inside = 0, 0, None
        for name, level, size, _ in rows:
            total += size
            if inside is not None and level <= inside:
                inside = None
            if inside is None and name == "CacheMemoryContext":
                inside = level
            if inside is not None:
                cache += size
        return cache, total, int(rows[0][3])

    peak_cache = peak_total = 0
    backends: set[int] = set()
    started = time.perf_counter()
    for i, host in enumerate(hosts, 1):
        factory = RequestFactory(HTTP_HOST=host["host"], HTTP_AUTHORIZATION=f"Bearer {host['key']}")
        environ = factory.get("/api/v1/companies/", {"limit": 5}).environ
        response = handler(environ, start_response)  # type: ignore[arg-type]
        b"".join(response)
        response.close()  # request_finished: what a WSGI server does after each response
        if i % sample_every == 0 or i == len(hosts):
            # The backend as the last request left it (a recycled one would be reopened by this query).
            if connection.connection is not None:
                backends.add(connection.connection.info.backend_pid)
            cache, total, pid = read()
            backends.add(pid)
            peak_cache, peak_total = max(peak_cache, cache), max(peak_total, total)
    cache, total, _ = read()
    return {
        "setting": settings.DATABASE_CONN_MAX_SCHEMAS,
        "touched": len(hosts),
        "statuses": statuses,
        "cache_peak": peak_cache,
        "total_peak": peak_total,
        "cache_final": cache,
        "total_final": total,
        "backends_seen": len(backends),
        "seconds": time.perf_counter() - started,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="job", required=True)
    base = sub.add_parser("baseline")
    base.add_argument("schemas")
    base.add_argument("--prepare", default="")
    base.add_argument("--to", required=True)
    mem = sub.add_parser("memory")
    mem.add_argument("hosts")
    mem.add_argument("--sample-every", type=int, default=100)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    if args.job == "baseline":
        result = baseline(args.schemas.split(","), prepare=args.prepare, to=args.to)
    else:
        result = memory(json.loads(Path(args.hosts).read_text()), sample_every=max(1, args.sample_every))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
