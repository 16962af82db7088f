from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.core.models import CrmRecord
from crm.core.money import CENT, CURRENCY_CHOICES, quantize, validate_currency


class Pipeline(models.Model):
    class Kind(models.TextChoices):
        SALES = "sales", _("Sales")
        SERVICE = "service", _("Service")
        RESALES = "resales", _("Repeat sales")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.SALES)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pipeline")
        ordering = ["position", "id"]
        # A constraint rather than unique=True: the same rule without a varchar_pattern_ops twin index.
        constraints = [models.UniqueConstraint(fields=["name"], name="pipeline_unique_name")]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    class Outcome(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    # stage_unique_name (pipeline, name) serves every lookup by pipeline.
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages", db_index=False)
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(
        _("win probability, %"), default=0, validators=[MaxValueValidator(100)]
    )
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.OPEN)

    class Meta:
        verbose_name = _("stage")
        ordering = ["pipeline", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_won(self) -> bool:
        return self.outcome == self.Outcome.WON

    @property
    def is_lost(self) -> bool:
        return self.outcome == self.Outcome.LOST

    @property
    def is_closed(self) -> bool:
        return self.outcome != self.Outcome.OPEN


class Deal(CrmRecord):
    title = models.CharField(_("title"), max_length=255)
    company = models.ForeignKey(
        "companies.Company",
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        db_index=False,  # deal_company (company, -created_at) serves every lookup by company
    )
    # The link table keeps its unique (deal, contact) index, which serves lookups by deal (its own deal_id index is
    # dropped by migration 0006), and its contact_id index (a contact card's deals).
    contacts = models.ManyToManyField("contacts.Contact", verbose_name=_("contacts"), blank=True, related_name="deals")
    # Both keep Django's one-column index: the deal list's pipeline and stage filters reach closed deals too
    # (deal_board holds open ones only), and so do pipeline_delete's and stage_delete's checks.
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="deals")
    amount = models.DecimalField(
        _("amount"), max_digits=16, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=CURRENCY_CHOICES, default="RUB", validators=[validate_currency]
    )
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=255, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            # The board reads open deals per stage, newest first.
            models.Index(
                fields=["pipeline", "stage", "-created_at"], name="deal_board", condition=models.Q(closed_at=None)
            ),
            # Column totals of the board come from this index alone (index-only scan), whatever the table size.
            models.Index(
                fields=["pipeline", "stage", "currency"],
                include=["amount", "owner"],
                name="deal_board_totals",
                condition=models.Q(closed_at=None),
            ),
            # My day: my open deals (owner = me, open) and those without a next step; the board's owner filter.
            models.Index(fields=["owner", "stage"], name="deal_owner_stage", condition=models.Q(closed_at=None)),
            # The client card's deals, newest first; a company's delete and merge (by company_id).
            models.Index(fields=["company", "-created_at"], name="deal_company"),
            # policy._owned_by's subquery "deals of these people" (index only), and newest first for them.
            models.Index(fields=["owner", "id"], name="deal_owner_id"),
            # The client card: closed deals newest first, and totals per outcome from the index alone.
            models.Index(
                fields=["company", "-closed_at"], name="deal_company_closed", condition=~models.Q(closed_at=None)
            ),
            models.Index(fields=["company", "stage", "currency"], include=["amount"], name="deal_company_totals"),
            # The deal list, newest first (its default sort).
            models.Index(fields=["-created_at"], name="deal_created"),
            # Filters on custom field values (lists and API: custom_fields @> {...}).
            GinIndex(fields=["custom_fields"], name="deal_custom_fields", opclasses=["jsonb_path_ops"]),
            # The tag filter (tags @> [...]).
            GinIndex(fields=["tags"], name="deal_tags"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("deals:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class DealLineItem(models.Model):
    # Both keep Django's one-column index: a deal's lines (deal = X ordered by position), and the product
    # card's deals (product.line_items) and a product's delete (SET NULL).
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="line_items")
    product = models.ForeignKey(
        "products.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="line_items"
    )
    name = models.CharField(_("name"), max_length=255)
    quantity = models.DecimalField(
        _("quantity"), max_digits=14, decimal_places=3, default=Decimal("1"), validators=[MinValueValidator(0)]
    )
    unit = models.CharField(_("unit"), max_length=20, default="pcs")
    price = models.DecimalField(_("price"), max_digits=16, decimal_places=2, validators=[MinValueValidator(0)])
    discount_percent = models.DecimalField(
        _("discount, %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    vat_rate = models.DecimalField(
        _("VAT, %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["deal", "position", "id"]

    def __str__(self) -> str:
        return self.name

    # Prices are VAT-exclusive; VAT is charged on the discounted amount.
    @property
    def subtotal(self) -> Decimal:
        return quantize(self.quantity * self.price)

    @property
    def discount(self) -> Decimal:
        return quantize(self.subtotal * self.discount_percent / 100)

    @property
    def net(self) -> Decimal:
        return self.subtotal - self.discount

    @property
    def vat(self) -> Decimal:
        return quantize(self.net * self.vat_rate / 100)

    @property
    def total(self) -> Decimal:
        return (self.net + self.vat).quantize(CENT)
