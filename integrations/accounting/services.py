"""Writes of the 1C exchange: sessions and uploaded files of 1C's exchange runs, the import of invoices and
payments (in batches, resumable, each record in its own savepoint), what goes out to 1C and its watermark, and
the deals marked for invoicing.

What comes in is recorded in the CRM as the connection's identity through the CRM's own services (a note on the
deal's history); nothing here writes a CRM model."""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.db import connection as db
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.activities.services import activity_create
from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to
from crm.core.money import workspace_currency
from crm.core.types import RecordType
from crm.deals.models import Deal, DealLineItem
from crm.deals.selectors import deals_visible_to
from crm.products.selectors import products_visible_to
from integrations.accounting import commerceml
from integrations.accounting.models import Document, ExchangeFile, ImportRun, InvoiceRequest, OutState
from integrations.core.models import Connection, Exchange
from integrations.core.services import connection_secrets, exchange_close, exchange_open, require_manager
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.models import User
from tenants.locale import CURRENCIES

IMPORT_OPERATION = "accounting.import"
# Days an uploaded file is kept (for the log's retry) after its last chunk.
FILE_KEEP_DAYS = 7
_FILE_NAME = re.compile(r"[\w\-.]{1,200}")
_DEAL_REF = re.compile(r"(?:deal-)?0*(\d{1,12})")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- signing in --------------------------------------------------------------------------------------------------


def credentials_match(conn: Connection, *, login: str, password: str) -> bool:
    """The login and password 1C sent are the connection's (False while they are not set)."""
    stored = connection_secrets(conn)
    want_login, want_password = stored.get("login", ""), stored.get("password", "")
    if not want_login or not want_password:
        return False
    same_login = secrets.compare_digest(login.encode(), want_login.encode())
    same_password = secrets.compare_digest(password.encode(), want_password.encode())
    return same_login and same_password


@dataclass(frozen=True)
class ExchangeSession:
    """One exchange run of 1C, from its checkauth: kept server-side (in the cache, expiring), named by the
    cookie 1C sends back, of which only a hash is kept."""

    key: str  # a short digest of the cookie, what an uploaded file remembers


def _session_cache_key(conn: Connection, value: str) -> str:
    return f"accounting:session:{conn.uid}:{_hash(value)}"


def session_open(conn: Connection) -> str:
    """A new exchange session (checkauth); returns the cookie's value."""
    value = secrets.token_urlsafe(32)
    timeout = settings.INTEGRATIONS_ACCOUNTING_SESSION_MINUTES * 60
    cache.set(_session_cache_key(conn, value), _hash(value)[:16], timeout=timeout)
    return value


def session_find(conn: Connection, value: str) -> ExchangeSession | None:
    if not value or len(value) > 128 or "\x00" in value:
        return None
    key = cache.get(_session_cache_key(conn, value))
    return ExchangeSession(key=key) if isinstance(key, str) else None


# --- files -------------------------------------------------------------------------------------------------------


class Refused(ValueError):
    """A call 1C made that Kontor does not take (str(): the reason 1C shows)."""


def file_name_check(name: str) -> str:
    if not _FILE_NAME.fullmatch(name or "") or name.startswith("."):
        raise Refused(_("The file name is missing or not allowed."))
    return name


def file_store(conn: Connection, *, name: str, chunk: bytes, session: ExchangeSession | None) -> ExchangeFile:
    """Keep a chunk 1C uploaded: the first of an exchange session starts the file (and forgets its imports), the
    next ones are appended."""
    name = file_name_check(name)
    session_key = session.key if session is not None else ""
    limit = settings.INTEGRATIONS_ACCOUNTING_MAX_FILE_BYTES
    with transaction.atomic():
        found = ExchangeFile.objects.select_for_update().filter(connection=conn, name=name).first()
        now = timezone.now()
        if found is None:
            if len(chunk) > limit:
                raise Refused(_("The file is larger than Kontor takes."))
            return ExchangeFile.objects.create(
                connection=conn, name=name, session=session_key, content=chunk, size=len(chunk), updated_at=now
            )
        if not session_key or found.session != session_key:
            found.runs.all().delete()
            found.content, found.size, found.session, found.updated_at = chunk, len(chunk), session_key, now
            found.save(update_fields=["content", "size", "session", "updated_at"])
            return found
        if found.size + len(chunk) > limit:
            raise Refused(_("The file is larger than Kontor takes."))
        if found.runs.exists():
            # Appending to a file already (being) imported: the import starts over with the whole file.
            found.runs.all().delete()
        with db.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{ExchangeFile._meta.db_table}" SET content = content || %s, size = size + %s, '  # noqa: S608
                "updated_at = %s WHERE id = %s",
                [chunk, len(chunk), now, found.pk],
            )
        found.refresh_from_db(fields=["size", "updated_at"])
        return found


# --- import -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportStep:
    status: str  # "progress", "success" or "failure"
    message: str = ""
    run: ImportRun | None = None


class RecordRefused(ValueError):
    """One record that cannot be applied (str(): why); the others go on."""


def import_step(conn: Connection, *, name: str, retry_of: Exchange | None = None) -> ImportStep:
    """One `mode=import` call: the next batch of the file's records. "progress" while records remain (1C calls
    again), "success" when all are done (and again for a repeated call), "failure" for a file Kontor cannot
    read, with nothing applied."""
    name = file_name_check(name)
    with transaction.atomic():
        file = ExchangeFile.objects.select_for_update().filter(connection=conn, name=name).first()
        if file is None:
            return ImportStep("failure", _("No file of this name was uploaded."))
        run = ImportRun.objects.filter(file=file).order_by("-id").first()
        if run is not None and run.status == ImportRun.Status.DONE:
            return ImportStep("success", run=run)
        if run is not None and run.status == ImportRun.Status.FAILED:
            return ImportStep("failure", run.exchange.error if run.exchange else "", run=run)
        if run is None:
            entry = exchange_open(
                conn,
                direction=Exchange.Direction.RUN,
                operation=IMPORT_OPERATION,
                request={"file": name, "bytes": file.size},
                # A run with failed records is retried from the log (once a missing company was added, say).
                replay={"file": name},
                retry_of=retry_of,
            )
            run = ImportRun.objects.create(connection=conn, file=file, exchange=entry)
        try:
            found = commerceml.records(commerceml.parse(bytes(file.content)))
        except commerceml.MalformedFile as exc:
            _run_end(run, ImportRun.Status.FAILED, error=str(exc))
            return ImportStep("failure", str(exc), run=run)
        counts: Counter[str] = Counter({k: 0 for k in ("created", "updated", "skipped", "failed")})
        counts.update(run.counts)
        problems: list[dict[str, Any]] = list(run.problems)
        batch = found[run.cursor : run.cursor + settings.INTEGRATIONS_ACCOUNTING_IMPORT_BATCH]
        known = Known.of(conn, batch)
        for record in batch:
            try:
                with transaction.atomic():
                    outcome, note = record_apply(conn, record, known=known)
            except (RecordRefused, ValidationError, PermissionDenied, DatabaseError) as exc:
                counts["failed"] += 1
                problems.append({"record": record.label, "error": _reason(exc)})
            else:
                counts[outcome] += 1
                if note:
                    problems.append({"record": record.label, "error": note})
        run.cursor += len(batch)
        run.total = len(found)
        run.counts, run.problems = dict(counts), problems[:200]
        if run.cursor >= len(found):
            _run_end(run, ImportRun.Status.DONE)
            return ImportStep("success", run=run)
        run.save(update_fields=["cursor", "total", "counts", "problems"])
        if run.exchange is not None:
            Exchange.objects.filter(pk=run.exchange.pk).update(
                counts={**run.counts, "done": run.cursor, "total": run.total}, problems=run.problems
            )
        return ImportStep(
            "progress", _("%(done)s of %(total)s records done.") % {"done": run.cursor, "total": run.total}, run=run
        )


def import_retry(exchange: Exchange, actor: User) -> Exchange:
    """The log's retry of an import (integrations.core.registry): the kept file imported again, all of it at
    once; documents already received are skipped, the records that failed are tried again."""
    conn = exchange.connection
    name = str((exchange.replay or {}).get("file", ""))
    with transaction.atomic():
        file = ExchangeFile.objects.select_for_update().filter(connection=conn, name=name).first()
        if file is None:
            raise ValidationError(_("The file of this import is no longer kept."))
        file.runs.all().delete()
    step = import_step(conn, name=name, retry_of=exchange)
    while step.status == "progress":
        step = import_step(conn, name=name)
    assert step.run is not None and step.run.exchange is not None
    return step.run.exchange


def files_prune(conn: Connection) -> int:
    """Forget the connection's uploaded files not touched for FILE_KEEP_DAYS (each exchange's login does it)."""
    before = timezone.now() - datetime.timedelta(days=FILE_KEEP_DAYS)
    deleted, _rows = ExchangeFile.objects.filter(connection=conn, updated_at__lt=before).delete()
    return deleted


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, DatabaseError | PermissionDenied):
        return _("The record could not be saved.")
    return str(exc)


def _run_end(run: ImportRun, status: str, *, error: str = "") -> None:
    run.status, run.finished_at = status, timezone.now()
    run.save(update_fields=["status", "finished_at", "cursor", "total", "counts", "problems"])
    if run.exchange is not None:
        failed = status == ImportRun.Status.FAILED
        partial = bool(run.counts.get("failed"))
        exchange_close(
            run.exchange,
            status=Exchange.Status.FAILED if failed else (Exchange.Status.PARTIAL if partial else Exchange.Status.OK),
            counts={**run.counts, "total": run.total or 0},
            error=error,
            problems=run.problems,
        )


def _onec_id(record: commerceml.InRecord) -> str:
    return record.onec_id or f"{record.number}/{record.date}"


def _kind(record: commerceml.InRecord) -> str:
    return Document.Kind.INVOICE if record.kind == "invoice" else Document.Kind.PAYMENT


def _order_id(record: commerceml.InRecord) -> int | None:
    match = _DEAL_REF.fullmatch(record.order_ref.strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Known:
    """What a batch of records refers to, read in three queries rather than three per record: the companies by
    tax id (those the connection's identity sees), the deals by number, the documents already received."""

    companies: dict[str, list[Company]]
    deals: dict[int, Deal]
    documents: dict[tuple[str, str], Document]

    @classmethod
    def of(cls, conn: Connection, records: list[commerceml.InRecord]) -> Known:
        tax_ids = {r.tax_id.strip()[:32] for r in records if r.tax_id.strip()}
        companies: dict[str, list[Company]] = {}
        for company in companies_visible_to(conn.identity).filter(tax_id__in=tax_ids).order_by("id"):
            companies.setdefault(company.tax_id, []).append(company)
        numbers = {n for n in (_order_id(r) for r in records) if n is not None}
        deals = {d.pk: d for d in deals_visible_to(conn.identity).filter(pk__in=numbers).only("id", "company_id")}
        ids = {_onec_id(r) for r in records}
        documents = {
            (d.kind, d.onec_id): d for d in Document.objects.filter(connection=conn, onec_id__in=[i[:128] for i in ids])
        }
        return cls(companies=companies, deals=deals, documents=documents)


def record_apply(conn: Connection, record: commerceml.InRecord, *, known: Known | None = None) -> tuple[str, str]:
    """Apply one invoice or payment: ("created" | "updated" | "skipped", a note or ""). RecordRefused when it
    cannot be (the caller's savepoint then undoes whatever this did)."""
    known = known or Known.of(conn, [record])
    number = record.number
    if not number:
        raise RecordRefused(_("The document has no number."))
    onec_id = _onec_id(record)
    if len(number) > 64 or len(onec_id) > 128:
        raise RecordRefused(_("The document's number or id is too long."))
    amount = commerceml.amount_of(record.amount)
    if amount is None:
        raise RecordRefused(_("The amount is missing or not a number."))
    date = commerceml.date_of(record.date)
    if date is None:
        raise RecordRefused(_("The date is missing or not a date."))
    currency = commerceml.currency_of(record.currency, default=workspace_currency(), known=CURRENCIES)
    if currency is None:
        raise RecordRefused(_("The currency is not one Kontor knows."))
    company = _counterparty(record, known)
    deal = known.deals.get(_order_id(record) or 0)
    note = ""
    if deal is None or deal.company_id != company.pk:
        deal, note = None, _("Not matched to a deal of this counterparty: kept on the counterparty only.")
    kind = _kind(record)
    values = {
        "number": number,
        "date": date,
        "amount": amount,
        "currency": currency,
        "deal_id": deal.pk if deal else None,
        "company_id": company.pk,
        "tax_id": record.tax_id[:32],
        "counterparty": record.counterparty[:255],
    }
    existing = known.documents.get((kind, onec_id))
    if existing is not None:
        if all(getattr(existing, k) == v for k, v in values.items()):
            return "skipped", ""
        for key, value in values.items():
            setattr(existing, key, value)
        existing.updated_at = timezone.now()
        existing.save(update_fields=[*values, "updated_at"])
        return "updated", note
    document = Document.objects.create(connection=conn, kind=kind, onec_id=onec_id, **values)
    _history_note(conn, document, deal=deal, company=company)
    known.documents[(kind, onec_id)] = document  # the same document twice in a file: the second updates it
    return "created", note


def _counterparty(record: commerceml.InRecord, known: Known) -> Company:
    tax_id = record.tax_id.strip()[:32]
    if not tax_id:
        raise RecordRefused(_("The counterparty has no tax id."))
    found = known.companies.get(tax_id, [])
    if len(found) > 1 and record.kpp:
        found = [c for c in found if c.registration_id == record.kpp.strip()] or found
    if not found:
        raise RecordRefused(_("No counterparty with the tax id %(tax_id)s.") % {"tax_id": tax_id})
    return found[0]


def _history_note(conn: Connection, document: Document, *, deal: Deal | None, company: Company) -> None:
    # No amount in the note: a timeline is read by people from whom a role may hide the deal's amount (the
    # card's panel shows it to those who may see it).
    if document.kind == Document.Kind.PAYMENT:
        subject = _("Payment received (1C): no. %(number)s of %(date)s") % {
            "number": document.number,
            "date": document.date.isoformat(),
        }
    else:
        subject = _("Invoice issued (1C): no. %(number)s of %(date)s") % {
            "number": document.number,
            "date": document.date.isoformat(),
        }
    link: dict[str, Any] = {"deal": deal.pk} if deal is not None else {"company": company.pk}
    activity_create(actor=conn.identity, data={"kind": "note", "subject": subject[:255], **link})


# --- out --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    body: bytes
    counts: dict[str, int]
    encoding: str


def out_query(conn: Connection) -> Outgoing:
    """What goes to 1C (`type=sale&mode=query`): counterparties that have deals, products and deals marked for
    invoicing, each when changed after the last confirmed exchange. Answered again until 1C confirms it."""
    now = timezone.now()
    with transaction.atomic():
        state, _created = OutState.objects.select_for_update().get_or_create(connection=conn)
        since = state.confirmed_until
        state.pending_until = now
        state.save(update_fields=["pending_until"])
    identity = conn.identity
    deals = deals_visible_to(identity)
    parties = companies_visible_to(identity).filter(Exists(deals.filter(company_id=OuterRef("pk"))))
    products = products_visible_to(identity)
    requests = InvoiceRequest.objects.filter(deal__in=deals)
    if since is not None:
        parties = parties.filter(
            Q(updated_at__gt=since) | Exists(deals.filter(company_id=OuterRef("pk"), created_at__gt=since))
        )
        products = products.filter(updated_at__gt=since)
        requests = requests.filter(Q(changed_at__gt=since) | Q(deal__updated_at__gt=since))
    orders, skipped = [], 0
    lines = Prefetch("deal__line_items", queryset=DealLineItem.objects.select_related("product"))
    for request in requests.select_related("deal", "deal__company").prefetch_related(lines).order_by("deal_id"):
        deal = request.deal
        if deal.company is None:
            skipped += 1
            continue
        orders.append(_order(deal))
    out_parties = [_party(c) for c in parties.order_by("id").iterator(chunk_size=2000)]
    out_products = [
        commerceml.OutProduct(
            id=f"product-{p.pk}", sku=p.sku, name=p.name, unit=p.unit, vat_rate=p.vat_rate, description=p.description
        )
        for p in products.order_by("id").iterator(chunk_size=2000)
    ]
    version = str(conn.settings.get("version") or "2.05")
    encoding = str(conn.settings.get("encoding") or "utf-8")
    body = commerceml.sale_query(
        parties=out_parties,
        products=out_products,
        orders=orders,
        version=version,
        encoding=encoding,
        generated=timezone.localtime(now),
        catalog_id=f"kontor-{conn.uid}",
    )
    counts = {"counterparties": len(out_parties), "products": len(out_products), "documents": len(orders)}
    if skipped:
        counts["skipped"] = skipped
    return Outgoing(body=body, counts=counts, encoding=encoding)


def _party(company: Company) -> commerceml.OutParty:
    return commerceml.OutParty(
        id=f"company-{company.pk}",
        name=company.name,
        legal_name=company.legal_name,
        tax_id=company.tax_id,
        kpp=company.registration_id,
        address=company.legal_address,
        phones=list(company.phones or []),
        emails=list(company.emails or []),
    )


def _order(deal: Deal) -> commerceml.OutOrder:
    items = list(deal.line_items.all())
    lines = [
        commerceml.OutLine(
            id=f"product-{i.product_id}" if i.product_id else f"line-{i.pk}",
            sku=i.product.sku if i.product is not None else "",
            name=i.name,
            unit=i.unit,
            price=i.price,
            quantity=i.quantity,
            discount=i.discount,
            vat_rate=i.vat_rate,
            vat=i.vat,
            total=i.total,
        )
        for i in items
    ]
    amount = sum((line.total for line in lines), Decimal("0.00")) if lines else deal.amount
    assert deal.company is not None
    return commerceml.OutOrder(
        id=f"deal-{deal.pk}",
        number=str(deal.pk),
        date=timezone.localtime(deal.created_at),
        currency=deal.currency,
        amount=amount,
        party=_party(deal.company),
        lines=lines,
        comment=deal.title,
    )


def out_confirm(conn: Connection) -> bool:
    """1C took the last answer (`mode=success`): the watermark moves to when that query looked. False when
    there was nothing pending (a repeated confirmation changes nothing)."""
    with transaction.atomic():
        state = OutState.objects.select_for_update().filter(connection=conn).first()
        if state is None or state.pending_until is None:
            return False
        state.confirmed_until, state.pending_until, state.confirmed_at = state.pending_until, None, timezone.now()
        state.save(update_fields=["confirmed_until", "pending_until", "confirmed_at"])
        return True


@workspace_write
def out_reset(*, actor: User, connection: Connection) -> None:
    """Send everything again with the next exchange (after 1C's data was restored, say)."""
    require_manager(actor)
    OutState.objects.update_or_create(connection=connection, defaults={"confirmed_until": None, "pending_until": None})


# --- deals marked for invoicing ------------------------------------------------------------------------------


@workspace_write
def invoice_request_set(*, actor: User, deal: Deal, requested: bool) -> InvoiceRequest | None:
    """Mark the deal for invoicing in 1C (it goes out with the next exchange), or take the mark off. Needs the
    right to edit the deal."""
    policy.require_on(actor, policy.Action.EDIT, RecordType.DEAL, deal)
    if not requested:
        InvoiceRequest.objects.filter(deal=deal).delete()
        return None
    request, _created = InvoiceRequest.objects.update_or_create(
        deal=deal, defaults={"requested_by": actor, "changed_at": timezone.now()}
    )
    return request
