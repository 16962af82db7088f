"""The 1C exchange at size: counterparties going out and payments coming in, seconds through the whole stack.

    python bench/integrations_accounting.py [--counterparties 5000] [--payments 500] [--drop]
    python bench/integrations_accounting.py --counterparties 10000 --payments 10000   # the issue's size

In a scratch database `<name>_accbench` (made again each run; `--drop` removes it afterwards), one workspace
gets N counterparties, each with a deal, and a 1C connection. A fake 1C (tests/fakes/onec_client.py, in-process
through Django's test client: middleware, views, the protocol) then runs two exchanges:

- out: checkauth, init, `mode=query` answering every counterparty (changed since never), `mode=success`;
  beside it the baseline of reading the same rows with one plain query;
- in: a CommerceML file of M payments, each matched to a deal by its number and the counterparty's tax id,
  uploaded in 1C's chunks and imported by `mode=import` calls until "success" (each payment stored and noted on
  its deal's timeline through the CRM's activity service); beside it the baselines of parsing the same file
  with defusedxml alone and of inserting the same rows with one bulk insert.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.provisioning import _recreate_database
from platform_core.embedded import database_url

PASSWORD = "bench-password-for-1c-42"


def _database() -> dict[str, Any]:
    import environ

    config: dict[str, Any] = environ.Env.db_url_config(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor")
    )
    config["NAME"] = f"{config['NAME'] or 'kontor'}_accbench"
    return config


def open_database() -> dict[str, Any]:
    db = _database()
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
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    public_tenant_ensure()
    return db


def _seed(count: int) -> tuple[Any, Any, str, list[tuple[str, int]]]:
    """A workspace with `count` counterparties each with one deal, and a 1C connection; returns the tenant, the
    connection, its inbound token and (tax id, deal id) pairs."""
    from django_tenants.utils import tenant_context

    from crm.companies.models import Company
    from crm.deals.models import Deal, Pipeline
    from integrations.accounting.apps import KIND
    from integrations.core.services import connection_create
    from tenants.context import use_public_schema
    from tenants.services import workspace_create

    created = workspace_create(
        company_name="Bench 1C",
        subdomain="bench-1c",
        owner_email="owner@bench-1c.test",
        owner_password=PASSWORD,
        owner_name="Bench Owner",
    )
    with tenant_context(created.tenant):
        companies = Company.objects.bulk_create(
            Company(name=f"Counterparty {i}", legal_name=f"ООО «Контрагент {i}»", tax_id=f"77{i:08d}",
                    registration_id="770101001", legal_address=f"Москва, ул. Тестовая, д. {i}")
            for i in range(count)
        )  # fmt: skip
        pipeline = Pipeline.objects.order_by("position", "id").first()
        assert pipeline is not None
        stage = pipeline.stages.filter(outcome="open").order_by("position").first()
        deals = Deal.objects.bulk_create(
            Deal(title=f"Deal {i}", company=c, pipeline=pipeline, stage=stage, amount="1000.00", currency="RUB")
            for i, c in enumerate(companies)
        )
        made = connection_create(
            actor=created.owner,
            kind=KIND,
            name="1C bench",
            settings={"version": "2.05", "encoding": "utf-8"},
            secrets={"login": "bench", "password": PASSWORD},
        )
        pairs = [(c.tax_id, d.pk) for c, d in zip(companies, deals, strict=True)]
    use_public_schema()
    assert made.token is not None
    return created.tenant, made.connection, made.token, pairs


def measure(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    scratch = open_database()
    import defusedxml.ElementTree as SafeET
    from django.db import connection as db
    from django.db.models import Exists, OuterRef
    from django.test import Client
    from django.urls import reverse
    from django_tenants.utils import tenant_context

    from crm.companies.models import Company
    from crm.deals.models import Deal
    from integrations.accounting.models import Document
    from tenants.context import use_public_schema
    from tests.fakes.onec_client import Doc, OneCClient, commerceml

    started = time.perf_counter()
    tenant, conn, token, pairs = _seed(max(args.counterparties, args.payments))
    print(f"seeded {len(pairs):,} counterparties with deals in {time.perf_counter() - started:.1f} s", flush=True)
    with tenant_context(tenant):
        path = reverse("accounting_in:exchange", kwargs={"token": token})
        host = tenant.domains.first().domain
    use_public_schema()
    rows: list[tuple[str, str, str]] = []

    # --- out ---
    onec = OneCClient(Client(HTTP_HOST=host), path, "bench", PASSWORD)
    started = time.perf_counter()
    onec.checkauth()
    onec.init()
    answer = onec.query()
    onec.success()
    out_seconds = time.perf_counter() - started
    assert answer.status == 200, answer.text[:200]
    with tenant_context(tenant):
        started = time.perf_counter()
        plain = list(
            Company.objects.filter(Exists(Deal.objects.filter(company_id=OuterRef("pk"))))
            .order_by("id")
            .values_list("id", "name", "legal_name", "tax_id", "registration_id", "legal_address")
        )
        read_seconds = time.perf_counter() - started
    use_public_schema()
    sent = answer.body.count("<Контрагент>".encode())
    rows.append(
        (
            f"out: query of {sent:,} counterparties ({len(answer.body) / 1e6:.1f} MB), checkauth to success",
            f"{out_seconds:.2f} s",
            f"plain read of the {len(plain):,} rows: {read_seconds:.2f} s",
        )
    )

    # --- in ---
    docs = [
        Doc("Выплата безналичных денег", f"pay-{i}", f"ПП-{i:06d}", "2026-11-30", f"{1000 + i}.50", tax_id,
            order=str(deal_id), currency="RUB")
        for i, (tax_id, deal_id) in enumerate(pairs[: args.payments])
    ]  # fmt: skip
    data = commerceml(docs)
    onec = OneCClient(Client(HTTP_HOST=host), path, "bench", PASSWORD)
    started = time.perf_counter()
    onec.checkauth()
    onec.init()
    uploads = onec.upload("payments.xml", data)
    imports = onec.import_until_done("payments.xml")
    in_seconds = time.perf_counter() - started
    assert imports[-1].text.startswith("success"), imports[-1].text[:300]
    with tenant_context(tenant):
        stored = Document.objects.filter(kind="payment", deal__isnull=False).count()
        started = time.perf_counter()
        root = SafeET.fromstring(data, forbid_dtd=True)
        parsed = sum(1 for _ in root.iter("Документ"))
        parse_seconds = time.perf_counter() - started
        started = time.perf_counter()
        Document.objects.bulk_create(
            Document(connection=conn, kind="invoice", onec_id=f"baseline-{i}", number=d.number, date="2026-11-30",
                     amount=d.amount, currency="RUB", tax_id=d.tax_id)
            for i, d in enumerate(docs)
        )  # fmt: skip
        insert_seconds = time.perf_counter() - started
    use_public_schema()
    rows.append(
        (
            f"in: {stored:,} payments matched to deals ({len(data) / 1e6:.1f} MB, {len(uploads)} chunks, "
            f"{len(imports)} import calls)",
            f"{in_seconds:.2f} s",
            f"raw parse of {parsed:,} documents: {parse_seconds:.2f} s; "
            f"bulk insert of the rows: {insert_seconds:.2f} s",
        )
    )
    db.close()
    if args.drop:
        _recreate_database(scratch, drop_only=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # The defaults run in under 2 minutes on a busy 2-core machine; the figure is 10,000 of each.
    parser.add_argument("--counterparties", type=int, default=5_000, help="counterparties going out (5,000)")
    parser.add_argument("--payments", type=int, default=500, help="payments coming in (500)")
    parser.add_argument("--drop", action="store_true", help="drop the scratch database at the end")
    args = parser.parse_args()
    rows = measure(args)
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>10}  baseline")
    for name, value, baseline in rows:
        print(f"{name:<{width}}  {value:>10}  {baseline}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
