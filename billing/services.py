"""Billing's writes: a workspace's trial, its subscription through Stripe Checkout, its seats following its people,
the webhooks that tell what Stripe did, and the states that follow (trial, active, past due, read-only,
cancelled, deleted).

Stripe is called outside any transaction and with deterministic idempotency keys, so a retry (ours or a second
worker's) is the same request and is applied once. What Stripe says is never trusted from a webhook's body
where order matters: the subscription is read again, so events arriving late or twice cannot move a state
backwards.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, tenant_context

from billing import mails
from billing.models import CLOSED_STATES, Account, Invoice, Plan, Price, SeatEntry, State, StripeEvent
from billing.stripe_api import client, event_construct
from tenants.accounts import policy
from tenants.accounts.models import User
from tenants.accounts.selectors import active_user_count
from tenants.events.models import ConsumerCursor, Event
from tenants.events.outbox import Type as EventType
from tenants.models import Tenant
from tenants.services import workspace_access_set, workspace_delete

log = logging.getLogger(__name__)


def _now() -> datetime.datetime:
    return timezone.now()


def _from_unix(value: int | None) -> datetime.datetime | None:
    return datetime.datetime.fromtimestamp(value, tz=datetime.UTC) if value else None


def _money(minor: int | None) -> Decimal:
    return (Decimal(minor or 0) / 100).quantize(Decimal("0.01"))


# --- states ------------------------------------------------------------------------------------------------


def _until(account: Account) -> datetime.datetime | None:
    return {
        State.TRIAL: account.trial_ends_at,
        State.PAST_DUE: account.grace_ends_at,
        State.CANCELLED: account.delete_after,
    }.get(State(account.state))


def _project(account: Account, *, tenant: Tenant | None = None) -> None:
    """Copy the state onto the tenant row, which every request reads: read-only or not, and the banner."""
    if tenant is None and account.tenant_id:
        tenant = Tenant.objects.filter(pk=account.tenant_id).first()
    if tenant is None:
        return
    workspace_access_set(
        tenant=tenant, read_only=account.state in CLOSED_STATES, notice=account.state, until=_until(account)
    )


def _state_set(account: Account, state: State, *, now: datetime.datetime, **fields: Any) -> None:
    changed = account.state != state
    previous = account.state
    account.state = state
    if changed:
        account.state_changed_at = now
    for name, value in fields.items():
        setattr(account, name, value)
    account.save()
    _project(account)
    if changed:
        log.info("billing: workspace %s %s -> %s", account.workspace_uid, previous, state)
        transaction.on_commit(lambda: mails.state_changed(account_id=account.pk, state=state))


# --- the trial ---------------------------------------------------------------------------------------------


def account_open(*, tenant: Tenant, now: datetime.datetime | None = None) -> Account:
    """A new workspace's billing: a trial of BILLING_TRIAL_DAYS, no card; the ledger starts at its seats."""
    now = now or _now()
    account = Account.objects.create(
        tenant=tenant,
        workspace_uid=tenant.uid,
        workspace_name=tenant.name,
        state=State.TRIAL,
        state_changed_at=now,
        trial_ends_at=now + datetime.timedelta(days=settings.BILLING_TRIAL_DAYS),
    )
    seats = active_user_count() if connection.schema_name == tenant.schema_name else 1  # type: ignore[attr-defined]
    SeatEntry.objects.create(
        account=account, created_at=now, source="opened", reason=SeatEntry.Reason.OPENED, seats=seats, delta=seats
    )
    _project(account, tenant=tenant)
    return account


def account_for(tenant: Tenant) -> Account:
    """The workspace's billing account (opened now for a workspace that predates billing)."""
    account = Account.objects.filter(tenant=tenant).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return account_open(tenant=tenant)
    except IntegrityError:
        return Account.objects.get(tenant=tenant)


# --- prices in Stripe --------------------------------------------------------------------------------------


def price_ensure(price: Price) -> str:
    """The Stripe id of `price`: found by its lookup key, else created (with its product); kept on the row."""
    if price.stripe_price_id:
        return price.stripe_price_id
    api = client()
    found = api.v1.prices.list(params={"lookup_keys": [price.lookup_key], "active": True, "limit": 1})
    if found.data:
        stripe_id = found.data[0].id
    else:
        plan = price.plan
        if not plan.stripe_product_id:
            product = api.v1.products.create(
                params={
                    "name": plan.name,
                    "description": plan.description or plan.name,
                    "metadata": {"plan": plan.code},
                },
                options={"idempotency_key": f"kontor-product-{plan.code}"},
            )
            Plan.objects.filter(pk=plan.pk).update(stripe_product_id=product.id)
            plan.stripe_product_id = product.id
        created = api.v1.prices.create(
            params={
                "product": plan.stripe_product_id,
                "currency": price.currency.lower(),
                "unit_amount": price.minor_units,
                "recurring": {"interval": price.interval},
                "lookup_key": price.lookup_key,
                "nickname": str(price),
                "metadata": {"plan": plan.code},
            },
            options={"idempotency_key": f"kontor-price-{price.lookup_key}"},
        )
        stripe_id = created.id
    Price.objects.filter(pk=price.pk).update(stripe_price_id=stripe_id)
    price.stripe_price_id = stripe_id
    return stripe_id


def price_change(*, price: Price, unit_amount: Decimal) -> Price:
    """The vendor's new amount for a plan, currency and interval: a new price (Stripe's are immutable); the old
    one stops being offered. Subscriptions already on the old price keep it."""
    if unit_amount <= 0:
        raise ValidationError({"unit_amount": [_("The amount must be positive.")]})
    with transaction.atomic():
        old = Price.objects.select_for_update().get(pk=price.pk)
        Price.objects.filter(pk=old.pk).update(is_active=False)
        number = Price.objects.filter(plan=old.plan, currency=old.currency, interval=old.interval).count()
        new = Price.objects.create(
            plan=old.plan,
            currency=old.currency,
            interval=old.interval,
            unit_amount=unit_amount,
            lookup_key=f"{old.lookup_key.split('__v')[0]}__v{number + 1}",
        )
    if old.stripe_price_id:
        client().v1.prices.update(old.stripe_price_id, params={"active": False})
    return new


# --- Checkout and the Customer Portal ----------------------------------------------------------------------


class BillingUnavailable(Exception):
    """Stripe could not be reached or refused; the person is told to try again."""


def _addon_for(price: Price) -> Price | None:
    return (
        Price.objects.filter(
            plan__kind=Plan.Kind.ADDON, plan__is_active=True, currency=price.currency, interval=price.interval
        )
        .filter(is_active=True)
        .first()
    )


def _customer_ensure(account: Account, *, actor: User, language: str) -> str:
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer = client().v1.customers.create(
        params={
            "email": actor.email,
            "name": account.workspace_name or str(account.workspace_uid),
            "metadata": {"workspace_uid": str(account.workspace_uid)},
            "preferred_locales": [language],
        },
        options={"idempotency_key": f"kontor-customer-{account.workspace_uid}"},
    )
    Account.objects.filter(pk=account.pk).update(stripe_customer_id=customer.id)
    account.stripe_customer_id = customer.id
    return customer.id


def checkout_start(
    *,
    actor: User,
    account: Account,
    price: Price,
    priority_support: bool,
    success_url: str,
    cancel_url: str,
    language: str = "en",
) -> str:
    """A Stripe Checkout session for the subscription (quantity = the workspace's seats); its address."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_BILLING)
    if account.state == State.DELETED:
        raise ValidationError(_("This workspace has been deleted."))
    if account.subscribed and account.state != State.CANCELLED:
        raise ValidationError(_("This workspace is subscribed already: change the plan or card in the portal."))
    if not price.is_active or price.plan.kind != Plan.Kind.SEATS or not price.plan.is_active:
        raise ValidationError({"price": [_("This price is not offered.")]})
    addon = _addon_for(price) if priority_support else None
    if priority_support and addon is None:
        raise ValidationError({"priority_support": [_("Priority support is not offered in this currency.")]})
    try:
        customer = _customer_ensure(account, actor=actor, language=language)
        items = [{"price": price_ensure(price), "quantity": max(active_user_count(), 1)}]
        if addon is not None:
            items.append({"price": price_ensure(addon), "quantity": 1})
        uid = str(account.workspace_uid)
        session = client().v1.checkout.sessions.create(
            params={  # type: ignore[arg-type]
                "mode": "subscription",
                "customer": customer,
                "client_reference_id": uid,
                "line_items": items,
                "success_url": success_url,
                "cancel_url": cancel_url,
                "locale": language if language in ("en", "fr", "ru") else "auto",
                "metadata": {"workspace_uid": uid},
                "subscription_data": {"metadata": {"workspace_uid": uid}},
            }
        )
    except stripe.StripeError as exc:
        log.warning("billing: checkout for %s failed: %r", account.workspace_uid, exc)
        raise BillingUnavailable from exc
    return str(session.url)


def portal_open(*, actor: User, account: Account, return_url: str, language: str = "en") -> str:
    """A Customer Portal session: the card, the invoices, the cancellation, at Stripe."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_BILLING)
    if not account.stripe_customer_id:
        raise ValidationError(_("There is no subscription to manage yet."))
    try:
        session = client().v1.billing_portal.sessions.create(
            params={
                "customer": account.stripe_customer_id,
                "return_url": return_url,
                "locale": language if language in ("en", "fr", "ru") else "auto",
            }
        )
    except stripe.StripeError as exc:
        log.warning("billing: portal for %s failed: %r", account.workspace_uid, exc)
        raise BillingUnavailable from exc
    return str(session.url)


def checkout_confirm(*, account: Account, session_id: str) -> bool:
    """The person came back from Checkout: read the session and take the subscription now, without waiting for
    the webhook (which then finds it done). False when the session is not this workspace's or not complete."""
    if not session_id.startswith("cs_") or len(session_id) > 255:
        return False
    try:
        session = client().v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError:
        return False
    if (
        session.client_reference_id != str(account.workspace_uid)
        or session.customer != account.stripe_customer_id
        or not session.subscription
        or session.status != "complete"
    ):
        return False
    subscription_sync(account=account, subscription_id=_id_of(session.subscription))
    return True


def _id_of(value: Any) -> str:
    return str(value if isinstance(value, str) else getattr(value, "id", "") or "")


# --- the subscription, read again -------------------------------------------------------------------------


@dataclass
class _Items:
    seat_item: str = ""
    seats: int = 0
    price: Price | None = None
    priority_support: bool = False
    period_start: datetime.datetime | None = None
    period_end: datetime.datetime | None = None


def _items(subscription: dict[str, Any]) -> _Items:
    found = _Items()
    for item in subscription["items"]["data"]:
        price_id = item["price"]["id"]
        price = Price.objects.select_related("plan").filter(stripe_price_id=price_id).first()
        if price is None:
            continue
        if price.plan.kind == Plan.Kind.ADDON:
            found.priority_support = True
            continue
        found.seat_item, found.seats, found.price = item["id"], int(item["quantity"] or 0), price
        found.period_start = _from_unix(item.get("current_period_start"))
        found.period_end = _from_unix(item.get("current_period_end"))
    return found


@contextmanager
def _account_locked(account: Account) -> Iterator[Account]:
    with transaction.atomic():
        yield Account.objects.select_for_update().get(pk=account.pk)


def subscription_sync(*, account: Account, subscription_id: str) -> Account:
    """Read the subscription from Stripe and bring the account to what it says (any number of times, in any
    order: the result is the subscription's present state)."""
    subscription = client().v1.subscriptions.retrieve(subscription_id)
    if subscription.customer != account.stripe_customer_id:
        log.warning("billing: subscription %s is not workspace %s's", subscription_id, account.workspace_uid)
        return account
    items = _items(subscription.to_dict())
    status = str(subscription.status)
    now = _now()
    with _account_locked(account) as account:
        current = account.stripe_subscription_id
        # A second subscription is taken only if the one we know has ended (a new one after a cancellation).
        if (
            current
            and current != subscription.id
            and (account.stripe_status not in ("canceled", "incomplete_expired") or status == "canceled")
        ):
            return account
        linking = current != subscription.id or not account.stripe_seat_item_id
        account.stripe_subscription_id = subscription.id
        account.stripe_status = status
        account.stripe_seat_item_id = items.seat_item
        account.price = items.price or account.price
        account.priority_support = items.priority_support
        account.current_period_start = items.period_start
        account.current_period_end = items.period_end
        account.cancel_at_period_end = bool(subscription.cancel_at_period_end)
        if linking and items.seat_item:
            _ledger_subscribed(account, subscription_id=subscription.id, seats=items.seats, now=now)
        _state_from_stripe(account, status, now=now)
    if linking:
        transaction.on_commit(lambda: _seats_check_then_follow(account))
    return account


def _ledger_subscribed(account: Account, *, subscription_id: str, seats: int, now: datetime.datetime) -> None:
    entry, _ = SeatEntry.objects.get_or_create(
        account=account,
        source=f"subscribed:{subscription_id}",
        defaults={
            "created_at": now,
            "reason": SeatEntry.Reason.SUBSCRIBED,
            "seats": seats,
            "delta": seats - _ledger_seats(account),
        },
    )
    account.ledger_applied = max(account.ledger_applied, entry.pk)
    account.seats_billed = seats


def _state_from_stripe(account: Account, status: str, *, now: datetime.datetime) -> None:
    state = State(account.state)
    if state == State.DELETED:
        return
    if status in ("active", "trialing"):
        _state_set(account, State.ACTIVE, now=now, grace_ends_at=None, cancelled_at=None, delete_after=None)
    elif status == "past_due":
        if state in (State.TRIAL, State.ACTIVE, State.CANCELLED):
            grace = now + datetime.timedelta(days=settings.BILLING_GRACE_DAYS)
            _state_set(account, State.PAST_DUE, now=now, grace_ends_at=account.grace_ends_at or grace)
        else:
            _state_set(account, state, now=now)
    elif status in ("unpaid", "paused"):
        _state_set(account, State.READ_ONLY, now=now)
    elif status == "canceled":
        if state != State.CANCELLED:
            keep = now + datetime.timedelta(days=settings.BILLING_RETENTION_DAYS)
            _state_set(account, State.CANCELLED, now=now, cancelled_at=now, delete_after=keep, grace_ends_at=None)
        else:
            account.save()
    else:
        # incomplete (a first payment waiting for the customer), incomplete_expired: the state stays.
        account.save()


# --- seats -------------------------------------------------------------------------------------------------


def _ledger_seats(account: Account) -> int:
    last = SeatEntry.objects.filter(account=account).order_by("-id").values_list("seats", flat=True).first()
    return last or 0


_DELTAS = {EventType.USER_ACTIVATED: 1, EventType.USER_DEACTIVATED: -1}


def seats_record(event: Event) -> SeatEntry | None:
    """A person event of the current workspace, delivered by the outbox in order: one ledger entry per seat
    change (a replayed event enters nothing) and, after commit, Stripe follows, one update per entry.

    The entry's count is the previous one plus the event's change, so each change is its own entry even when
    several are delivered at once. When the event is the workspace's latest about people, the count is also
    checked against the people actually active, and a difference (people made without an event) is entered
    as a correction."""
    delta = _DELTAS.get(event.type, 0)
    if event.snapshot.get("kind", User.Kind.PERSON) != User.Kind.PERSON:
        delta = 0  # support staff and integrations are never seats
    tenant = connection.tenant  # type: ignore[attr-defined]
    account = account_for(tenant)
    if account.state == State.DELETED or SeatEntry.objects.filter(account=account, source=str(event.uuid)).exists():
        return None
    now = _now()
    entry = None
    seats = _ledger_seats(account)
    if delta:
        reason = SeatEntry.Reason.ACTIVATED if delta > 0 else SeatEntry.Reason.DEACTIVATED
        if delta > 0 and event.actor_id == event.record_id:
            reason = SeatEntry.Reason.JOINED
        seats = max(seats + delta, 0)
        entry = SeatEntry.objects.create(
            account=account,
            created_at=now,
            source=str(event.uuid),
            reason=reason,
            user_id=event.record_id,
            user_email=str(event.snapshot.get("email", ""))[:254],
            seats=seats,
            delta=delta,
        )
    # The count first, then whether a later people event exists: a change committed between the two reads is
    # seen as a later event (its own delivery checks again), never as a difference to correct.
    actual = active_user_count()
    later = Event.objects.filter(id__gt=event.id, type__in=list(_DELTAS)).exists()
    if not later and actual != seats:
        entry = SeatEntry.objects.create(
            account=account,
            created_at=now,
            source=f"corrected:{event.uuid}",
            reason=SeatEntry.Reason.CORRECTED,
            seats=actual,
            delta=actual - seats,
        )
    if entry is not None:
        transaction.on_commit(lambda: _seats_follow(account))
    return entry


SEATS_CONSUMER = "billing.seats"


def seats_check(*, account: Account) -> SeatEntry | None:
    """Enter the difference between the ledger and the people active now, unless people events are still on
    their way to the ledger (their delivery checks the count itself). Run when a subscription starts: someone
    who joined between the checkout and its completion is a seat the checkout did not count."""
    tenant = Tenant.objects.filter(pk=account.tenant_id).first() if account.tenant_id else None
    if tenant is None:
        return None
    with tenant_context(tenant):
        # The count first, then the queue: a change committed in between is found queued (as in seats_record).
        actual = active_user_count()
        position = ConsumerCursor.objects.filter(consumer=SEATS_CONSUMER).values_list("position", flat=True).first()
        if Event.objects.filter(id__gt=position or 0, type__in=list(_DELTAS)).exists():
            return None
    with _account_locked(account) as locked:
        seats = _ledger_seats(locked)
        if actual == seats:
            return None
        return SeatEntry.objects.create(
            account=locked,
            created_at=_now(),
            source=f"checked:{uuid.uuid4()}",
            reason=SeatEntry.Reason.CORRECTED,
            seats=actual,
            delta=actual - seats,
        )


def _seats_check_then_follow(account: Account) -> None:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        seats_check(account=account)
    _seats_follow(account)


def _seats_follow(account: Account) -> None:
    if account.stripe_subscription_id:
        from billing.tasks import seats_push

        seats_push.delay(account.pk)


class SeatsBusy(Exception):
    """Another worker is pushing this workspace's seats; try again shortly."""


@contextmanager
def _pushing(account_id: int) -> Iterator[None]:
    """One pusher per workspace at a time (a session advisory lock: no transaction held over the HTTP call)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [0x6B62, account_id])
        if not cursor.fetchone()[0]:
            raise SeatsBusy
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [0x6B62, account_id])


def seats_push(*, account_id: int) -> int:
    """Send Stripe the ledger entries it has not had, oldest first, one subscription update each (with
    proration, keyed by the entry, so a retry after a timeout is not applied twice). Returns how many were
    sent; raises the Stripe error of the first that failed (the caller retries from there)."""
    sent = 0
    with schema_context(settings.PUBLIC_SCHEMA_NAME), _pushing(account_id):
        while True:
            account = Account.objects.get(pk=account_id)
            if not account.stripe_seat_item_id or account.stripe_status in ("canceled", "incomplete_expired"):
                return sent
            entry = (
                SeatEntry.objects.filter(account=account, id__gt=account.ledger_applied)
                .exclude(reason=SeatEntry.Reason.SUBSCRIBED)
                .order_by("id")
                .first()
            )
            if entry is None:
                return sent
            entry.account = account
            client().v1.subscriptions.update(
                account.stripe_subscription_id,
                params={
                    "items": [{"id": account.stripe_seat_item_id, "quantity": max(entry.seats, 1)}],
                    "proration_behavior": "create_prorations",
                },
                options={"idempotency_key": entry.idempotency_key},
            )
            Account.objects.filter(pk=account_id, ledger_applied__lt=entry.pk).update(
                ledger_applied=entry.pk, seats_billed=max(entry.seats, 1)
            )
            sent += 1


def seats_behind() -> list[int]:
    """Accounts whose ledger has entries Stripe has not had (a push lost with its worker is found again)."""
    from django.db.models import Exists, OuterRef

    pending = SeatEntry.objects.filter(account=OuterRef("pk"), id__gt=OuterRef("ledger_applied"))
    return list(
        Account.objects.filter(Exists(pending))
        .exclude(stripe_seat_item_id="")
        .exclude(stripe_status__in=["canceled", "incomplete_expired"])
        .values_list("pk", flat=True)
    )


# --- webhooks ----------------------------------------------------------------------------------------------


class ForeignObject(Exception):
    """An object that belongs to another Stripe customer than the account's."""


class WebhookRefused(Exception):
    """A body that is not Stripe's (bad or missing signature, stale timestamp, not an event)."""


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    outcome: str
    duplicate: bool = False


def webhook_receive(*, payload: bytes, signature: str) -> WebhookResult:
    """Verify, store once by id, apply. A duplicate of an applied or ignored event changes nothing; one that
    failed before is applied again. A transient failure raises (Stripe sends the event again later)."""
    try:
        event = event_construct(payload, signature)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise WebhookRefused(str(exc)) from exc
    body = event.to_dict()
    if not (
        isinstance(body.get("id"), str)
        and 0 < len(body["id"]) <= 255
        and isinstance(body.get("type"), str)
        and len(body["type"]) <= 100
        and isinstance(body.get("created"), int)
        and 0 < body["created"] < 2**37
    ):
        raise WebhookRefused("not an event: id, type or created missing or out of range")
    now = _now()
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        stored, created = StripeEvent.objects.get_or_create(
            id=event.id,
            defaults={
                "type": event.type,
                "created": _from_unix(event.created) or now,
                "received_at": now,
                "payload": event.to_dict(for_json=True),
            },
        )
        if not created and stored.outcome in (StripeEvent.Outcome.APPLIED, StripeEvent.Outcome.IGNORED):
            return WebhookResult(event_id=stored.id, outcome=stored.outcome, duplicate=True)
        try:
            account, outcome, detail = _event_apply(event.to_dict(for_json=True))
        except (stripe.InvalidRequestError, ForeignObject) as exc:
            # It names an object Stripe does not have, or one of another customer: a forgery or a mistake.
            account, outcome, detail = None, StripeEvent.Outcome.IGNORED, str(exc)[:2000]
        except (KeyError, TypeError, AttributeError) as exc:
            # Signed, but not shaped like an event of its type: nothing in it can be applied.
            account, outcome, detail = None, StripeEvent.Outcome.IGNORED, f"malformed: {exc!r}"[:2000]
        except Exception as exc:
            StripeEvent.objects.filter(pk=stored.pk).update(
                outcome=StripeEvent.Outcome.FAILED, detail=repr(exc)[:2000], processed_at=_now()
            )
            raise
        StripeEvent.objects.filter(pk=stored.pk).update(
            outcome=outcome, detail=detail, processed_at=_now(), account=account
        )
    return WebhookResult(event_id=stored.id, outcome=outcome)


_SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
}
_INVOICE_EVENTS = {
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.voided",
    "invoice.marked_uncollectible",
}


def _account_of_customer(customer: Any) -> Account | None:
    customer_id = _id_of(customer)
    return Account.objects.filter(stripe_customer_id=customer_id).first() if customer_id else None


def _event_apply(event: dict[str, Any]) -> tuple[Account | None, str, str]:
    obj: dict[str, Any] = event["data"]["object"]
    kind = str(event["type"])
    ignored = StripeEvent.Outcome.IGNORED
    if kind == "checkout.session.completed":
        if obj.get("mode") != "subscription":
            return None, ignored, "not a subscription checkout"
        reference = _uuid_or_none(obj.get("client_reference_id"))
        account = Account.objects.filter(workspace_uid=reference).first() if reference else None
        if account is None or _id_of(obj.get("customer")) != account.stripe_customer_id or not obj.get("subscription"):
            return None, ignored, "no workspace with this reference and customer"
        subscription_sync(account=account, subscription_id=_id_of(obj["subscription"]))
        return account, StripeEvent.Outcome.APPLIED, ""
    if kind in _SUBSCRIPTION_EVENTS:
        account = _account_of_customer(obj.get("customer"))
        if account is None:
            return None, ignored, "unknown customer"
        account = subscription_sync(account=account, subscription_id=str(obj["id"]))
        if kind == "customer.subscription.trial_will_end":
            # After the re-read: a delivery that failed there (and comes again) has mailed nobody.
            mails.trial_ending(account_id=account.pk)
        return account, StripeEvent.Outcome.APPLIED, ""
    if kind in _INVOICE_EVENTS:
        account = _account_of_customer(obj.get("customer"))
        if account is None:
            return None, ignored, "unknown customer"
        invoice = invoice_sync(account=account, invoice_id=str(obj["id"]))
        subscription_id = _invoice_subscription(invoice)
        if subscription_id and subscription_id == account.stripe_subscription_id:
            account = subscription_sync(account=account, subscription_id=subscription_id)
        _invoice_followup(account, kind, invoice)
        return account, StripeEvent.Outcome.APPLIED, ""
    return None, ignored, "not handled"


def _uuid_or_none(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        return None


def _invoice_subscription(invoice: Any) -> str:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return _id_of(details.get("subscription") or invoice.get("subscription") or "")


def invoice_sync(*, account: Account, invoice_id: str) -> dict[str, Any]:
    """Read the invoice from Stripe and keep its present description (for the billing page)."""
    invoice: dict[str, Any] = client().v1.invoices.retrieve(invoice_id).to_dict()
    if _id_of(invoice.get("customer")) != account.stripe_customer_id:
        raise ForeignObject(f"invoice {invoice_id} is not workspace {account.workspace_uid}'s")
    lines = [
        {
            "description": line.get("description") or "",
            "amount": str(_money(line.get("amount"))),
            "quantity": line.get("quantity"),
            "period_start": (line.get("period") or {}).get("start"),
            "period_end": (line.get("period") or {}).get("end"),
        }
        for line in (invoice.get("lines") or {}).get("data", [])
    ]
    Invoice.objects.update_or_create(
        stripe_id=invoice["id"],
        defaults={
            "account": account,
            "number": invoice.get("number") or "",
            "status": invoice.get("status") or "",
            "currency": str(invoice.get("currency") or "").upper(),
            "total": _money(invoice.get("total")),
            "amount_due": _money(invoice.get("amount_due")),
            "amount_paid": _money(invoice.get("amount_paid")),
            "created": _from_unix(invoice.get("created")) or _now(),
            "period_start": _from_unix(invoice.get("period_start")),
            "period_end": _from_unix(invoice.get("period_end")),
            "billing_reason": invoice.get("billing_reason") or "",
            "hosted_invoice_url": invoice.get("hosted_invoice_url") or "",
            "invoice_pdf": invoice.get("invoice_pdf") or "",
            "lines": lines,
        },
    )
    return invoice


def _invoice_followup(account: Account, kind: str, invoice: dict[str, Any]) -> None:
    status = invoice.get("status")
    with _account_locked(account) as locked:
        if kind == "invoice.payment_action_required" and status == "open":
            locked.action_url = invoice.get("hosted_invoice_url") or ""
            locked.save(update_fields=["action_url", "updated_at"])
            transaction.on_commit(lambda: mails.payment_action(account_id=locked.pk, url=locked.action_url))
        elif kind == "invoice.payment_failed" and status == "open" and locked.failed_mail_invoice != invoice["id"]:
            locked.failed_mail_invoice = invoice["id"]
            locked.save(update_fields=["failed_mail_invoice", "updated_at"])
            transaction.on_commit(lambda: mails.payment_failed(account_id=locked.pk))
        elif status == "paid" and locked.action_url:
            locked.action_url = ""
            locked.save(update_fields=["action_url", "updated_at"])


# --- time passing: trials end, grace runs out, cancelled workspaces are deleted ----------------------------


# A trial is never closed without this much notice: the reminder goes this long before its end and, sent late
# (billing turned on for older workspaces, the beat down), moves the end so that the notice is still given.
TRIAL_NOTICE = datetime.timedelta(days=3)
_LATE_NOTICE = datetime.timedelta(days=1)


def trials_remind(*, now: datetime.datetime | None = None) -> int:
    """Mail the administrators of trials ending within TRIAL_NOTICE, once."""
    now = now or _now()
    due = Account.objects.filter(
        state=State.TRIAL, trial_mail_sent_at__isnull=True, trial_ends_at__lte=now + TRIAL_NOTICE
    )
    sent = 0
    for account in due:
        ends = account.trial_ends_at
        if ends - now < _LATE_NOTICE:
            ends = now + TRIAL_NOTICE
        if Account.objects.filter(pk=account.pk, trial_mail_sent_at__isnull=True).update(
            trial_mail_sent_at=now, trial_ends_at=ends
        ):
            if ends != account.trial_ends_at:
                account.trial_ends_at = ends
                _project(account)
            mails.trial_ending(account_id=account.pk)
            sent += 1
    return sent


def workspaces_reopen() -> int:
    """Billing turned off: no workspace stays closed by it (their accounts keep their state, should it come back)."""
    reopened = 0
    closed = Account.objects.filter(state__in=[State.READ_ONLY, State.CANCELLED], tenant__read_only=True)
    for tenant in Tenant.objects.filter(billing__in=closed):
        reopened += workspace_access_set(tenant=tenant, read_only=False)
    return reopened


def states_advance(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Move every account whose date has come: an unpaid trial (once its administrators were told, TRIAL_NOTICE
    ahead) and a past-due grace become read-only, a cancelled workspace past its retention is deleted."""
    now = now or _now()
    done = {"trials_ended": 0, "grace_ended": 0, "deleted": 0}
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        trials_remind(now=now)
        ended = Account.objects.filter(state=State.TRIAL, trial_ends_at__lte=now, trial_mail_sent_at__isnull=False)
        for pk in ended.values_list("pk", flat=True):
            with _account_locked(Account(pk=pk)) as account:
                if account.state == State.TRIAL and account.trial_ends_at <= now:
                    _state_set(account, State.READ_ONLY, now=now)
                    done["trials_ended"] += 1
        for pk in Account.objects.filter(state=State.PAST_DUE, grace_ends_at__lte=now).values_list("pk", flat=True):
            with _account_locked(Account(pk=pk)) as account:
                if account.state == State.PAST_DUE and account.grace_ends_at and account.grace_ends_at <= now:
                    _state_set(account, State.READ_ONLY, now=now)
                    done["grace_ended"] += 1
        for pk in Account.objects.filter(state=State.CANCELLED, delete_after__lte=now).values_list("pk", flat=True):
            if account_delete(account_id=pk, now=now):
                done["deleted"] += 1
    return done


def _schema_inventory(schema: str) -> dict[str, Any]:
    """What a workspace's schema holds, table by table (estimated rows: exact counts would read every table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, GREATEST(c.reltuples, 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' "
            "ORDER BY c.relname",
            [schema],
        )
        tables = {name: rows for name, rows in cursor.fetchall()}
    return {"schema": schema, "tables": len(tables), "rows_estimated": sum(tables.values()), "per_table": tables}


def _files_remove(schema: str) -> dict[str, int]:
    """The workspace's uploaded files (MEDIA_ROOT/<schema>/, MULTITENANT_RELATIVE_MEDIA_ROOT), counted and removed."""
    root = Path(settings.MEDIA_ROOT).resolve()
    directory = (root / schema).resolve()
    if not schema or directory.parent != root or not directory.is_dir():
        return {"files": 0, "bytes": 0}
    found = [p for p in directory.rglob("*") if p.is_file()]
    counted = {"files": len(found), "bytes": sum(p.stat().st_size for p in found)}
    shutil.rmtree(directory)
    return counted


def account_delete(*, account_id: int, now: datetime.datetime | None = None) -> bool:
    """Delete a cancelled workspace whose retention has passed: its schema, files and routes. The account, its
    ledger and invoices stay (accounting records), with a report of what went."""
    now = now or _now()
    account = Account.objects.select_related("tenant").get(pk=account_id)
    if account.state != State.CANCELLED or not account.delete_after or account.delete_after > now:
        return False
    tenant = account.tenant
    report: dict[str, Any] = {"deleted_at": now.isoformat()}
    if tenant is not None:
        with tenant_context(tenant):
            report["people"] = User.objects.count()
        report.update(_schema_inventory(tenant.schema_name))
        report["domains"] = list(tenant.domains.values_list("domain", flat=True))
        workspace_delete(tenant=tenant)
        # After the schema: a failed drop leaves the files with the data they belong to.
        report["uploads"] = _files_remove(tenant.schema_name)
    with transaction.atomic():
        Account.objects.filter(pk=account.pk).update(
            state=State.DELETED, state_changed_at=now, deleted_at=now, deletion_report=report, tenant=None
        )
    log.warning(
        "billing: deleted cancelled workspace %s (%s): schema %s, %s tables, ~%s rows, %s people, uploads %s",
        account.workspace_uid,
        account.workspace_name,
        report.get("schema"),
        report.get("tables"),
        report.get("rows_estimated"),
        report.get("people"),
        report.get("uploads"),
    )
    return True
