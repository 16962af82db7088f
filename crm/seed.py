"""Realistic, varied CRM data for a workspace: companies with contacts, deals across stages, products,
leads and activities past and future.

Rows are written with PostgreSQL COPY (fast enough for a million contacts), together with their search index
terms, so that what is seeded behaves exactly like what the services write. Used by `manage.py seed_demo`
and by the benchmarks. Run it inside the workspace's schema (tenant_context).
"""

from __future__ import annotations

import datetime
import random
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from faker import Faker

from crm.core.types import RecordType
from crm.deals.models import Pipeline, Stage
from crm.deals.services import pipelines_ensure_default
from crm.search.terms import company_terms, contact_terms, deal_terms, lead_terms

LOCALES = ("ru_RU", "en_US", "en_GB", "fr_FR", "de_DE")
INDUSTRIES = (
    "Manufacturing",
    "Wholesale",
    "Retail",
    "Construction",
    "Logistics",
    "IT services",
    "Consulting",
    "Food production",
    "Agriculture",
    "Healthcare",
    "Education",
    "Energy",
    "Finance",
    "Media",
)
SOURCES = ("website", "referral", "cold call", "exhibition", "partner", "email campaign", "inbound call")
LEGAL_FORMS = {"ru_RU": "ООО", "en_US": "LLC", "en_GB": "Ltd", "fr_FR": "SARL", "de_DE": "GmbH"}
MOBILE_PREFIXES = ("+7916", "+7903", "+7925", "+7985", "+7926", "+7905", "+7915", "+7977")
CALL_SUBJECTS = (
    "Follow-up call",
    "Discuss the offer",
    "Clarify requirements",
    "Payment reminder",
    "Delivery terms",
    "Contract renewal",
    "Introductory call",
)
TASK_SUBJECTS = (
    "Send the proposal",
    "Prepare the contract",
    "Issue the invoice",
    "Call back in a year",
    "Check the delivery",
    "Send the price list",
    "Arrange a demo",
)
TAGS = ("vip", "key account", "partner", "new", "dormant", "tender", "distributor")


@dataclass(frozen=True)
class SeedSize:
    companies: int
    contacts: int
    deals: int
    activities: int
    leads: int = 0
    products: int = 50
    # One company gets this share of contacts/deals/activities: the big client every CRM has.
    top_company_share: float = 0.002

    @classmethod
    def for_companies(cls, companies: int) -> SeedSize:
        return cls(
            companies=companies,
            contacts=companies * 3,
            deals=companies * 3 // 2,
            activities=companies * 5,
            leads=max(5, companies // 3),
        )


@dataclass
class SeedReport:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


class _Pools:
    """Names and words drawn once from Faker in several locales, then combined: varied and fast."""

    def __init__(self, rng: random.Random, size: int = 600) -> None:
        self.rng = rng
        self.people: list[tuple[str, str, str, str]] = []  # locale, first, last, middle
        self.company_words: list[tuple[str, str]] = []
        self.addresses: list[str] = []
        self.jobs: list[str] = []
        for locale in LOCALES:
            fake = Faker(locale)
            fake.seed_instance(rng.randint(0, 10**9))
            for _ in range(size):
                middle = fake.middle_name() if locale == "ru_RU" and hasattr(fake, "middle_name") else ""
                self.people.append((locale, fake.first_name(), fake.last_name(), middle))
                self.company_words.append((locale, fake.last_name() if rng.random() < 0.5 else fake.word().title()))
            self.addresses.extend(fake.address().replace("\n", ", ") for _ in range(size // 3))
            self.jobs.extend(fake.job()[:150] for _ in range(size // 6))

    def person(self) -> tuple[str, str, str, str]:
        return self.rng.choice(self.people)

    def company_name(self) -> tuple[str, str]:
        locale, word = self.rng.choice(self.company_words)
        industry = self.rng.choice(INDUSTRIES)
        name = f"{word} {industry.split()[0]}" if self.rng.random() < 0.5 else word
        return locale, f"{name} {LEGAL_FORMS[locale]}"


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _pg_array(values: Sequence[str]) -> str:
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608 - table names are ours
        return int(cursor.fetchone()[0])


def _sync_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}"  # noqa: S608
        cursor.execute(sql)


def _ascii(text: str) -> str:
    """Latin letters of a name for an email address (accents dropped; Cyrillic and others left out)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if "a" <= ch <= "z")


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 9_999_999):07d}"


def _timer(report: SeedReport, name: str) -> Callable[[int], None]:
    start = time.perf_counter()

    def done(rows: int) -> None:
        report.rows[name] = report.rows.get(name, 0) + rows
        report.seconds[name] = report.seconds.get(name, 0.0) + time.perf_counter() - start

    return done


def seed_workspace(*, size: SeedSize, owner_ids: Sequence[int], seed: int = 2026) -> SeedReport:
    """Add `size` records to the current workspace, owned by `owner_ids`. Returns row counts and timings."""
    rng = random.Random(seed)
    report = SeedReport()
    pools = _Pools(rng)
    now = timezone.now()
    ten_years = 3650

    def when(days_back: int = ten_years) -> datetime.datetime:
        return now - datetime.timedelta(days=rng.random() * days_back, seconds=rng.randint(0, 86399))

    with transaction.atomic():
        pipelines_ensure_default()
        for name, kind in (("Service", Pipeline.Kind.SERVICE), ("Repeat sales", Pipeline.Kind.RESALES)):
            if not Pipeline.objects.filter(name=name).exists():
                p = Pipeline.objects.create(name=name, kind=kind, position=Pipeline.objects.count() + 1)
                for i, (stage, prob, outcome) in enumerate(
                    [("Request", 20, "open"), ("In work", 60, "open"), ("Done", 100, "won"), ("Cancelled", 0, "lost")],
                    start=1,
                ):
                    Stage.objects.create(pipeline=p, name=stage, position=i, probability=prob, outcome=outcome)
        stages = list(Stage.objects.select_related("pipeline").order_by("pipeline__position", "position"))
        open_stages = [s for s in stages if s.outcome == Stage.Outcome.OPEN]
        closed_stages = [s for s in stages if s.outcome != Stage.Outcome.OPEN]

        # Products
        done = _timer(report, "products")
        first_product = _next_id("products_product")
        product_rows = []
        for i in range(size.products):
            pid = first_product + i
            product_rows.append(
                (
                    pid,
                    f"SKU-{pid:06d}",
                    f"{rng.choice(INDUSTRIES)} item {pid}",
                    "pcs",
                    Decimal(rng.randint(5, 5000) * 10),
                    "RUB",
                    Decimal(rng.choice((0, 10, 20))),
                    True,
                    "",
                    now,
                    now,
                )
            )
        done(
            _copy(
                "products_product",
                (
                    "id",
                    "sku",
                    "name",
                    "unit",
                    "price",
                    "currency",
                    "vat_rate",
                    "is_active",
                    "description",
                    "created_at",
                    "updated_at",
                ),
                product_rows,
            )
        )
        _sync_sequence("products_product")

        # Companies (the first one is the big client)
        done = _timer(report, "companies")
        first_company = _next_id("companies_company")
        company_ids = list(range(first_company, first_company + size.companies))
        terms: list[tuple[str, int, str, str]] = []

        def company_rows() -> Iterable[tuple[object, ...]]:
            for cid in company_ids:
                _locale, name = pools.company_name()
                tax_id = f"{rng.randint(10**9, 10**10 - 1)}"
                reg_id = f"{rng.randint(10**8, 10**9 - 1)}"
                phones = [_phone(rng)] if rng.random() < 0.7 else []
                domain = f"{name.split()[0].lower()}{cid}.example"
                emails = [f"info@{domain}"] if rng.random() < 0.8 else []
                created = when()
                terms.extend(
                    (RecordType.COMPANY, cid, f, t)
                    for f, t in company_terms(
                        name=name, legal_name=name, emails=emails, phones=phones, tax_id=tax_id, registration_id=reg_id
                    )
                )
                tags = [rng.choice(TAGS)] if rng.random() < 0.2 else []
                yield (
                    cid,
                    name,
                    name,
                    tax_id,
                    reg_id,
                    rng.choice(pools.addresses),
                    "",
                    f"https://{domain}",
                    _pg_array(phones),
                    _pg_array(emails),
                    rng.choice(INDUSTRIES),
                    rng.choice(SOURCES),
                    "",
                    rng.choice(owner_ids),
                    _pg_array(tags),
                    "{}",
                    created,
                    created,
                    None,
                    1,
                )

        done(
            _copy(
                "companies_company",
                (
                    "id",
                    "name",
                    "legal_name",
                    "tax_id",
                    "registration_id",
                    "legal_address",
                    "actual_address",
                    "website",
                    "phones",
                    "emails",
                    "industry",
                    "source",
                    "notes",
                    "owner_id",
                    "tags",
                    "custom_fields",
                    "created_at",
                    "updated_at",
                    "created_by_id",
                    "version",
                ),
                company_rows(),
            )
        )
        _sync_sequence("companies_company")

        top = company_ids[0]

        def pick_company() -> int:
            return top if rng.random() < size.top_company_share else rng.choice(company_ids)

        # Contacts
        done = _timer(report, "contacts")
        first_contact = _next_id("contacts_contact")
        contact_ids = list(range(first_contact, first_contact + size.contacts))
        contact_company: dict[int, int] = {}

        def contact_rows() -> Iterable[tuple[object, ...]]:
            for pid in contact_ids:
                _locale, first, last, middle = pools.person()
                company = pick_company()
                contact_company[pid] = company
                phones = [_phone(rng) for _ in range(rng.choice((1, 1, 1, 2)))]
                emails = [f"{_ascii(first)}.{_ascii(last)}.{pid}@mail.example".lstrip(".").replace("..", ".")]
                created = when()
                terms.extend(
                    (RecordType.CONTACT, pid, f, t)
                    for f, t in contact_terms(names=[first, middle, last], emails=emails, phones=phones)
                )
                consent = rng.random() < 0.6
                yield (
                    pid,
                    first,
                    middle,
                    last,
                    rng.choice(pools.jobs),
                    company,
                    _pg_array(phones),
                    _pg_array(emails),
                    consent,
                    created if consent else None,
                    "",
                    rng.choice(owner_ids),
                    "{}",
                    "{}",
                    created,
                    created,
                    None,
                    1,
                )

        done(
            _copy(
                "contacts_contact",
                (
                    "id",
                    "first_name",
                    "middle_name",
                    "last_name",
                    "position",
                    "company_id",
                    "phones",
                    "emails",
                    "consent_to_contact",
                    "consent_at",
                    "notes",
                    "owner_id",
                    "tags",
                    "custom_fields",
                    "created_at",
                    "updated_at",
                    "created_by_id",
                    "version",
                ),
                contact_rows(),
            )
        )
        _sync_sequence("contacts_contact")
        company_contacts: dict[int, list[int]] = {}
        for pid, cid in contact_company.items():
            company_contacts.setdefault(cid, []).append(pid)

        # Deals: ten years of history, most of it closed; the open ones spread over the open stages.
        done = _timer(report, "deals")
        first_deal = _next_id("deals_deal")
        deal_ids = list(range(first_deal, first_deal + size.deals))
        deal_company: dict[int, int] = {}
        deal_contacts: list[tuple[int, int]] = []

        def deal_rows() -> Iterable[tuple[object, ...]]:
            for did in deal_ids:
                company = pick_company()
                deal_company[did] = company
                is_open = rng.random() < 0.12
                stage = rng.choice(open_stages if is_open else closed_stages)
                created = when(60 if is_open else ten_years)
                closed = None if is_open else created + datetime.timedelta(days=rng.randint(1, 120))
                title = f"{rng.choice(('Supply', 'Service contract', 'Project', 'Licences', 'Equipment'))} #{did}"
                terms.extend((RecordType.DEAL, did, f, t) for f, t in deal_terms(title=title))
                contacts = company_contacts.get(company)
                if contacts:
                    deal_contacts.append((did, rng.choice(contacts)))
                yield (
                    did,
                    title,
                    company,
                    stage.pipeline_id,
                    stage.pk,
                    Decimal(rng.randint(1, 5000) * 1000),
                    "RUB" if rng.random() < 0.9 else "USD",
                    (created + datetime.timedelta(days=rng.randint(7, 90))).date(),
                    "Price too high" if stage.outcome == Stage.Outcome.LOST else "",
                    closed,
                    created,
                    rng.choice(owner_ids),
                    "{}",
                    "{}",
                    created,
                    created,
                    None,
                    1,
                )

        done(
            _copy(
                "deals_deal",
                (
                    "id",
                    "title",
                    "company_id",
                    "pipeline_id",
                    "stage_id",
                    "amount",
                    "currency",
                    "expected_close_date",
                    "lost_reason",
                    "closed_at",
                    "stage_changed_at",
                    "owner_id",
                    "tags",
                    "custom_fields",
                    "created_at",
                    "updated_at",
                    "created_by_id",
                    "version",
                ),
                deal_rows(),
            )
        )
        _sync_sequence("deals_deal")
        done = _timer(report, "deal contacts")
        done(_copy("deals_deal_contacts", ("deal_id", "contact_id"), deal_contacts))

        # Leads
        done = _timer(report, "leads")
        first_lead = _next_id("leads_lead")

        def lead_rows() -> Iterable[tuple[object, ...]]:
            for lid in range(first_lead, first_lead + size.leads):
                _locale, first, last, _m = pools.person()
                _l, company_name = pools.company_name()
                email = f"{_ascii(first) or 'client'}.{lid}@inbox.example"
                phone = _phone(rng)
                title = f"Request from {company_name}"
                created = when(180)
                terms.extend(
                    (RecordType.LEAD, lid, f, t)
                    for f, t in lead_terms(texts=[title, f"{first} {last}", company_name], email=email, phone=phone)
                )
                yield (
                    lid,
                    title,
                    rng.choice(("new", "new", "in_progress", "rejected")),
                    rng.choice(SOURCES),
                    f"{first} {last}",
                    company_name,
                    email,
                    phone,
                    "Please send an offer.",
                    "",
                    None,
                    rng.choice(owner_ids),
                    "{}",
                    "{}",
                    created,
                    created,
                    1,
                )

        done(
            _copy(
                "leads_lead",
                (
                    "id",
                    "title",
                    "status",
                    "source",
                    "contact_name",
                    "company_name",
                    "email",
                    "phone",
                    "message",
                    "rejection_reason",
                    "converted_at",
                    "owner_id",
                    "tags",
                    "custom_fields",
                    "created_at",
                    "updated_at",
                    "version",
                ),
                lead_rows(),
            )
        )
        _sync_sequence("leads_lead")

        # Activities: past ones mostly done, future ones planned; tasks, calls, meetings and notes.
        done = _timer(report, "activities")

        def activity_rows() -> Iterable[tuple[object, ...]]:
            kinds = ("task", "task", "call", "call", "call", "meeting", "note")
            for _ in range(size.activities):
                kind = rng.choice(kinds)
                future = rng.random() < 0.08
                due = now + datetime.timedelta(days=rng.random() * 30) if future else when(ten_years)
                deal = rng.choice(deal_ids) if deal_ids and rng.random() < 0.4 else None
                company = deal_company.get(deal) if deal else pick_company()
                contacts = company_contacts.get(company) if company else None
                contact = rng.choice(contacts) if contacts and rng.random() < 0.6 else None
                # Old work is done; only the last fortnight holds a few forgotten (overdue) tasks.
                recent = not future and due > now - datetime.timedelta(days=14)
                done_flag = kind == "note" or (not future and (not recent or rng.random() < 0.7))
                subject = rng.choice(CALL_SUBJECTS if kind == "call" else TASK_SUBJECTS)
                yield (
                    kind,
                    subject,
                    "",
                    None if kind == "note" else due,
                    30 if kind == "meeting" else None,
                    rng.choice(owner_ids),
                    done_flag,
                    due if done_flag else None,
                    "",
                    company,
                    contact,
                    deal,
                    None,
                    "outbound" if kind == "call" else "",
                    "",
                    120 if kind == "call" else None,
                    due,
                    due,
                    None,
                )

        done(
            _copy(
                "activities_activity",
                (
                    "kind",
                    "subject",
                    "body",
                    "due_at",
                    "duration_minutes",
                    "assignee_id",
                    "is_done",
                    "done_at",
                    "result",
                    "company_id",
                    "contact_id",
                    "deal_id",
                    "lead_id",
                    "call_direction",
                    "call_phone",
                    "call_duration_seconds",
                    "created_at",
                    "updated_at",
                    "created_by_id",
                ),
                activity_rows(),
            )
        )

        done = _timer(report, "search terms")
        done(_copy("search_searchterm", ("record_type", "record_id", "field", "term"), terms))

    # What autovacuum does soon after a bulk load: planner statistics and a visibility map, so index-only
    # scans (board totals, card totals, search) need not visit the heap. VACUUM cannot run inside a
    # transaction (a caller's, or a test's): ANALYZE alone then.
    done = _timer(report, "vacuum")
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in (
            "companies_company",
            "contacts_contact",
            "deals_deal",
            "deals_deal_contacts",
            "leads_lead",
            "activities_activity",
            "search_searchterm",
            "products_product",
        ):
            cursor.execute(f"{command} {table}")
    done(0)
    return report
