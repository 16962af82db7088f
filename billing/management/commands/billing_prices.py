"""The vendor's prices: list them, create the missing ones in Stripe, change an amount.

manage.py billing_prices list
manage.py billing_prices sync
manage.py billing_prices set kontor_standard_eur_month 14.00
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import stripe
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import Price
from billing.services import price_change, price_ensure


class Command(BaseCommand):
    help = "List the plans' prices, create them in Stripe, or change one's amount."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every price, active or not, with its Stripe id")
        sub.add_parser("sync", help="create in Stripe the active prices it does not have yet")
        change = sub.add_parser("set", help="a new amount for a price (a new Stripe price; the old one is archived)")
        change.add_argument("lookup_key")
        change.add_argument("amount")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for price in Price.objects.select_related("plan").order_by("plan__position", "currency", "interval", "id"):
                state = "active" if price.is_active else "archived"
                self.stdout.write(
                    f"{price.lookup_key:45} {price.plan.name:20} {price.unit_amount:>10} {price.currency} "
                    f"/{price.interval:5} {state:8} {price.stripe_price_id or '-'}"
                )
        elif action == "sync":
            for price in Price.objects.select_related("plan").filter(is_active=True):
                try:
                    self.stdout.write(f"{price.lookup_key}: {price_ensure(price)}")
                except stripe.StripeError as exc:
                    raise CommandError(f"{price.lookup_key}: Stripe refused: {exc}") from exc
        else:
            current = Price.objects.filter(lookup_key=options["lookup_key"], is_active=True).first()
            if current is None:
                raise CommandError(f"No active price with the lookup key {options['lookup_key']!r}.")
            try:
                amount = Decimal(options["amount"])
                new = price_change(price=current, unit_amount=amount)
            except (InvalidOperation, ValidationError) as exc:
                raise CommandError(f"Not a valid amount: {options['amount']!r}") from exc
            self.stdout.write(f"{new.lookup_key}: {new.unit_amount} {new.currency}/{new.interval}")
