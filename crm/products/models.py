from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from crm.core.money import CURRENCY_CHOICES, validate_currency


class Product(models.Model):
    """A line of the nomenclature: what deals sell."""

    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=255)
    unit = models.CharField(_("unit"), max_length=20, default="pcs")
    price = models.DecimalField(_("price"), max_digits=16, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, validators=[validate_currency])
    vat_rate = models.DecimalField(
        _("VAT, %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    is_active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        # The product list sorted by name (its default).
        indexes = [models.Index(Lower("name"), name="product_lower_name")]
        # A constraint rather than unique=True: the same index without the varchar_pattern_ops twin, which no
        # query needs (the API's sku__istartswith compares upper(sku) and cannot use it).
        constraints = [models.UniqueConstraint(fields=["sku"], name="product_unique_sku")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"
