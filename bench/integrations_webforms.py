"""Website form submissions per second through the inbound endpoint, beside the CRM's own create service.

    python -m platform_core.embedded run -- python bench/integrations_webforms.py [-n 300]

In a scratch database (`<name>_webforms_crmbench`, made afresh), one workspace with a "webforms" connection
whose form shares leads among a team of three. In this process, through the whole Django stack
(django.test.Client: middleware, the token's lookup, the rate and size checks, the exchange log), interleaved
call by call:
- JSON posts that each make a lead and a task (new emails);
- HTML form posts (urlencoded) that each make a lead and a task and answer the thank-you page;
- JSON posts whose email is a contact's (a task on the contact, no lead);
and, as the ceiling, lead_create called directly as the connection's identity (then lead_create and
activity_create, what a submission writes), with the same data. Prints submissions/s and p50/p95 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.provisioning import _percentile

PASSWORD = "bench-password-for-webforms-42"


def _rate(times: list[float]) -> tuple[float, float, float]:
    """Per second, p50 and p95 milliseconds of calls that took `times` seconds each."""
    ms = [t * 1000 for t in times]
    return len(times) / sum(times), _percentile(ms, 50), _percentile(ms, 95)


def measure(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Rows (figure, value, ceiling) for `args.n` submissions of each kind; Django must be set up already on a
    database it may write to (see main)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    from crm.activities.services import activity_create
    from crm.contacts.services import contact_create
    from crm.leads.services import lead_create
    from integrations.core.services import connection_create
    from integrations.webforms.services import webform_save
    from tenants.accounts.models import Team
    from tenants.accounts.services import user_create
    from tenants.services import workspace_create

    n = args.n
    settings.WEBFORMS_RATE_PER_ADDRESS = 10 * n
    settings.INTEGRATIONS_INBOUND_RATE_PER_CONNECTION = 10 * n
    sub = f"wf{int(time.time())}"
    created = workspace_create(
        company_name="Bench forms", subdomain=sub, owner_email=f"owner@{sub}.test", owner_password=PASSWORD
    )
    tenant, owner = created.tenant, created.owner
    with tenant_context(tenant):
        conn_made = connection_create(actor=owner, kind="webforms", name="Contact us")
        conn = conn_made.connection
        team = Team.objects.create(name="Inbound")
        for k in range(3):
            user_create(email=f"p{k}@{sub}.test", password=PASSWORD, team=team)
        form = conn.webform
        fields = [
            {"key": f.key, "label": f.label, "type": f.type, "required": f.required, "choices": f.choices,
             "target": f.target, "position": f.position}
            for f in form.fields.all()
        ]  # fmt: skip
        webform_save(
            actor=owner,
            connection=conn,
            settings={"team": team, "task_due_minutes": 60, "honeypot": "website", "lead_source": "website"},
            fields=fields,
        )
        contact_create(actor=owner, data={"first_name": "Known", "emails": ["known@example.com"]})
        identity = conn.identity
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    client = Client(HTTP_HOST=created.domain.domain)
    url = f"/integrations/in/webforms/{conn_made.token}/"

    def data(kind: str, i: int) -> dict[str, str]:
        return {"name": f"Visitor {kind} {i}", "email": f"{kind}{i}@example.com", "phone": "", "message": "Hello"}

    def post_json(i: int) -> None:
        response = client.post(url, json.dumps(data("json", i)), content_type="application/json")
        assert response.status_code == 201, response.content

    def post_form(i: int) -> None:
        response = client.post(url, urlencode(data("form", i)), content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200, response.content

    def post_known(i: int) -> None:
        body = {**data("known", i), "email": "known@example.com"}
        response = client.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content

    lead_data = {"title": "Contact us: Visitor", "contact_name": "Visitor", "message": "Hello", "source": "website"}

    def direct_lead(i: int) -> None:
        lead_create(actor=identity, data={**lead_data, "email": f"direct{i}@example.com", "owner": owner.pk})

    def direct_lead_and_task(i: int) -> None:
        lead = lead_create(actor=identity, data={**lead_data, "email": f"both{i}@example.com", "owner": owner.pk})
        activity_create(actor=identity, data={"kind": "task", "subject": "Website form", "lead": lead.pk,
                                               "assignee": owner.pk})  # fmt: skip

    for i in range(min(20, n)):  # warm up: templates, caches, connections
        post_json(10_000 + i)
    # Interleaved call by call, so that the load of a shared machine weighs on every kind alike.
    calls: dict[str, Callable[[int], Any]] = {
        "json": post_json,
        "form": post_form,
        "known": post_known,
        "lead": direct_lead,
        "lead_task": direct_lead_and_task,
    }
    results: dict[str, list[float]] = {key: [] for key in calls}
    for i in range(n):
        for key, call in calls.items():
            started = time.perf_counter()
            if key.startswith("lead"):
                with tenant_context(tenant):
                    call(i)
            else:
                call(i)
            results[key].append(time.perf_counter() - started)
            connection.set_schema_to_public()  # type: ignore[attr-defined]
    ceiling, c50, c95 = _rate(results["lead"])
    both, b50, b95 = _rate(results["lead_task"])
    label_ceiling = f"lead_create: {ceiling:.0f}/s (p50 {c50:.1f} ms, p95 {c95:.1f} ms)"
    rows = []
    for key, name in (
        ("json", "form submissions/s, JSON, new lead + task"),
        ("form", "form submissions/s, HTML post, new lead + task"),
        ("known", "form submissions/s, JSON, task on a known contact"),
    ):
        rate, p50, p95 = _rate(results[key])
        rows.append((name, f"{rate:.0f}/s (p50 {p50:.1f} ms, p95 {p95:.1f} ms)", label_ceiling))
    rows.append(
        ("lead_create + activity_create, direct", f"{both:.0f}/s (p50 {b50:.1f} ms, p95 {b95:.1f} ms)", label_ceiling)
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="submissions of each kind (default 300)")
    args = parser.parse_args()
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor"))
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path.rstrip('/') or '/kontor'}_webforms"))
    from bench.crm import open_database

    db = open_database(reuse=False)
    from django.conf import settings

    from tenants.services import schema_script_ensure

    # Events go to a worker after commit, as in production (not delivered on the request's path).
    settings.EVENTS_DISPATCH_EAGER = False
    schema_script_ensure()
    started = time.monotonic()
    rows = measure(args)
    print(f"\nWebsite forms, {args.n} of each, in-process on {os.cpu_count()} cores (database {db['NAME']})")
    width = max(len(r[0]) for r in rows)
    for name, value, ceiling in rows:
        print(f"  {name:<{width}}  {value:<36}  ceiling {ceiling}")
    print(f"  ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
