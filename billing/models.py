"""What the vendor sells and what each workspace owes (public schema): plans and their prices, one billing
account per workspace with its state, the append-only seat ledger, the Stripe events received and the
invoices they told of. Rows outlive their workspace (invoices are accounting records): the link to the
tenant is SET_NULL and the workspace's uid stays."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant


class Interval(models.TextChoices):
    MONTH = "month", _("monthly")
    YEAR = "year", _("yearly")


class Plan(models.Model):
    """Something the vendor sells: the per-user subscription or an add-on (priority support)."""

    class Kind(models.TextChoices):
        SEATS = "seats", _("per user")  # quantity = the workspace's seats
        ADDON = "addon", _("add-on")  # quantity 1 per workspace

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    stripe_product_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Price(models.Model):
    """One price of a plan in a currency and interval. Stripe prices never change: a new amount is a new row
    (and Stripe price), the old one made inactive; subscriptions on it keep it until changed."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices")
    currency = models.CharField(max_length=3)  # ISO 4217, upper case
    interval = models.CharField(max_length=8, choices=Interval.choices)
    unit_amount = models.DecimalField(max_digits=12, decimal_places=2)  # per user (seats) or per workspace
    # Stable name of the price in Stripe (its lookup_key): found again, never created twice.
    lookup_key = models.CharField(max_length=100, unique=True)
    stripe_price_id = models.CharField(max_length=64, blank=True, default="")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["plan__position", "currency", "interval"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "currency", "interval"],
                condition=models.Q(is_active=True),
                name="billing_price_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.name} {self.unit_amount} {self.currency}/{self.interval}"

    @property
    def minor_units(self) -> int:
        return int((self.unit_amount * 100).to_integral_value())


class State(models.TextChoices):
    TRIAL = "trial", _("Trial")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Payment overdue")
    READ_ONLY = "read_only", _("Read-only")
    CANCELLED = "cancelled", _("Cancelled")
    DELETED = "deleted", _("Deleted")


# States in which the workspace's data cannot change.
CLOSED_STATES = frozenset({State.READ_ONLY, State.CANCELLED, State.DELETED})


class Account(models.Model):
    """A workspace's billing: its state, its Stripe customer and subscription, what Stripe last confirmed."""

    tenant = models.OneToOneField(Tenant, null=True, on_delete=models.SET_NULL, related_name="billing")
    workspace_uid = models.UUIDField(unique=True)
    workspace_name = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.TRIAL)
    state_changed_at = models.DateTimeField()
    trial_ends_at = models.DateTimeField()
    grace_ends_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    delete_after = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # What the deletion removed (schema, relations, rows), kept as its record.
    deletion_report = models.JSONField(default=dict, blank=True)

    price = models.ForeignKey(Price, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    priority_support = models.BooleanField(default=False)
    stripe_customer_id = models.CharField(max_length=64, blank=True, default="")
    stripe_subscription_id = models.CharField(max_length=64, blank=True, default="")
    stripe_seat_item_id = models.CharField(max_length=64, blank=True, default="")
    stripe_status = models.CharField(max_length=32, blank=True, default="")
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    # A payment waiting for the customer (3-D Secure): where they confirm it.
    action_url = models.URLField(max_length=500, blank=True, default="")
    # The seats Stripe has confirmed, and the last ledger entry they came from.
    seats_billed = models.PositiveIntegerField(default=0)
    ledger_applied = models.BigIntegerField(default=0)
    # Mails sent once per occasion.
    trial_mail_sent_at = models.DateTimeField(null=True, blank=True)
    failed_mail_invoice = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "trial_ends_at"], name="billing_account_trial"),
            models.Index(fields=["stripe_customer_id"], name="billing_account_customer"),
            models.Index(fields=["stripe_subscription_id"], name="billing_account_subscription"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_name or self.workspace_uid} ({self.state})"

    @property
    def subscribed(self) -> bool:
        return bool(self.stripe_subscription_id) and self.stripe_status not in ("canceled", "incomplete_expired")


class SeatEntry(models.Model):
    """The seat ledger: one row per change of a workspace's seat count, never updated nor deleted (a database
    trigger refuses both). Each row is one Stripe quantity change, and so one pair of proration lines on an
    invoice: the ledger explains the invoice."""

    class Reason(models.TextChoices):
        OPENED = "opened", _("Workspace opened")
        ACTIVATED = "activated", _("Person activated")
        JOINED = "joined", _("Invitation accepted")
        DEACTIVATED = "deactivated", _("Person deactivated")
        SUBSCRIBED = "subscribed", _("Subscription started")
        CORRECTED = "corrected", _("Count corrected")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger", db_index=False)
    created_at = models.DateTimeField()
    # What caused it: the workspace event's uuid, the checkout session's id... A cause is entered once.
    source = models.CharField(max_length=80)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    user_id = models.BigIntegerField(null=True, blank=True)
    user_email = models.CharField(max_length=254, blank=True, default="")
    seats = models.PositiveIntegerField()
    delta = models.IntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["account", "source"], name="billing_seatentry_unique_source")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.delta:+d} → {self.seats}"

    @property
    def idempotency_key(self) -> str:
        """Deterministic: a retry of this change, by any worker, is the same request to Stripe."""
        return f"kontor-seats-{self.account.workspace_uid}-{self.pk}"


class StripeEvent(models.Model):
    """Every webhook event received, by Stripe's id: a duplicate or a replay finds its row and changes nothing."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received")
        APPLIED = "applied", _("Applied")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField()
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    detail = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class Invoice(models.Model):
    """An invoice of a workspace as Stripe last described it (the billing page lists these without calling out)."""

    stripe_id = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices", db_index=False)
    number = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    amount_due = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    amount_paid = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    created = models.DateTimeField()
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    billing_reason = models.CharField(max_length=40, blank=True, default="")
    hosted_invoice_url = models.URLField(max_length=500, blank=True, default="")
    invoice_pdf = models.URLField(max_length=500, blank=True, default="")
    lines = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["account", "-created"], name="billing_invoice_account")]

    def __str__(self) -> str:
        return self.number or self.stripe_id
