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


class ExchangeSession(models.Model):
    """The cookie 1C got from `checkauth` and sends with every later call of that exchange run (only its hash
    is kept)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="acc_session_expires_idx")]


class ExchangeFile(models.Model):
    """A file 1C uploaded (`mode=file`, in chunks that are appended) for a later `mode=import`."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    # The session that uploaded it: a chunk of another session starts the file again.
    session = models.ForeignKey(ExchangeSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    content = models.BinaryField(default=b"")
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "name"], name="acc_file_unique_name")]


class ImportRun(models.Model):
    """The import of one uploaded file, done in batches over several `mode=import` calls: `cursor` records are
    done; the next call goes on from there."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    file = models.ForeignKey(ExchangeFile, on_delete=models.CASCADE, related_name="runs")
    exchange = models.ForeignKey(Exchange, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    cursor = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    problems = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["file", "-id"], name="acc_run_file_idx")]


class OutState(models.Model):
    """How far the changes sent to 1C are confirmed. `query` sends what changed after `confirmed_until` and
    notes when it looked (`pending_until`); 1C's `success` moves the watermark there. A query never confirmed
    is answered again with the same changes (and any newer)."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, primary_key=True, related_name="+")
    confirmed_until = models.DateTimeField(null=True, blank=True)
    pending_until = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)


class InvoiceRequest(models.Model):
    """A deal marked for invoicing from its card: it goes to 1C as an order ("Заказ товара")."""

    deal = models.OneToOneField("deals.Deal", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    # Bumped when the mark is set again: the deal goes out again with the next query.
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["changed_at"], name="acc_request_changed_idx")]


class AccountingDocument(models.Model):
    """A document 1C sent, as it was last received (1C owns it: Kontor never changes or sends it back)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    # 1C's id of the document (its Ид): the same id received again updates the row.
    onec_id = models.CharField(max_length=128)
    number = models.CharField(_("number"), max_length=64)
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3)
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The counterparty as 1C named it.
    tax_id = models.CharField(max_length=32)
    counterparty = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ("-date", "-id")


class Invoice(AccountingDocument):
    class Meta(AccountingDocument.Meta):
        verbose_name = _("invoice")
        constraints = [models.UniqueConstraint(fields=["connection", "onec_id"], name="acc_invoice_unique_id")]


class Payment(AccountingDocument):
    class Meta(AccountingDocument.Meta):
        verbose_name = _("payment")
        constraints = [models.UniqueConstraint(fields=["connection", "onec_id"], name="acc_payment_unique_id")]
