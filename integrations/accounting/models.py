"""What the 1C exchange keeps beside a connection: the sessions of 1C's exchange runs, the files 1C uploads, the
import runs with their cursor, the watermark of what went out, the deals marked for invoicing, and the invoices
and payments that came in from 1C."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.core.models import Connection, Exchange
from tenants.accounts.models import User


class ExchangeFile(models.Model):
    """A file 1C uploaded (`mode=file`, in chunks that are appended) for a later `mode=import`."""

    # acc_file_unique_name (connection, name) serves every lookup by connection.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=255)
    # The exchange session (services.session_open) that uploaded it: a chunk of another starts the file again.
    session = models.CharField(max_length=16, blank=True)
    content = models.BinaryField(default=b"")
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "name"], name="acc_file_unique_name")]

    def __str__(self) -> str:
        return self.name


class ImportRun(models.Model):
    """The import of one uploaded file, done in batches over several `mode=import` calls: `cursor` records are
    done; the next call goes on from there."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    # Unindexed: a connection's runs (its setup page) and a pruned log entry's run are few rows to scan.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+", db_index=False)
    # acc_run_file_idx (file, -id) serves the file's latest run and the cascade.
    file = models.ForeignKey(ExchangeFile, on_delete=models.CASCADE, related_name="runs", db_index=False)
    exchange = models.ForeignKey(
        Exchange, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    cursor = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    problems = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["file", "-id"], name="acc_run_file_idx")]

    def __str__(self) -> str:
        return f"{self.file_id} {self.status} {self.cursor}"


class OutState(models.Model):
    """How far the changes sent to 1C are confirmed. `query` sends what changed after `confirmed_until` and
    notes when it looked (`pending_until`); 1C's `success` moves the watermark there. A query never confirmed
    is answered again with the same changes (and any newer)."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, primary_key=True, related_name="+")
    confirmed_until = models.DateTimeField(null=True, blank=True)
    pending_until = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.connection_id} {self.confirmed_until}"


class InvoiceRequest(models.Model):
    """A deal marked for invoicing from its card: it goes to 1C as an order ("Заказ товара")."""

    # The deal is the key (no sequence, no second index); the query's changed_at filter scans the marks, which
    # are few (deals waiting for an invoice).
    deal = models.OneToOneField("deals.Deal", on_delete=models.CASCADE, primary_key=True, related_name="+")
    # Unindexed: people are deactivated, never deleted.
    requested_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # Bumped when the mark is set again: the deal goes out again with the next query.
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.deal_id)


class Document(models.Model):
    """An invoice or a payment 1C sent, as it was last received (1C owns it: Kontor never changes or sends it
    back). One table for both kinds: a workspace schema stays small."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("invoice")
        PAYMENT = "payment", _("payment")

    # acc_document_unique_id (connection, kind, onec_id) serves every lookup by connection.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # 1C's id of the document (its Ид): the same id received again updates the row.
    onec_id = models.CharField(max_length=128)
    number = models.CharField(_("number"), max_length=64)
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3)
    # Indexed (Django's one-column index): the deal card's panel; the deal's delete (SET NULL).
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Indexed: the company card's panel; the company's delete (SET NULL).
    company = models.ForeignKey("companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The counterparty as 1C named it.
    tax_id = models.CharField(max_length=32)
    counterparty = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-date", "-id")
        constraints = [models.UniqueConstraint(fields=["connection", "kind", "onec_id"], name="acc_document_unique_id")]

    def __str__(self) -> str:
        return f"{self.kind} {self.number}"
