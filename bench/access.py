"""What the access policy costs: the CRM benchmark's requests as an administrator and as a sales manager.

    make bench-access          # or: python -m platform_core.embedded run -- python bench/access.py [--reuse]

Uses the full-size workspace of bench/crm.py (seeding it when missing; `--reuse` keeps the scratch database).
The workspace gets a tree of 50 teams (a head office, 7 departments, 42 teams) and 500 sales managers, and its
companies, contacts, deals, leads and activities are spread over them. The same requests (same company card,
same search) are then made in turn by the owner (Administrator: scope all) and by one sales manager (scope
own), interleaved so both see the same machine. Printed: p50/p95 ms of each, the manager's time over the
administrator's, and queries per request against a fixed ceiling. Target: the policy costs at most 20%.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.crm import FULL, PASSWORD, bench_workspace, crm_calls, national_format, open_database, timed
from bench.provisioning import _percentile

DEPARTMENTS = 7
TEAMS_PER_DEPARTMENT = 6  # 1 + 7 + 42 = 50 teams
PEOPLE = 500
OVERHEAD_LIMIT = 0.20
# Queries per request a scoped user may cost at most (the administrator's count is printed beside it).
CEILING = {
    "company list page": 12,
    "client card (largest company)": 18,
    "pipeline board": 13,
    "search: name fragment": 9,
    "search: phone number": 9,
    "API contact list (50)": 7,
    "API deal create": 27,
}
# Who owns what: each table's person column.
OWNED = (
    ("companies_company", "owner_id"),
    ("contacts_contact", "owner_id"),
    ("deals_deal", "owner_id"),
    ("leads_lead", "owner_id"),
    ("activities_activity", "assignee_id"),
)


def organize(tenant: Any) -> None:
    """Teams, people and ownership of a company of 500 (once per workspace)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenants.accounts.models import Team, User
    from tenants.accounts.roles import SALES_MANAGER, builtin_role
    from tenants.context import use_public_schema

    with tenant_context(tenant):
        if Team.objects.count() >= 1 + DEPARTMENTS * (1 + TEAMS_PER_DEPARTMENT):
            use_public_schema()
            return
        started = time.perf_counter()
        head_office = Team.objects.create(name="Head office")
        teams = []
        for d in range(1, DEPARTMENTS + 1):
            department = Team.objects.create(name=f"Department {d}", parent=head_office)
            teams += [
                Team.objects.create(name=f"Team {d}.{t}", parent=department) for t in range(1, TEAMS_PER_DEPARTMENT + 1)
            ]
        role = builtin_role(SALES_MANAGER)
        password = make_password(PASSWORD)  # one hash for all: 500 Argon2 runs would only slow the setup
        people = User.objects.bulk_create(
            User(
                email=f"rep{i}@bench.test",
                full_name=f"Sales rep {i}",
                password=password,
                role=role,
                team=teams[i % len(teams)],
            )
            for i in range(PEOPLE)
        )
        ids = [p.pk for p in people]
        with connection.cursor() as cursor:
            for table, column in OWNED:
                cursor.execute(
                    f"UPDATE {table} SET {column} = (%s::bigint[])[1 + (id %% %s)]",
                    [ids, len(ids)],
                )
        seconds = time.perf_counter() - started
        print(f"Organized: {len(teams) + DEPARTMENTS + 1} teams, {PEOPLE} people in {seconds:.1f} s", flush=True)
    use_public_schema()
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {tenant.schema_name}")
        for table, _column in OWNED:
            cursor.execute(f"VACUUM ANALYZE {table}")
    use_public_schema()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="reuse the seeded database of an earlier run")
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per measurement and user")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (quick trials)")
    args = parser.parse_args()

    open_database(reuse=args.reuse)
    from django.test import Client
    from django_tenants.utils import tenant_context

    from tenants.accounts.models import User
    from tenants.context import use_public_schema
    from tenants.models import Domain

    big = bench_workspace("big", {k: max(1, int(v * args.scale)) for k, v in FULL.items()})
    organize(big)
    host = Domain.objects.get(tenant=big).domain
    with tenant_context(big):
        from crm.companies.models import Company
        from crm.contacts.models import Contact

        admin = User.objects.get(email__startswith="owner@")
        top = Company.objects.order_by("id").first()
        assert top is not None and top.owner_id is not None
        manager = User.objects.select_related("team").get(pk=top.owner_id)  # the same client card for both
        team = str(manager.team)
        mine = Contact.objects.filter(owner=manager).exclude(phones=[]).order_by("id")
        sample = mine[mine.count() // 2]
        fragment, phone = sample.last_name[:4], national_format(sample.phones[0])
        clients = {}
        for label, user in (("admin", admin), ("manager", manager)):
            clients[label] = Client(HTTP_HOST=host)
            clients[label].force_login(user)
        counts = (
            Company.objects.filter(owner=manager).count(),
            Contact.objects.filter(owner=manager).count(),
            Contact.objects.filter(company=top).count(),
        )
    use_public_schema()
    print(
        f"Manager {manager.email} (team {team}): owns {counts[0]:,} companies and {counts[1]:,} contacts; "
        f"card of company #{top.pk} ({counts[2]:,} contacts); search '{fragment}' and '{phone}'",
        flush=True,
    )
    calls = {
        label: crm_calls(client, company_id=top.pk, fragment=fragment, phone=phone) for label, client in clients.items()
    }
    print(
        f"\n{'request':<32} {'admin p50':>9} {'p95':>7} {'manager p50':>11} {'p95':>7} {'cost p50':>8} "
        f"{'cost p95':>8} {'queries':>9} {'ceiling':>7}"
    )
    worst = 0.0
    for (measure, admin_call), (_, manager_call) in zip(calls["admin"], calls["manager"], strict=True):
        times: dict[str, list[float]] = {"admin": [], "manager": []}
        queries = {"admin": 0, "manager": 0}
        for label, call in (("admin", admin_call), ("manager", manager_call)):
            _, _, status = timed(call)  # warm-up, and a check that it answers
            if status >= 400:
                raise SystemExit(f"{measure.name}: HTTP {status} for the {label}")
        for _ in range(args.repeat):
            for label, call in (("admin", admin_call), ("manager", manager_call)):
                elapsed, count, _ = timed(call)
                times[label].append(elapsed)
                queries[label] = max(queries[label], count)
        a50, a95 = _percentile(times["admin"], 50), _percentile(times["admin"], 95)
        m50, m95 = _percentile(times["manager"], 50), _percentile(times["manager"], 95)
        cost50, cost95 = m50 / a50 - 1, m95 / a95 - 1
        worst = max(worst, cost50)
        ceiling = CEILING[measure.name]
        verdict = "ok" if cost50 <= OVERHEAD_LIMIT and queries["manager"] <= ceiling else "MISSED"
        print(
            f"{measure.name:<32} {a50:8.1f}  {a95:6.1f}  {m50:10.1f}  {m95:6.1f}  {cost50:+7.0%}  {cost95:+7.0%} "
            f"{queries['admin']:>4}/{queries['manager']:<4} {ceiling:>6}  {verdict}"
        )
    print(f"\nWorst policy cost at p50: {worst:+.0%} (limit +{OVERHEAD_LIMIT:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
