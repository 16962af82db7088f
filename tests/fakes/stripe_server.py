"""A local fake of the Stripe API for the billing tests and the benchmark.

It speaks Stripe's wire format (form-encoded requests, JSON objects, Stripe's error bodies), so the real
stripe-python client talks to it unchanged through `base_addresses={"api": fake.url}`. It keeps its own clock:
subscriptions renew, invoices are paid or declined and events are signed like Stripe's webhooks only when a test
moves the clock or acts for the customer (`complete_checkout`, `set_card`, `retry_payment`, ...).

    with FakeStripe(api_key="sk_test_kontor", webhook_secret="whsec_test") as fake:
        client = stripe.StripeClient("sk_test_kontor", base_addresses={"api": fake.url}, max_network_retries=0)
        ...  # Kontor creates a Checkout session through `client`
        fake.complete_checkout(session_id, card="ok")
        for delivery in fake.take():  # post them to the webhook view (or replay, reorder, forge them)
            django_client.post(url, delivery.payload, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=delivery.signature)
        fake.advance(31 * 86400)  # the renewal, its invoice and payment

Events carry the fake's clock (`created`); their signatures carry the real time, as `construct_event` checks it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import html
import json
import queue
import random
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

Json = dict[str, Any]
API_VERSION = "2026-10-28.endive"
CARDS = ("ok", "decline", "requires_action")
FAULTS = ("500", "timeout", "lost_response")
RETRY_AFTER = 3 * 86400  # Stripe's first smart retry comes a few days after a decline
INCOMPLETE_FOR = 23 * 3600  # a first invoice left unpaid this long expires its subscription
_ALNUM = string.ascii_letters + string.digits


@dataclass
class Delivery:
    event_id: str
    type: str
    payload: bytes
    signature: str
    status: int | None = None  # the webhook_url's answer; 0 when it could not be reached

    def json(self) -> Json:
        result: Json = json.loads(self.payload)
        return result


class LoggedRequest(NamedTuple):
    method: str
    path: str
    idempotency_key: str | None
    status: int | None  # None: the connection was dropped without an answer


@dataclass
class ApiError(Exception):
    """An error answered the way Stripe answers it."""

    status: int
    message: str
    _: KW_ONLY
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None

    def __str__(self) -> str:
        return self.message

    def body(self) -> Json:
        error: Json = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def parse_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """Nested keys as Stripe reads them: `a[b][0][c]=v`, `a[]=v` appends; numbered dicts become lists."""
    root: Json = {}
    for key, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        if match is None:
            raise ApiError(400, f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part or str(len(node)), {})
            if not isinstance(child, dict):
                raise ApiError(400, f"Invalid parameter: {key} mixes a value and a hash", param=key)
            node = child
        node[parts[-1] or str(len(node))] = value
    return _listify(root, name="")


def _listify(value: Any, *, name: str) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v, name=k) for k, v in value.items()}
    # Metadata keys are the caller's own: "0" there is a key, not an index.
    if name != "metadata" and converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _add_interval(ts: int, interval: str, count: int) -> int:
    """Calendar arithmetic like Stripe's: a month after Jan 31 is the last day of February."""
    if interval in ("day", "week"):
        return ts + count * (86400 if interval == "day" else 7 * 86400)
    start = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    day = min(start.day, (next_month - dt.timedelta(days=1)).day)
    return int(start.replace(year=year, month=month, day=day).timestamp())


def _period_end_after(anchor: int, recurring: Json, after: int) -> int:
    """The first period end after `after`, counted from the anchor: Jan 31 -> Feb 28 -> Mar 31, as Stripe does."""
    k = 1
    while (end := _add_interval(anchor, recurring["interval"], recurring["interval_count"] * k)) <= after:
        k += 1
    return end


def _prorate(amount: int, remaining: int, period: int) -> int:
    """amount × remaining / period, rounded half away from zero, in integers (no float drift)."""
    sign = -1 if amount < 0 else 1
    return sign * ((2 * abs(amount) * remaining + period) // (2 * period))


def _as_bool(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise ApiError(400, f"Invalid boolean: {value}", param=param)


def _as_int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid integer: {value}", param=param) from None


def _metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's rules: an empty string unsets a key, `metadata=""` unsets them all."""
    if update is None:
        return current
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise ApiError(400, "Invalid metadata: must be a hash", param="metadata")
    merged = {**current, **update}
    return {k: v for k, v in merged.items() if v != ""}


def _wire(object_id: str, kind: str, nulls: str = "", empties: str = "", **fields: Any) -> Json:
    """A Stripe object: id and kind, the fields Kontor never sets as null (`nulls`) or [] (`empties`), the rest."""
    empty: Json = {name: [] for name in empties.split()}
    return {"id": object_id, "object": kind, "livemode": False, **dict.fromkeys(nulls.split()), **empty, **fields}


def _fields(names: str, value: Any = None) -> Json:
    return dict.fromkeys(names.split(), value)


def _list_object(data: list[Json], url: str) -> Json:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def _pricing(price: Json) -> Json:
    return {
        "type": "price_details",
        "price_details": {"price": price["id"], "product": price["product"]},
        "unit_amount_decimal": str(price["unit_amount"]),
    }


class FakeStripe:
    def __init__(
        self,
        api_key: str = "sk_test_kontor",
        webhook_secret: str = "whsec_test",
        *,
        seed: int = 0,
        webhook_url: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.seed = seed
        self.hang_seconds = 5.0  # how long "timeout" / "lost_response" keep the client waiting before dropping it
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()
        self._webhook_queue: queue.Queue[Delivery | None] = queue.Queue()
        self._webhook_thread: threading.Thread | None = None
        self._request: Json = {"id": None, "idempotency_key": None}
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.now = int(time.time())
            self.latency = 0.0
            self.error_rate = 0.0
            self._rng = random.Random(self.seed)
            self._faults: deque[str] = deque()
            self.request_log: list[LoggedRequest] = []
            self.outbox: list[Delivery] = []
            self.products: dict[str, Json] = {}
            self.prices: dict[str, Json] = {}
            self.customers: dict[str, Json] = {}
            self.checkout_sessions: dict[str, Json] = {}
            self.portal_sessions: dict[str, Json] = {}
            self.subscriptions: dict[str, Json] = {}
            self.invoices: dict[str, Json] = {}
            self.invoice_items: dict[str, Json] = {}
            self.events: dict[str, Json] = {}
            self.cards: dict[str, str] = {}
            self._checkout_private: dict[str, Json] = {}  # line items and subscription_data, not in the object
            self._idempotent: dict[tuple[str, str], tuple[str, int, Json]] = {}

    def start(self) -> FakeStripe:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        serve = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-stripe", daemon=True)
        serve.start()  # polling often makes stop() quick
        self._webhook_thread = threading.Thread(target=self._deliver_forever, name="fake-stripe-hooks", daemon=True)
        self._webhook_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes the requests that are hanging on purpose
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._webhook_thread is not None:
            self._webhook_queue.put(None)
            self._webhook_thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "call start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- faults ----------------------------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, kind: str = "500") -> None:
        if kind not in FAULTS:
            raise ValueError(f"kind must be one of {FAULTS}")
        with self._lock:
            self._faults.extend([kind] * n)

    # -- inspection ------------------------------------------------------------------------------------------------
    def pending_items(self, customer: str) -> list[Json]:
        with self._lock:
            return [i for i in self.invoice_items.values() if i["customer"] == customer and i["invoice"] is None]

    def take(self, types: Iterable[str] | None = None) -> list[Delivery]:
        """Pops the deliveries (all, or those of the given types) in the order they were sent."""
        wanted = None if types is None else {types} if isinstance(types, str) else set(types)
        with self._lock:
            taken = [d for d in self.outbox if wanted is None or d.type in wanted]
            self.outbox = [d for d in self.outbox if not (wanted is None or d.type in wanted)]
        return taken

    def flush(self, timeout: float = 10.0) -> None:
        """Waits until the deliveries to webhook_url so far have been posted."""
        deadline = time.monotonic() + timeout
        while self._webhook_queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def sign(self, payload: bytes, timestamp: int | None = None, *, secret: str | None = None) -> str:
        """A Stripe-Signature header for a payload (for forged or replayed deliveries too)."""
        t = int(time.time()) if timestamp is None else timestamp
        key = (secret or self.webhook_secret).encode()
        digest = hmac.new(key, f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={t},v1={digest}"

    # -- clock and the customer's side -----------------------------------------------------------------------------
    def advance(self, seconds: int) -> None:
        """Moves the clock; what falls due on the way happens in time order: period ends renew (or end) their
        subscription, an incomplete one expires 23 hours after its creation."""
        with self._lock:
            target = self.now + int(seconds)
            while True:
                due = []
                for sub in self.subscriptions.values():
                    if sub["status"] in ("active", "past_due", "unpaid"):
                        due.append((sub["items"]["data"][0]["current_period_end"], sub["id"]))
                    elif sub["status"] == "incomplete":
                        due.append((sub["created"] + INCOMPLETE_FOR, sub["id"]))
                when, sub_id = min(due, default=(target + 1, ""))
                if when > target:
                    break
                self.now = max(self.now, when)
                sub = self.subscriptions[sub_id]
                if sub["status"] == "incomplete":
                    self._expire(sub)
                else:
                    self._period_end(sub)
            self.now = target

    def set_card(self, customer_id: str, card: str) -> None:
        if card not in CARDS:
            raise ValueError(f"card must be one of {CARDS}")
        with self._lock:
            self._get(self.customers, customer_id, "customer")
            self.cards[customer_id] = card

    def complete_checkout(self, session_id: str, card: str = "ok") -> Json:
        """The customer pays on the Checkout page: customer, subscription and first invoice, paid per `card`."""
        if card not in CARDS:
            raise ValueError(f"card must be one of {CARDS}")
        with self._lock:
            session = self._get(self.checkout_sessions, session_id, "checkout.session")
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}")
            private = self._checkout_private[session_id]
            customer_id = session["customer"]
            if customer_id is None:
                customer_id = self._new_customer({"email": session["customer_email"]})["id"]
            self.cards[customer_id] = card
            sub_data = private["subscription_data"]
            sub = self._new_subscription(customer_id, private["line_items"], metadata=sub_data.get("metadata") or {})
            invoice = self._new_invoice(sub, "subscription_create", period=(self.now, self.now), with_items=True)
            sub["latest_invoice"] = invoice["id"]
            self._emit("customer.subscription.created", sub)
            self._emit("invoice.created", invoice)
            self._finalize_and_pay(invoice)
            session.update(
                status="complete",
                subscription=sub["id"],
                customer=customer_id,
                invoice=invoice["id"],
                payment_status="paid" if invoice["status"] == "paid" else "unpaid",
            )
            customer = self.customers[customer_id]
            session["customer_details"] = {"email": customer["email"], "name": customer["name"], "address": None}
            session["customer_details"].update(phone=None, tax_exempt="none", tax_ids=[])
            self._emit("checkout.session.completed", session)
            return session

    def retry_payment(self, invoice_id: str) -> Json:
        """Charges an open invoice again with the customer's current card (fixed in the portal, say)."""
        with self._lock:
            invoice = self._get(self.invoices, invoice_id, "invoice")
            if invoice["status"] != "open":
                raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not open")
            self._attempt(invoice)
            return invoice

    def mark_unpaid(self, subscription_id: str) -> Json:
        """Stripe gave up retrying: the subscription becomes unpaid."""
        with self._lock:
            sub = self._get(self.subscriptions, subscription_id, "subscription")
            self._set_status(sub, "unpaid")
            return sub

    def cancel_subscription(self, subscription_id: str, at_period_end: bool = False) -> Json:
        """The customer cancels in the portal: at once, or at the end of the period."""
        with self._lock:
            sub = self._get(self.subscriptions, subscription_id, "subscription")
            if at_period_end:
                self._update_subscription(sub, {"cancel_at_period_end": "true"})
            else:
                self._end_subscription(sub, reason="cancellation_requested")
            return sub

    def trial_will_end(self, subscription_id: str) -> Json:
        with self._lock:
            sub = self._get(self.subscriptions, subscription_id, "subscription")
            return self._emit("customer.subscription.trial_will_end", sub)

    # -- objects ---------------------------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return prefix + "".join(secrets.choice(_ALNUM) for _ in range(24))

    def _get(self, table: dict[str, Json], object_id: str, kind: str, param: str = "id") -> Json:
        try:
            return table[object_id]
        except KeyError:
            raise ApiError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param) from None

    def _list(self, items: list[Json], url: str, params: Json) -> Json:
        limit = min(_as_int(params.get("limit", 10), "limit"), 100)
        if after := params.get("starting_after"):
            ids = [i["id"] for i in items]
            if after not in ids:
                raise ApiError(400, f"Invalid starting_after id: {after}", param="starting_after")
            items = items[ids.index(after) + 1 :]
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}

    def _new_customer(self, params: Json) -> Json:
        customer = _wire(self._id("cus_"), "customer", "address currency default_source discount shipping test_clock")
        customer.update({k: params.get(k) for k in _fields("description email name phone")})
        customer.update(balance=0, created=self.now, delinquent=False, invoice_prefix=secrets.token_hex(4).upper())
        customer["invoice_settings"] = _fields("custom_fields default_payment_method footer rendering_options")
        customer.update(metadata=_metadata({}, params.get("metadata")), next_invoice_sequence=1, tax_exempt="none")
        customer["preferred_locales"] = list(params.get("preferred_locales") or [])
        self.customers[customer["id"]] = customer
        self._emit("customer.created", customer)
        return customer

    def _new_subscription(self, customer_id: str, line_items: list[Json], *, metadata: dict[str, str]) -> Json:
        sub_id = self._id("sub_")
        items = []
        for line in line_items:
            price = self.prices[line["price"]]
            end = _period_end_after(self.now, price["recurring"], self.now)
            item = _wire(self._id("si_"), "subscription_item", "", "discounts tax_rates", created=self.now)
            item.update(current_period_start=self.now, current_period_end=end, metadata={})
            item.update(price=copy.deepcopy(price), quantity=line["quantity"], subscription=sub_id)
            items.append(item)
        sub = _wire(
            sub_id,
            "subscription",
            "application cancel_at canceled_at days_until_due default_payment_method description ended_at "
            "latest_invoice pending_update schedule test_clock trial_end trial_start",
            "discounts",
        )
        sub.update(billing_cycle_anchor=self.now, created=self.now, start_date=self.now, status="incomplete")
        sub.update(automatic_tax={"disabled_reason": None, "enabled": False, "liability": None})
        sub.update(billing_mode={"type": "flexible"}, collection_method="charge_automatically")
        sub.update(cancel_at_period_end=False, cancellation_details=_fields("comment feedback reason"))
        sub.update(currency=items[0]["price"]["currency"], customer=customer_id, metadata=dict(metadata))
        sub.update(invoice_settings={"issuer": {"type": "self"}})
        sub["items"] = _list_object(items, f"/v1/subscription_items?subscription={sub_id}")
        self.subscriptions[sub_id] = sub
        return sub

    def _line(self, invoice_id: str, sub: Json, item_id: str, source: Json, *, invoice_item: str | None) -> Json:
        """An invoice line from a subscription item's charge or a (proration) invoice item: both as `source`."""
        parent = {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": invoice_item,
                "proration": source["proration"],
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item_id,
            },
        }
        line = _wire(self._id("il_"), "line_item", "", "discount_amounts discounts pretax_credit_amounts taxes")
        line.update(
            {
                k: copy.deepcopy(source[k])
                for k in ("amount", "currency", "description", "period", "pricing", "quantity")
            }
        )
        line.update(discountable=not source["proration"], invoice=invoice_id, metadata={}, parent=parent)
        line["subtotal"] = source["amount"]
        return line

    def _new_invoice(self, sub: Json, reason: str, *, period: tuple[int, int], with_items: bool) -> Json:
        """A draft invoice of the subscription's items (for their current period) and its pending invoice items."""
        invoice_id = self._id("in_")
        customer = self.customers[sub["customer"]]
        lines = []
        if with_items:
            for item in sub["items"]["data"]:
                price, quantity = item["price"], item["quantity"]
                name = self.products[price["product"]]["name"]
                at = f"{price['unit_amount'] / 100:.2f} {price['currency'].upper()} / {price['recurring']['interval']}"
                charge = {
                    "amount": price["unit_amount"] * quantity,
                    "currency": price["currency"],
                    "description": f"{quantity} × {name} (at {at})",
                    "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
                    "pricing": _pricing(price),
                    "proration": False,
                    "quantity": quantity,
                }
                lines.append(self._line(invoice_id, sub, item["id"], charge, invoice_item=None))
        for ii in self.invoice_items.values():
            details = ii["parent"]["subscription_details"]
            if ii["invoice"] is None and details["subscription"] == sub["id"]:
                ii["invoice"] = invoice_id
                lines.append(self._line(invoice_id, sub, details["subscription_item"], ii, invoice_item=ii["id"]))
        total = sum(line["amount"] for line in lines)
        invoice = _wire(
            invoice_id,
            "invoice",
            "default_payment_method description due_date effective_at ending_balance hosted_invoice_url "
            "invoice_pdf next_payment_attempt number webhooks_delivered_at",
            "discounts total_taxes",
        )
        invoice.update(_fields("amount_due amount_overpaid amount_paid amount_remaining amount_shipping", 0))
        invoice.update(_fields("subtotal subtotal_excluding_tax total total_excluding_tax", total))
        invoice.update(attempt_count=0, attempted=False, auto_advance=True, automatic_tax={"enabled": False})
        invoice.update(billing_reason=reason, collection_method="charge_automatically", created=self.now)
        invoice.update(currency=sub["currency"], customer=customer["id"], metadata={}, status="draft")
        invoice.update(customer_email=customer["email"], customer_name=customer["name"])
        invoice.update(period_start=period[0], period_end=period[1], starting_balance=customer["balance"])
        invoice["lines"] = _list_object(lines, f"/v1/invoices/{invoice_id}/lines")
        invoice["status_transitions"] = _fields("finalized_at marked_uncollectible_at paid_at voided_at")
        details = {"metadata": dict(sub["metadata"]), "subscription": sub["id"], "subscription_proration_date": None}
        invoice["parent"] = {"type": "subscription_details", "quote_details": None, "subscription_details": details}
        self.invoices[invoice_id] = invoice
        return invoice

    def _finalize_and_pay(self, invoice: Json) -> None:
        customer = self.customers[invoice["customer"]]
        # The customer's credit (a negative balance, e.g. from a downgrade's proration) pays first.
        due = invoice["total"] + customer["balance"]
        customer["balance"] = min(due, 0)
        number = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
        invoice.update(
            status="open",
            number=number,
            amount_due=max(due, 0),
            amount_remaining=max(due, 0),
            ending_balance=customer["balance"],
            effective_at=self.now,
            hosted_invoice_url=f"{self.url}/invoice/{invoice['id']}",
            invoice_pdf=f"{self.url}/invoice/{invoice['id']}/pdf",
        )
        invoice["status_transitions"]["finalized_at"] = self.now
        self._emit("invoice.finalized", invoice)
        if invoice["amount_due"] == 0:
            self._mark_paid(invoice)  # nothing to charge: Stripe marks it paid without a payment
        else:
            self._attempt(invoice)

    def _attempt(self, invoice: Json) -> None:
        card = self.cards.get(invoice["customer"], "ok")
        sub = self.subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        if card == "ok":
            self._mark_paid(invoice)
            return
        first = invoice["billing_reason"] == "subscription_create"
        # Stripe retries renewals on its own schedule; a first invoice waits for the customer (on-session).
        invoice["next_payment_attempt"] = None if first else self.now + RETRY_AFTER
        if card == "decline":
            self._emit("invoice.payment_failed", invoice)
        else:
            self._emit("invoice.payment_action_required", invoice)
        if sub["status"] == "active":
            self._set_status(sub, "past_due")

    def _mark_paid(self, invoice: Json) -> None:
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, next_payment_attempt=None)
        invoice["status_transitions"]["paid_at"] = self.now
        self._emit("invoice.paid", invoice)
        self._emit("invoice.payment_succeeded", invoice)
        sub = self.subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
        if sub["status"] in ("incomplete", "past_due", "unpaid"):
            self._set_status(sub, "active")

    def _set_status(self, sub: Json, status: str) -> None:
        previous = {"status": sub["status"]}
        sub["status"] = status
        self._emit("customer.subscription.updated", sub, previous)

    def _end_subscription(self, sub: Json, *, reason: str) -> None:
        if sub["status"] == "canceled":
            raise ApiError(400, f"No such subscription: '{sub['id']}'", code="resource_missing", param="id")
        sub.update(status="canceled", ended_at=self.now, canceled_at=sub["canceled_at"] or self.now)
        sub["cancellation_details"]["reason"] = reason
        self._emit("customer.subscription.deleted", sub)

    def _period_end(self, sub: Json) -> None:
        if sub["cancel_at_period_end"]:
            self._end_subscription(sub, reason="cancellation_requested")
            return
        previous = {"items": copy.deepcopy(sub["items"]), "latest_invoice": sub["latest_invoice"]}
        old = (sub["items"]["data"][0]["current_period_start"], sub["items"]["data"][0]["current_period_end"])
        for item in sub["items"]["data"]:
            item["current_period_start"] = item["current_period_end"]
            item["current_period_end"] = _period_end_after(
                sub["billing_cycle_anchor"], item["price"]["recurring"], item["current_period_end"]
            )
        # Like Stripe's, a renewal invoice's own period is the one that just ended; its lines carry the new one.
        invoice = self._new_invoice(sub, "subscription_cycle", period=old, with_items=True)
        sub["latest_invoice"] = invoice["id"]
        self._emit("customer.subscription.updated", sub, previous)
        self._emit("invoice.created", invoice)
        if sub["status"] != "unpaid":  # an unpaid subscription's invoices stay drafts, never charged
            self._finalize_and_pay(invoice)

    def _expire(self, sub: Json) -> None:
        invoice = self.invoices[sub["latest_invoice"]]
        if invoice["status"] == "open":
            invoice.update(status="void", amount_remaining=0, next_payment_attempt=None)
            invoice["status_transitions"]["voided_at"] = self.now
            self._emit("invoice.voided", invoice)
        sub["ended_at"] = self.now
        self._set_status(sub, "incomplete_expired")

    def _update_subscription(self, sub: Json, params: Json) -> Json:
        if sub["status"] in ("canceled", "incomplete_expired", "incomplete") and set(params) - {"metadata", "expand"}:
            message = f"A subscription with status `{sub['status']}` can only update its metadata."
            raise ApiError(400, message, param=sorted(set(params) - {"metadata", "expand"})[0])
        previous: Json = {}
        behavior = params.get("proration_behavior", "create_prorations")
        if behavior not in ("create_prorations", "none", "always_invoice"):
            raise ApiError(400, f"Invalid proration_behavior: {behavior}", param="proration_behavior")
        t = _as_int(params.get("proration_date", self.now), "proration_date")
        changes = params.get("items") or []
        if not isinstance(changes, list):
            raise ApiError(400, "Invalid array", param="items")
        by_id = {item["id"]: item for item in sub["items"]["data"]}
        prorated = False
        for n, change in enumerate(changes):
            item = by_id.get(change.get("id", ""))
            if item is None:
                raise ApiError(400, f"Invalid subscription item: {change.get('id')}", param=f"items[{n}][id]")
            old_price, old_quantity = item["price"], item["quantity"]
            new_price = self._get(self.prices, change.get("price", old_price["id"]), "price", f"items[{n}][price]")
            new_quantity = _as_int(change.get("quantity", old_quantity), f"items[{n}][quantity]")
            if new_quantity < 0:
                raise ApiError(400, "Invalid quantity: must be at least 0", param=f"items[{n}][quantity]")
            if (new_price["id"], new_quantity) == (old_price["id"], old_quantity):
                continue
            previous.setdefault("items", copy.deepcopy(sub["items"]))
            item["price"], item["quantity"] = copy.deepcopy(new_price), new_quantity
            start, end = item["current_period_start"], item["current_period_end"]
            if behavior != "none" and start <= t < end:
                prorated = True
                self._proration_item(sub, item, old_price, old_quantity, t, unused=True)
                self._proration_item(sub, item, new_price, new_quantity, t, unused=False)
        if "cancel_at_period_end" in params:
            flag = _as_bool(params["cancel_at_period_end"], "cancel_at_period_end")
            if flag != sub["cancel_at_period_end"]:
                previous.update(
                    cancel_at_period_end=sub["cancel_at_period_end"],
                    cancel_at=sub["cancel_at"],
                    canceled_at=sub["canceled_at"],
                )
                end = sub["items"]["data"][0]["current_period_end"]
                sub.update(
                    cancel_at_period_end=flag, cancel_at=end if flag else None, canceled_at=self.now if flag else None
                )
                sub["cancellation_details"]["reason"] = "cancellation_requested" if flag else None
        if "metadata" in params:
            metadata = _metadata(sub["metadata"], params["metadata"])
            if metadata != sub["metadata"]:
                previous["metadata"] = sub["metadata"]
                sub["metadata"] = metadata
        if prorated and behavior == "always_invoice":
            invoice = self._new_invoice(sub, "subscription_update", period=(t, t), with_items=False)
            previous["latest_invoice"] = sub["latest_invoice"]
            sub["latest_invoice"] = invoice["id"]
            self._emit("customer.subscription.updated", sub, previous)
            self._emit("invoice.created", invoice)
            self._finalize_and_pay(invoice)
        elif previous:
            self._emit("customer.subscription.updated", sub, previous)
        return sub

    def _proration_item(self, sub: Json, item: Json, price: Json, quantity: int, t: int, *, unused: bool) -> None:
        start, end = item["current_period_start"], item["current_period_end"]
        amount = _prorate(price["unit_amount"] * quantity, end - t, end - start)
        name = self.products[price["product"]]["name"]
        when = dt.datetime.fromtimestamp(t, tz=dt.UTC).strftime("%d %b %Y")
        description = f"{'Unused' if unused else 'Remaining'} time on {quantity} × {name} after {when}"
        ii = _wire(self._id("ii_"), "invoiceitem", "invoice test_clock", "discounts", currency=price["currency"])
        ii.update(
            amount=-amount if unused else amount, customer=sub["customer"], date=self.now, description=description
        )
        ii.update(discountable=False, metadata={}, period={"start": t, "end": end}, pricing=_pricing(price))
        ii.update(proration=True, proration_details={"credited_items": None}, quantity=quantity)
        ii["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub["id"], "subscription_item": item["id"]},
        }
        self.invoice_items[ii["id"]] = ii

    # -- events ----------------------------------------------------------------------------------------------------
    def _emit(self, event_type: str, obj: Json, previous: Json | None = None) -> Json:
        data: Json = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event: Json = {
            "id": self._id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now,
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": dict(self._request),
            "type": event_type,
        }
        self.events[event["id"]] = event
        payload = json.dumps(event, indent=2).encode()
        delivery = Delivery(event["id"], event_type, payload, self.sign(payload))
        self.outbox.append(delivery)
        if self.webhook_url:
            self._webhook_queue.put(delivery)
        return event

    def _deliver_forever(self) -> None:
        while (delivery := self._webhook_queue.get()) is not None:
            try:
                if self.webhook_url:
                    request = urllib.request.Request(
                        self.webhook_url,
                        data=delivery.payload,
                        method="POST",
                        headers={
                            "Content-Type": "application/json; charset=utf-8",
                            "Stripe-Signature": delivery.signature,
                            "User-Agent": "Stripe/1.0",
                        },
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=10) as response:
                            delivery.status = response.status
                    except urllib.error.HTTPError as error:
                        delivery.status = error.code
                    except OSError:
                        delivery.status = 0
            finally:
                self._webhook_queue.task_done()
        self._webhook_queue.task_done()

    # -- HTTP ------------------------------------------------------------------------------------------------------
    def _handle(
        self,
        method: str,
        path: str,
        query: str,
        body: str,
        auth: str | None,
        idempotency_key: str | None,
        request_id: str,
    ) -> tuple[int, Json, str | None, bool]:
        """One API request: (status, body, fault to act out after answering, replayed)."""
        with self._lock:
            if not auth or not auth.startswith("Bearer "):
                return 401, ApiError(401, "You did not provide an API key.").body(), None, False
            key = auth.removeprefix("Bearer ")
            if key != self.api_key:
                return 401, ApiError(401, f"Invalid API Key provided: {key[:8]}***{key[-4:]}").body(), None, False
            fault = self._faults.popleft() if self._faults else None
            if fault is None and self.error_rate and self._rng.random() < self.error_rate:
                fault = "500"
            if fault == "500":
                error = ApiError(500, "An unknown error occurred", type="api_error")
                return 500, error.body(), None, False
            if fault == "timeout":
                return 0, {}, fault, False  # never applied
            pairs = parse_qsl(body if method == "POST" else query, keep_blank_values=True)
            stored_key = (key, idempotency_key) if idempotency_key and method in ("POST", "DELETE") else None
            fingerprint = json.dumps([method, path, sorted(pairs)])
            if stored_key and stored_key in self._idempotent:
                seen, status, stored = self._idempotent[stored_key]
                if seen != fingerprint:
                    message = (
                        f"Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{idempotency_key}' if you meant to "
                        f"execute a different request."
                    )
                    return 400, ApiError(400, message, type="idempotency_error").body(), None, False
                return status, copy.deepcopy(stored), fault, True
            self._request = {"id": request_id, "idempotency_key": idempotency_key}
            try:
                for route_method, pattern, handler in self._routes():
                    match = re.fullmatch(pattern, path)
                    if match and route_method == method:
                        result, status = handler(parse_form(pairs), *match.groups()), 200
                        break
                else:
                    raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")
            except ApiError as error:
                result, status = error.body(), error.status
            except Exception as error:  # a gap in the fake: say so to the test rather than drop the connection
                result, status = ApiError(500, f"Fake Stripe failed: {error!r}", type="api_error").body(), 500
            finally:
                self._request = {"id": None, "idempotency_key": None}
            result = copy.deepcopy(result)
            if status == 200:
                for expand in parse_form(pairs).get("expand") or []:
                    self._expand(result, expand.split("."))
            # Like Stripe, only requests that ran are saved; a refused parameter may be retried with the same key.
            if stored_key and status == 200:
                self._idempotent[stored_key] = (fingerprint, status, copy.deepcopy(result))
            return status, result, fault, False

    def _expand(self, obj: Any, path: list[str]) -> None:
        """Replaces an id on the path by its object, like Stripe's `expand[]=latest_invoice` or `data.customer`."""
        if not path or not isinstance(obj, dict):
            return
        value = obj.get(path[0])
        if isinstance(value, list):
            for element in value:
                self._expand(element, path[1:])
            return
        if isinstance(value, str):
            tables = (self.customers, self.subscriptions, self.invoices, self.prices, self.products, self.invoice_items)
            found = next((table[value] for table in tables if value in table), None)
            if found is None:
                return
            value = obj[path[0]] = copy.deepcopy(found)
        self._expand(value, path[1:])

    def _routes(self) -> list[tuple[str, str, Callable[..., Json]]]:
        obj = r"([A-Za-z0-9_]+)"
        return [
            ("POST", "/v1/products", self._api_create_product),
            ("GET", f"/v1/products/{obj}", lambda p, i: self._get(self.products, i, "product")),
            ("POST", "/v1/prices", self._api_create_price),
            ("GET", "/v1/prices", self._api_list_prices),
            ("GET", f"/v1/prices/{obj}", lambda p, i: self._get(self.prices, i, "price")),
            ("POST", f"/v1/prices/{obj}", self._api_update_price),
            ("POST", "/v1/customers", self._new_customer),
            ("GET", f"/v1/customers/{obj}", lambda p, i: self._get(self.customers, i, "customer")),
            ("POST", f"/v1/customers/{obj}", self._api_update_customer),
            ("POST", "/v1/checkout/sessions", self._api_create_checkout),
            ("GET", f"/v1/checkout/sessions/{obj}", lambda p, i: self._get(self.checkout_sessions, i, "session")),
            ("POST", "/v1/billing_portal/sessions", self._api_create_portal),
            ("GET", "/v1/subscriptions", self._api_list_subscriptions),
            ("GET", f"/v1/subscriptions/{obj}", lambda p, i: self._get(self.subscriptions, i, "subscription")),
            (
                "POST",
                f"/v1/subscriptions/{obj}",
                lambda p, i: self._update_subscription(self._get(self.subscriptions, i, "subscription"), p),
            ),
            ("DELETE", f"/v1/subscriptions/{obj}", self._api_cancel_subscription),
            ("GET", "/v1/invoices", self._api_list_invoices),
            ("GET", f"/v1/invoices/{obj}", lambda p, i: self._get(self.invoices, i, "invoice")),
            ("GET", "/v1/invoiceitems", self._api_list_invoice_items),
            ("GET", f"/v1/events/{obj}", lambda p, i: self._get(self.events, i, "event")),
        ]

    def _api_create_product(self, params: Json) -> Json:
        if not params.get("name"):
            raise ApiError(400, "Missing required param: name.", code="parameter_missing", param="name")
        product_id = params.get("id") or self._id("prod_")
        if product_id in self.products:
            raise ApiError(400, "Product already exists.", code="resource_already_exists", param="id")
        nulls = "default_price package_dimensions shippable statement_descriptor tax_code url"
        product = _wire(product_id, "product", nulls, "images marketing_features", name=params["name"], type="service")
        product.update(active=_as_bool(params.get("active", "true"), "active"), created=self.now, updated=self.now)
        product.update(description=params.get("description"), unit_label=params.get("unit_label"))
        product["metadata"] = _metadata({}, params.get("metadata"))
        self.products[product_id] = product
        self._emit("product.created", product)
        return product

    def _api_create_price(self, params: Json) -> Json:
        for name in ("currency", "product", "unit_amount"):
            if name not in params:
                raise ApiError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
        product = self._get(self.products, params["product"], "product", "product")
        recurring = params.get("recurring")
        if recurring is not None and recurring.get("interval") not in ("day", "week", "month", "year"):
            raise ApiError(400, "Invalid recurring[interval]", param="recurring[interval]")
        lookup_key = params.get("lookup_key")
        holder = next((p for p in self.prices.values() if lookup_key and p["lookup_key"] == lookup_key), None)
        if holder is not None:
            if not _as_bool(params.get("transfer_lookup_key", "false"), "transfer_lookup_key"):
                raise ApiError(400, f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
            holder["lookup_key"] = None
        unit_amount = _as_int(params["unit_amount"], "unit_amount")
        if recurring is not None:
            count = _as_int(recurring.get("interval_count", 1), "recurring[interval_count]")
            recurring = {"interval": recurring["interval"], "interval_count": count, "meter": None}
            recurring.update(trial_period_days=None, usage_type="licensed")
        price = _wire(self._id("price_"), "price", "custom_unit_amount tiers_mode transform_quantity", active=True)
        price.update(billing_scheme="per_unit", created=self.now, currency=params["currency"].lower())
        price.update(lookup_key=lookup_key, nickname=params.get("nickname"), product=product["id"])
        price.update(metadata=_metadata({}, params.get("metadata")), recurring=recurring)
        price.update(tax_behavior=params.get("tax_behavior", "unspecified"))
        price.update(type="one_time" if recurring is None else "recurring")
        price.update(unit_amount=unit_amount, unit_amount_decimal=str(unit_amount))
        self.prices[price["id"]] = price
        self._emit("price.created", price)
        return price

    def _api_list_prices(self, params: Json) -> Json:
        prices = list(reversed(self.prices.values()))
        if "lookup_keys" in params:
            prices = [p for p in prices if p["lookup_key"] in params["lookup_keys"]]
        if "active" in params:
            prices = [p for p in prices if p["active"] == _as_bool(params["active"], "active")]
        if "product" in params:
            prices = [p for p in prices if p["product"] == params["product"]]
        return self._list(prices, "/v1/prices", params)

    def _api_update_price(self, params: Json, price_id: str) -> Json:
        price = self._get(self.prices, price_id, "price")
        previous: Json = {}
        for name in ("active", "nickname", "lookup_key", "metadata"):
            if name in params:
                previous[name] = price[name]
        if "active" in params:
            price["active"] = _as_bool(params["active"], "active")
        for name in ("nickname", "lookup_key"):
            if name in params:
                price[name] = params[name] or None
        price["metadata"] = _metadata(price["metadata"], params.get("metadata"))
        self._emit("price.updated", price, previous)
        return price

    def _api_update_customer(self, params: Json, customer_id: str) -> Json:
        customer = self._get(self.customers, customer_id, "customer")
        previous: Json = {k: customer[k] for k in ("email", "name", "phone", "description", "metadata") if k in params}
        for name in ("email", "name", "phone", "description"):
            if name in params:
                customer[name] = params[name] or None
        if "preferred_locales" in params:
            previous["preferred_locales"] = customer["preferred_locales"]
            customer["preferred_locales"] = list(params["preferred_locales"] or [])
        customer["metadata"] = _metadata(customer["metadata"], params.get("metadata"))
        self._emit("customer.updated", customer, previous)
        return customer

    def _api_create_checkout(self, params: Json) -> Json:
        if params.get("mode") != "subscription":
            raise ApiError(400, "This fake supports mode=subscription only.", param="mode")
        if not params.get("success_url"):
            raise ApiError(400, "Missing required param: success_url.", code="parameter_missing", param="success_url")
        if params.get("customer"):
            self._get(self.customers, params["customer"], "customer", "customer")
        line_items = params.get("line_items") or []
        if not isinstance(line_items, list) or not line_items:
            raise ApiError(400, "Missing required param: line_items.", code="parameter_missing", param="line_items")
        lines = []
        for n, line in enumerate(line_items):
            price = self._get(self.prices, line.get("price", ""), "price", f"line_items[{n}][price]")
            if price["recurring"] is None or not price["active"]:
                raise ApiError(
                    400, f"The price {price['id']} is not an active recurring price.", param=f"line_items[{n}][price]"
                )
            lines.append({"price": price["id"], "quantity": _as_int(line.get("quantity", 1), "quantity")})
        session_id = self._id("cs_test_")
        amount = sum(self.prices[line["price"]]["unit_amount"] * line["quantity"] for line in lines)
        session = _wire(session_id, "checkout.session", "customer_details invoice payment_intent subscription")
        session.update(
            {k: params.get(k) for k in _fields("cancel_url client_reference_id customer customer_email locale")}
        )
        session.update(amount_subtotal=amount, amount_total=amount, created=self.now, expires_at=self.now + 86400)
        session.update(
            currency=self.prices[lines[0]["price"]]["currency"], metadata=_metadata({}, params.get("metadata"))
        )
        session.update(mode="subscription", payment_status="unpaid", status="open", success_url=params["success_url"])
        session.update(ui_mode="hosted", url=f"{self.url}/pay/{session_id}")
        self.checkout_sessions[session_id] = session
        self._checkout_private[session_id] = {
            "line_items": lines,
            "subscription_data": params.get("subscription_data") or {},
        }
        return session

    def _api_create_portal(self, params: Json) -> Json:
        customer = self._get(self.customers, params.get("customer", ""), "customer", "customer")
        session_id = self._id("bps_")
        session = _wire(session_id, "billing_portal.session", "flow on_behalf_of", configuration="bpc_fake")
        session.update(created=self.now, customer=customer["id"], locale=params.get("locale"))
        session.update(return_url=params.get("return_url"), url=f"{self.url}/portal/{session_id}")
        self.portal_sessions[session_id] = session
        return session

    def _api_list_subscriptions(self, params: Json) -> Json:
        subs = [
            s
            for s in reversed(self.subscriptions.values())
            if params.get("customer") in (None, s["customer"])
            and (params.get("status") == "all" or params.get("status", s["status"]) == s["status"])
            and (params.get("status") is not None or s["status"] not in ("canceled", "incomplete_expired"))
        ]
        return self._list(subs, "/v1/subscriptions", params)

    def _api_cancel_subscription(self, params: Json, sub_id: str) -> Json:
        sub = self._get(self.subscriptions, sub_id, "subscription")
        self._end_subscription(sub, reason="cancellation_requested")
        return sub

    def _api_list_invoices(self, params: Json) -> Json:
        invoices = [
            i
            for i in reversed(self.invoices.values())
            if params.get("customer") in (None, i["customer"])
            and params.get("subscription") in (None, i["parent"]["subscription_details"]["subscription"])
            and params.get("status") in (None, i["status"])
        ]
        return self._list(invoices, "/v1/invoices", params)

    def _api_list_invoice_items(self, params: Json) -> Json:
        pending = _as_bool(params["pending"], "pending") if "pending" in params else None
        items = [
            i
            for i in reversed(self.invoice_items.values())
            if params.get("customer") in (None, i["customer"]) and pending in (None, i["invoice"] is None)
        ]
        return self._list(items, "/v1/invoiceitems", params)

    # -- the pages a browser sees (Checkout, portal, hosted invoice) ----------------------------------------------
    def _page(self, method: str, path: str, body: str) -> tuple[int, str, str | None]:
        """(status, html, redirect location)."""
        if match := re.fullmatch(r"/pay/([A-Za-z0-9_]+)", path):
            with self._lock:
                session = self.checkout_sessions.get(match.group(1))
                if session is None:
                    return 404, "No such checkout session", None
                if method == "POST":
                    card = dict(parse_qsl(body)).get("card", "ok")
                    if card not in CARDS or session["status"] != "open":
                        return 400, "Not payable", None
                    self.complete_checkout(session["id"], card)
                    return 303, "", session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
                buttons = "".join(f'<button name="card" value="{card}">{card}</button>' for card in CARDS)
                cancel = html.escape(session["cancel_url"] or "")
                return (
                    200,
                    (
                        f"<h1>Fake Checkout {html.escape(session['id'])}</h1><form method=post>{buttons}</form>"
                        f'<a href="{cancel}">cancel</a>'
                    ),
                    None,
                )
        if match := re.fullmatch(r"/portal/([A-Za-z0-9_]+)", path):
            portal = self.portal_sessions.get(match.group(1))
            if portal is None:
                return 404, "No such portal session", None
            back = html.escape(portal["return_url"] or "")
            return 200, f'<h1>Fake portal for {portal["customer"]}</h1><a href="{back}">return</a>', None
        if match := re.fullmatch(r"/invoice/([A-Za-z0-9_]+)(/pdf)?", path):
            invoice = self.invoices.get(match.group(1))
            if invoice is None:
                return 404, "No such invoice", None
            return 200, f"<h1>Invoice {invoice['number']}</h1><p>{invoice['status']} {invoice['total']}</p>", None
        return 404, "Not found", None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: Nagle would hold the second back

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is fake.request_log

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        if not url.path.startswith("/v1/"):
            status, page, location = fake._page(method, url.path, body)
            self._send(status, page.encode(), "text/html; charset=utf-8", {"Location": location} if location else {})
            return
        if fake.latency:
            time.sleep(fake.latency)
        idempotency_key, request_id = self.headers.get("Idempotency-Key"), "req_" + secrets.token_hex(7)
        status, result, fault, replayed = fake._handle(
            method, url.path, url.query, body, self.headers.get("Authorization"), idempotency_key, request_id
        )
        lost = fault in ("timeout", "lost_response")
        with fake._lock:
            fake.request_log.append(LoggedRequest(method, url.path, idempotency_key, None if lost else status))
        if lost:
            # The client gives up waiting; whether Stripe did the work ("lost_response") it cannot tell.
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True
            return
        headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        if status == 500:
            headers["Stripe-Should-Retry"] = "true"  # nothing was done and nothing saved under the key
        self._send(status, json.dumps(result).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
