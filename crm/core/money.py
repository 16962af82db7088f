"""Money is a Decimal amount with an ISO 4217 currency; never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from tenants.locale import CURRENCIES

CURRENCY_CHOICES = [(c, c) for c in CURRENCIES]
CENT = Decimal("0.01")


def validate_currency(value: str) -> None:
    if value not in CURRENCIES:
        raise ValidationError(_("%(value)s is not a supported ISO 4217 currency code."), params={"value": value})


def workspace_currency() -> str:
    """The current workspace's default currency: what new deals, products and amounts start in."""
    currency = getattr(getattr(connection, "tenant", None), "currency", "")
    return currency if currency in CURRENCIES else "RUB"


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
