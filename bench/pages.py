"""The three busiest pages, their server time split into SQL and the rest (rendering, Python).

    python bench/pages.py [--repeat 30] [--profile companies|card|board]

Reuses (or seeds) the scratch database of bench/crm.py (`<name>_crmbench`, workspace "big" at --scale) and
times, in-process through the whole Django stack as the workspace's owner, the company list, the client card
of the largest company and the pipeline board: p50/p95 of the total, of the time in SQL and of the rest, the
queries per request, and the rest's ratio to SQL (the issue's target: at most 2). `--profile` prints a
cProfile of one page's requests instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.crm import FULL, bench_workspace, open_database
from bench.provisioning import _percentile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the full size, as for bench/crm.py")
    parser.add_argument("--profile", choices=["companies", "card", "board"], help="profile this page instead")
    parser.add_argument("--language", default="", help="the owner's interface language (ru, fr, en)")
    args = parser.parse_args()

    open_database(reuse=True)
    from django.test import Client
    from django.urls import reverse
    from django_tenants.utils import tenant_context

    from tenants.accounts.models import User
    from tenants.context import use_public_schema
    from tenants.models import Domain

    big = bench_workspace("big", {k: max(1, int(v * args.scale)) for k, v in FULL.items()})
    host = Domain.objects.get(tenant=big).domain
    with tenant_context(big):
        from crm.companies.models import Company

        owner = User.objects.get(email__startswith="owner@")
        if args.language:
            User.objects.filter(pk=owner.pk).update(language=args.language)
        top = Company.objects.order_by("id").first()
        assert top is not None
        client = Client(HTTP_HOST=host)
        client.force_login(owner)
    use_public_schema()

    pages: dict[str, Any] = {
        "companies": lambda: client.get(reverse("companies:list")),
        "card": lambda: client.get(reverse("companies:detail", args=[top.pk])),
        "board": lambda: client.get(reverse("deals:board")),
    }
    if args.profile:
        call = pages[args.profile]
        for _ in range(3):
            call()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.repeat):
            call()
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        return 0

    import time

    from django.template.backends import django as django_backend

    rendering = [0.0]
    original_render = django_backend.Template.render

    def timed_render(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_render(self, *args, **kwargs)
        finally:
            rendering[0] += (time.perf_counter() - started) * 1000

    django_backend.Template.render = timed_render  # type: ignore[method-assign]

    from django.db import connection

    def timed_with_sql(call: Any) -> tuple[float, float, int, int]:
        """Like bench.crm.timed_with_sql, with each statement timed to the microsecond (Django's captured
        queries round each to a millisecond)."""
        spent = [0.0, 0]

        def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent[0] += (time.perf_counter() - started) * 1000
                spent[1] += 1

        with connection.execute_wrapper(wrapper):
            started = time.perf_counter()
            response = call()
            elapsed = (time.perf_counter() - started) * 1000
        use_public_schema()
        return elapsed, spent[0], int(spent[1]), response.status_code

    print(
        f"{'page':<12} {'total p50':>9} {'p95':>7} {'sql p50':>8} {'p95':>7} {'rest p50':>8} {'p95':>7} "
        f"{'rest/sql':>8} {'queries':>7} {'template p50':>12}"
    )
    for name, call in pages.items():
        for _ in range(3):
            elapsed, _sql, _count, status = timed_with_sql(call)
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}")
        totals, sqls, rests, templates, queries = [], [], [], [], 0
        for _ in range(args.repeat):
            rendering[0] = 0.0
            elapsed, sql, count, _status = timed_with_sql(call)
            templates.append(rendering[0])
            totals.append(elapsed)
            sqls.append(sql)
            rests.append(elapsed - sql)
            queries = max(queries, count)
        p = {label: (_percentile(v, 50), _percentile(v, 95)) for label, v in (("t", totals), ("s", sqls), ("r", rests))}
        print(
            f"{name:<12} {p['t'][0]:9.1f} {p['t'][1]:7.1f} {p['s'][0]:8.1f} {p['s'][1]:7.1f} {p['r'][0]:8.1f} "
            f"{p['r'][1]:7.1f} {p['r'][0] / p['s'][0]:8.2f} {queries:7d} {_percentile(templates, 50):12.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
