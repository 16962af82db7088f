"""What the billing page reads: the workspace's own account, seats, invoices and ledger (never another's)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet
from django.utils import timezone

from billing.models import Account, Invoice, Plan, Price, SeatEntry, State
from tenants.models import Tenant

_CENT = Decimal("0.01")


def prices_offered() -> QuerySet[Price]:
    return Price.objects.select_related("plan").filter(is_active=True, plan__is_active=True, plan__kind=Plan.Kind.SEATS)


def addon_price(*, currency: str, interval: str) -> Price | None:
    return (
        Price.objects.select_related("plan")
        .filter(is_active=True, plan__is_active=True, plan__kind=Plan.Kind.ADDON, currency=currency, interval=interval)
        .first()
    )


def price_default(tenant: Tenant) -> Price | None:
    """The price offered first: the workspace's currency if we sell in it, else euros; monthly."""
    offered = prices_offered().filter(interval="month")
    return offered.filter(currency=tenant.currency).first() or offered.filter(currency="EUR").first()


def invoices_of(account: Account, *, limit: int = 24) -> list[Invoice]:
    return list(Invoice.objects.filter(account=account).order_by("-created", "-id")[:limit])


def ledger_of(account: Account, *, limit: int = 50) -> list[SeatEntry]:
    return list(SeatEntry.objects.filter(account=account).order_by("-id")[:limit])


@dataclass(frozen=True)
class Estimate:
    currency: str
    date: datetime.datetime | None
    seats: int
    seat_amount: Decimal
    addon_amount: Decimal
    prorations: Decimal

    @property
    def total(self) -> Decimal:
        return self.seat_amount + self.addon_amount + self.prorations


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def estimate(account: Account, *, seats: int, price: Price | None = None) -> Estimate | None:
    """The next invoice: the coming period at today's seats (and the add-on), plus the prorations of this
    period's seat changes so far (each change's new seats minus its old, for the part of the period left
    when it was made, as Stripe prorates it)."""
    price = account.price or price
    if price is None:
        return None
    subscribed = account.subscribed and account.state in (State.ACTIVE, State.PAST_DUE)
    addon = addon_price(currency=price.currency, interval=price.interval) if account.priority_support else None
    prorations = Decimal(0)
    start, end = account.current_period_start, account.current_period_end
    if subscribed and start and end and end > start:
        length = Decimal((end - start).total_seconds())
        changes = SeatEntry.objects.filter(account=account, created_at__gte=start, created_at__lt=end).exclude(
            reason__in=[SeatEntry.Reason.SUBSCRIBED, SeatEntry.Reason.OPENED]
        )
        for entry in changes:
            left = Decimal((end - entry.created_at).total_seconds()) / length
            prorations += _round(price.unit_amount * entry.delta * left)
    return Estimate(
        currency=price.currency,
        date=end if subscribed else None,
        seats=seats,
        seat_amount=_round(price.unit_amount * seats),
        addon_amount=addon.unit_amount if addon else Decimal(0),
        prorations=prorations,
    )


def trial_days_left(account: Account) -> int:
    if account.state != State.TRIAL:
        return 0
    left = account.trial_ends_at - timezone.now()
    return max(left.days + (1 if left.seconds else 0), 0)


@dataclass(frozen=True)
class PriceRow:
    plan: Plan
    currency: str
    month: Decimal | None
    year: Decimal | None


def price_table() -> list[PriceRow]:
    """The public price list: each active plan in each currency, its monthly and yearly amounts."""
    rows: dict[tuple[int, str], dict[str, Decimal]] = {}
    plans: dict[int, Plan] = {}
    prices = Price.objects.select_related("plan").filter(is_active=True, plan__is_active=True)
    for price in prices.order_by("plan__position", "currency"):
        plans[price.plan_id] = price.plan
        rows.setdefault((price.plan_id, price.currency), {})[price.interval] = price.unit_amount
    return [
        PriceRow(plan=plans[plan_id], currency=currency, month=amounts.get("month"), year=amounts.get("year"))
        for (plan_id, currency), amounts in rows.items()
    ]
