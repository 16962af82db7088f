"""The fake Stripe server, driven by the real stripe-python client (no database)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import stripe
from stripe.params import SubscriptionUpdateParams

from tests.fakes.stripe_server import FakeStripe, parse_form

API_KEY = "sk_test_kontor"
SECRET = "whsec_test"
JAN_1_2027 = 1798761600  # a 31-day first period: Jan 1 -> Feb 1
DAY = 86400


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(api_key=API_KEY, webhook_secret=SECRET) as server:
        server.now = JAN_1_2027
        yield server


def make_client(fake: FakeStripe, *, timeout: float = 10, api_key: str = API_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": fake.url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return make_client(fake)


def seat_price(client: stripe.StripeClient, *, unit_amount: int = 1000) -> stripe.Price:
    product = client.v1.products.create(params={"name": "Kontor seat"})
    return client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "EUR",
            "unit_amount": unit_amount,
            "recurring": {"interval": "month"},
            "lookup_key": "seat_monthly",
            "transfer_lookup_key": True,
            "nickname": "Seat",
            "metadata": {"plan": "standard"},
        }
    )


def subscribe(
    fake: FakeStripe, client: stripe.StripeClient, *, quantity: int = 3, card: str = "ok"
) -> tuple[stripe.checkout.Session, stripe.Subscription]:
    price = seat_price(client)
    customer = client.v1.customers.create(params={"email": "owner@acme.test", "name": "Acme"})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "client_reference_id": "acme",
            "line_items": [{"price": price.id, "quantity": quantity}],
            "success_url": "https://acme.kontor.test/billing/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://acme.kontor.test/billing/",
            "locale": "ru",
            "metadata": {"tenant": "acme"},
            "subscription_data": {"metadata": {"tenant": "acme"}},
        },
        options={"idempotency_key": f"checkout-{customer.id}"},
    )
    fake.complete_checkout(session.id, card=card)
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert session.subscription is not None
    return session, client.v1.subscriptions.retrieve(str(session.subscription))


def types(deliveries: list[Any]) -> list[str]:
    return [d.type for d in deliveries]


def test_form_bodies_are_read_like_stripe_reads_them() -> None:
    pairs = [
        ("items[0][id]", "si_1"),
        ("items[0][quantity]", "5"),
        ("metadata[0]", "zero"),
        ("metadata[tenant]", "acme"),
        ("lookup_keys[]", "a"),
        ("lookup_keys[]", "b"),
        ("expand[0]", "latest_invoice"),
    ]
    assert parse_form(pairs) == {
        "items": [{"id": "si_1", "quantity": "5"}],
        "metadata": {"0": "zero", "tenant": "acme"},
        "lookup_keys": ["a", "b"],
        "expand": ["latest_invoice"],
    }


def test_catalogue_and_customers_in_the_wire_format(fake: FakeStripe, client: stripe.StripeClient) -> None:
    price = seat_price(client)
    assert price.id.startswith("price_") and price.object == "price"
    assert (price.currency, price.unit_amount, price.type) == ("eur", 1000, "recurring")
    assert price.recurring is not None and price.recurring.interval == "month"
    found = client.v1.prices.list(params={"lookup_keys": ["seat_monthly"], "active": True})
    assert [p.id for p in found.data] == [price.id] and found.has_more is False

    client.v1.prices.update(price.id, params={"active": False})
    assert client.v1.prices.list(params={"lookup_keys": ["seat_monthly"], "active": True}).data == []
    assert client.v1.prices.retrieve(price.id).active is False
    assert client.v1.products.retrieve(str(price.product)).name == "Kontor seat"

    customer = client.v1.customers.create(
        params={"email": "a@acme.test", "name": "Acme", "metadata": {"tenant": "acme"}, "preferred_locales": ["ru"]}
    )
    assert customer.id.startswith("cus_") and customer.preferred_locales == ["ru"]
    client.v1.customers.update(customer.id, params={"name": "Acme GmbH", "metadata": {"tenant": ""}})
    again = client.v1.customers.retrieve(customer.id)
    assert again.name == "Acme GmbH" and again.metadata is not None and again.metadata.to_dict() == {}
    assert fake.customers[customer.id]["email"] == "a@acme.test"


def test_errors_are_stripes_own_exceptions(fake: FakeStripe, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as invalid:
        client.v1.checkout.sessions.create(params={"mode": "subscription", "success_url": "https://x.test/"})
    assert invalid.value.http_status == 400 and invalid.value.param == "line_items"
    with pytest.raises(stripe.AuthenticationError):
        make_client(fake, api_key="sk_test_wrong").v1.customers.retrieve("cus_x")


def test_checkout_completion_makes_an_active_subscription(fake: FakeStripe, client: stripe.StripeClient) -> None:
    price = seat_price(client)
    created = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "client_reference_id": "acme",
            "customer_email": "owner@acme.test",
            "line_items": [{"price": price.id, "quantity": 3}],
            "success_url": "https://acme.kontor.test/ok",
            "subscription_data": {"metadata": {"tenant": "acme"}},
        }
    )
    assert created.id.startswith("cs_") and created.url == f"{fake.url}/pay/{created.id}"
    assert (created.status, created.subscription, created.client_reference_id) == ("open", None, "acme")
    fake.take()

    fake.complete_checkout(created.id)
    session = client.v1.checkout.sessions.retrieve(created.id)
    assert session.status == "complete" and session.payment_status == "paid"
    assert session.customer is not None and str(session.customer).startswith("cus_")
    sub = client.v1.subscriptions.retrieve(str(session.subscription))
    assert sub.status == "active" and sub.customer == session.customer
    assert sub.metadata.to_dict() == {"tenant": "acme"} and sub.currency == "eur"
    (item,) = sub["items"].data
    assert item.id.startswith("si_") and item.quantity == 3 and item.price.unit_amount == 1000
    assert (item.current_period_start, item.current_period_end) == (JAN_1_2027, JAN_1_2027 + 31 * DAY)
    invoice = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (invoice.status, invoice.billing_reason, invoice.total, invoice.amount_paid) == (
        "paid",
        "subscription_create",
        3000,
        3000,
    )
    assert invoice.parent is not None and invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == sub.id
    assert types(fake.take()) == [
        "customer.created",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
        "checkout.session.completed",
    ]


@pytest.mark.parametrize(
    ("card", "event"), [("decline", "invoice.payment_failed"), ("requires_action", "invoice.payment_action_required")]
)
def test_a_first_payment_that_fails_leaves_the_subscription_incomplete(
    fake: FakeStripe, client: stripe.StripeClient, card: str, event: str
) -> None:
    _, sub = subscribe(fake, client, card=card)
    assert sub.status == "incomplete"
    invoice = fake.invoices[str(sub.latest_invoice)]
    assert invoice["status"] == "open" and invoice["attempt_count"] == 1 and invoice["hosted_invoice_url"]
    sent = types(fake.take())
    assert event in sent and "invoice.paid" not in sent and "checkout.session.completed" in sent

    fake.set_card(str(sub.customer), "ok")
    fake.retry_payment(invoice["id"])
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert types(fake.take()) == ["invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"]


def test_an_unpaid_first_invoice_expires_the_subscription_after_23_hours(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    _, sub = subscribe(fake, client, card="decline")
    with pytest.raises(stripe.InvalidRequestError):  # only metadata may change while incomplete
        client.v1.subscriptions.update(sub.id, params={"items": [{"id": sub["items"].data[0].id, "quantity": 9}]})
    fake.take()
    fake.advance(23 * 3600 - 1)
    assert fake.subscriptions[sub.id]["status"] == "incomplete"
    fake.advance(1)
    assert types(fake.take()) == ["invoice.voided", "customer.subscription.updated"]
    expired = client.v1.subscriptions.retrieve(sub.id)
    assert expired.status == "incomplete_expired" and expired.ended_at == JAN_1_2027 + 23 * 3600
    assert fake.invoices[str(sub.latest_invoice)]["status"] == "void"
    fake.advance(60 * DAY)
    assert fake.take() == []  # no invoices after that


def test_seat_change_mid_period_prorates_like_stripe(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client, quantity=3)
    customer = str(sub.customer)
    fake.take()
    fake.advance(10 * DAY)  # 21 of the period's 31 days left
    item_id = sub["items"].data[0].id
    updated = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item_id, "quantity": 5}], "proration_behavior": "create_prorations"}
    )
    assert updated["items"].data[0].quantity == 5
    unused, remaining = fake.pending_items(customer)
    assert unused["amount"] == -2032  # -round(1000 * 3 * 21 / 31)
    assert remaining["amount"] == 3387  # round(1000 * 5 * 21 / 31)
    assert unused["description"].startswith("Unused time on 3 × Kontor seat")
    assert remaining["description"].startswith("Remaining time on 5 × Kontor seat")
    assert unused["proration"] and unused["id"].startswith("ii_") and unused["period"]["end"] == JAN_1_2027 + 31 * DAY
    (event,) = fake.take(["customer.subscription.updated"])
    assert event.json()["data"]["previous_attributes"]["items"]["data"][0]["quantity"] == 3

    client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item_id, "quantity": 6}], "proration_behavior": "none"}
    )
    assert len(fake.pending_items(customer)) == 2

    fake.advance(21 * DAY)  # the period ends: the renewal charges 6 seats and the two prorations
    renewal = client.v1.invoices.list(params={"subscription": sub.id, "limit": 1}).data[0]
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    assert renewal.total == 6 * 1000 - 2032 + 3387
    lines = renewal.lines.data
    assert [line.amount for line in lines] == [6000, -2032, 3387]
    prorations = [line.parent.subscription_item_details.proration for line in lines]  # type: ignore[union-attr]
    assert prorations == [False, True, True]
    assert lines[0].period.start == JAN_1_2027 + 31 * DAY and lines[0].period.end == JAN_1_2027 + 59 * DAY
    assert fake.pending_items(customer) == []
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed["items"].data[0].current_period_start == JAN_1_2027 + 31 * DAY
    assert renewed.latest_invoice == renewal.id


def test_always_invoice_bills_the_proration_at_once(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client, quantity=3)
    fake.advance(10 * DAY)
    item_id = sub["items"].data[0].id
    updated = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item_id, "quantity": 5}], "proration_behavior": "always_invoice"}
    )
    invoice = fake.invoices[str(updated.latest_invoice)]
    assert invoice["billing_reason"] == "subscription_update" and invoice["total"] == 3387 - 2032
    assert invoice["status"] == "paid" and fake.pending_items(str(sub.customer)) == []


def test_a_declined_renewal_makes_it_past_due_and_a_retry_pays(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client, quantity=2)
    fake.take()
    fake.set_card(str(sub.customer), "decline")
    fake.advance(31 * DAY)
    assert fake.subscriptions[sub.id]["status"] == "past_due"
    invoice = fake.invoices[fake.subscriptions[sub.id]["latest_invoice"]]
    assert invoice["status"] == "open" and invoice["attempt_count"] == 1 and invoice["amount_due"] == 2000
    assert invoice["next_payment_attempt"] is not None and invoice["next_payment_attempt"] > fake.now
    sent = fake.take()
    assert types(sent)[-2:] == ["invoice.payment_failed", "customer.subscription.updated"]
    assert sent[-1].json()["data"]["previous_attributes"] == {"status": "active"}
    assert sent[-1].json()["data"]["object"]["status"] == "past_due"

    fake.set_card(str(sub.customer), "ok")
    paid = fake.retry_payment(invoice["id"])
    assert paid["status"] == "paid" and paid["attempt_count"] == 2 and paid["next_payment_attempt"] is None
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert types(fake.take()) == ["invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"]

    fake.mark_unpaid(sub.id)
    assert client.v1.subscriptions.retrieve(sub.id).status == "unpaid"
    assert types(fake.take()) == ["customer.subscription.updated"]
    fake.advance(28 * DAY)  # an unpaid subscription's renewals are drafts, not charged
    assert types(fake.take()) == ["customer.subscription.updated", "invoice.created"]
    assert fake.invoices[fake.subscriptions[sub.id]["latest_invoice"]]["status"] == "draft"


def test_cancellation_now_and_at_period_end(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client)
    fake.take()
    fake.cancel_subscription(sub.id, at_period_end=True)
    (updated,) = fake.take()
    assert updated.type == "customer.subscription.updated"
    assert updated.json()["data"]["object"]["cancel_at_period_end"] is True
    fake.advance(31 * DAY)
    assert types(fake.take()) == ["customer.subscription.deleted"]
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at == JAN_1_2027 + 31 * DAY
    assert len(client.v1.invoices.list(params={"subscription": sub.id}).data) == 1  # no renewal

    _, other = subscribe(fake, client)
    canceled = client.v1.subscriptions.cancel(other.id)
    assert canceled.status == "canceled" and canceled.canceled_at == fake.now
    assert "customer.subscription.deleted" in types(fake.take())


def test_the_same_idempotency_key_changes_things_once(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client, quantity=3)
    fake.take()
    params: SubscriptionUpdateParams = {"items": [{"id": sub["items"].data[0].id, "quantity": 4}]}
    first = client.v1.subscriptions.update(sub.id, params=params, options={"idempotency_key": "seats-4"})
    second = client.v1.subscriptions.update(sub.id, params=params, options={"idempotency_key": "seats-4"})
    assert first.to_dict() == second.to_dict()
    assert len(fake.pending_items(str(sub.customer))) == 2
    assert types(fake.take()) == ["customer.subscription.updated"]
    assert [entry.status for entry in fake.request_log if entry.idempotency_key == "seats-4"] == [200, 200]

    with pytest.raises(stripe.IdempotencyError):
        client.v1.subscriptions.update(
            sub.id,
            params={"items": [{"id": sub["items"].data[0].id, "quantity": 9}]},
            options={"idempotency_key": "seats-4"},
        )
    assert fake.subscriptions[sub.id]["items"]["data"][0]["quantity"] == 4


def test_a_lost_response_is_applied_once_and_replayed(fake: FakeStripe) -> None:
    client = make_client(fake, timeout=0.3)
    _, sub = subscribe(fake, client, quantity=3)
    fake.take()
    fake.hang_seconds = 1.0
    params: SubscriptionUpdateParams = {"items": [{"id": sub["items"].data[0].id, "quantity": 5}]}
    fake.fail_next(1, kind="lost_response")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.subscriptions.update(sub.id, params=params, options={"idempotency_key": "seats-5"})
    assert fake.subscriptions[sub.id]["items"]["data"][0]["quantity"] == 5  # Stripe did it

    again = client.v1.subscriptions.update(sub.id, params=params, options={"idempotency_key": "seats-5"})
    assert again["items"].data[0].quantity == 5
    assert len(fake.pending_items(str(sub.customer))) == 2
    assert types(fake.take()) == ["customer.subscription.updated"]
    assert [e.status for e in fake.request_log if e.idempotency_key == "seats-5"] == [None, 200]


def test_a_timeout_is_not_applied(fake: FakeStripe) -> None:
    client = make_client(fake, timeout=0.3)
    fake.hang_seconds = 1.0
    fake.fail_next(1, kind="timeout")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create(params={"email": "a@acme.test"}, options={"idempotency_key": "cus-1"})
    assert fake.customers == {}
    created = client.v1.customers.create(params={"email": "a@acme.test"}, options={"idempotency_key": "cus-1"})
    assert list(fake.customers) == [created.id]


def test_injected_errors_raise_api_error_and_change_nothing(fake: FakeStripe, client: stripe.StripeClient) -> None:
    fake.fail_next(2)
    for _ in range(2):
        with pytest.raises(stripe.APIError) as error:
            client.v1.customers.create(params={"email": "a@acme.test"})
        assert error.value.http_status == 500
    assert fake.customers == {}
    client.v1.customers.create(params={"email": "a@acme.test"})
    assert len(fake.customers) == 1
    assert [entry.status for entry in fake.request_log] == [500, 500, 200]


def test_the_error_rate_repeats_with_its_seed(fake: FakeStripe, client: stripe.StripeClient) -> None:
    def outcomes() -> list[bool]:
        fake.reset()
        fake.error_rate = 0.5
        result = []
        for _ in range(20):
            try:
                client.v1.customers.create(params={"email": "a@acme.test"})
                result.append(True)
            except stripe.APIError:
                result.append(False)
        return result

    first = outcomes()
    assert first == outcomes() and True in first and False in first
    assert len(fake.customers) == first.count(True)


def test_webhooks_are_signed_like_stripes(fake: FakeStripe, client: stripe.StripeClient) -> None:
    subscribe(fake, client)
    deliveries = fake.take()
    assert deliveries and fake.outbox == []
    for delivery in deliveries:
        event = stripe.Webhook.construct_event(delivery.payload, delivery.signature, SECRET)
        assert event.id == delivery.event_id and event.type == delivery.type and event.object == "event"
        assert event.api_version == "2026-10-28.endive" and event.livemode is False
        assert client.v1.events.retrieve(event.id).type == delivery.type
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(deliveries[0].payload, deliveries[0].signature, "whsec_other")
    forged = deliveries[0].payload.replace(b'"livemode": false', b'"livemode": true')
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(forged, deliveries[0].signature, SECRET)
    # A test can sign a forged payload itself when it wants one accepted.
    assert stripe.Webhook.construct_event(forged, fake.sign(forged), SECRET).livemode is True
    completed = next(d for d in deliveries if d.type == "checkout.session.completed").json()
    assert completed["data"]["object"]["client_reference_id"] == "acme"
    assert completed["request"]["idempotency_key"] is None  # the customer's doing, not an API call


def test_take_pops_only_the_types_asked_for(fake: FakeStripe, client: stripe.StripeClient) -> None:
    subscribe(fake, client)
    paid = fake.take(["invoice.paid"])
    assert types(paid) == ["invoice.paid"]
    assert "invoice.paid" not in types(fake.outbox) and "invoice.created" in types(fake.outbox)


def test_deliveries_are_posted_to_the_webhook_url_in_order(fake: FakeStripe, client: stripe.StripeClient) -> None:
    received: list[tuple[str, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            event = stripe.Webhook.construct_event(body, self.headers["Stripe-Signature"], SECRET)
            received.append((event.id, event.type))
            self.send_response(200 if len(received) > 1 else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        fake.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/billing/stripe/webhook/"
        subscribe(fake, client)
        fake.flush()
    finally:
        receiver.shutdown()
        receiver.server_close()
    deliveries = fake.take()
    assert received == [(d.event_id, d.type) for d in deliveries]
    assert [d.status for d in deliveries] == [500] + [200] * (len(deliveries) - 1)


def test_invoices_list_newest_first_with_pages(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client)
    fake.advance(31 * DAY)
    fake.advance(28 * DAY)
    first = client.v1.invoices.list(params={"customer": str(sub.customer), "limit": 2})
    assert first.has_more is True and first.url == "/v1/invoices"
    assert [i.billing_reason for i in first.data] == ["subscription_cycle", "subscription_cycle"]
    rest = client.v1.invoices.list(
        params={"customer": str(sub.customer), "limit": 2, "starting_after": first.data[-1].id}
    )
    assert [i.billing_reason for i in rest.data] == ["subscription_create"] and rest.has_more is False
    assert first.data[0].created == JAN_1_2027 + 59 * DAY  # Feb 28 + 1 day: March 1
    assert first.data[0].number is not None and first.data[0].number.endswith("-0003")


def test_portal_session_and_trial_reminder(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client)
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": str(sub.customer), "return_url": "https://acme.kontor.test/billing/", "locale": "fr"}
    )
    assert portal.id.startswith("bps_") and portal.url.startswith(fake.url) and portal.customer == sub.customer
    assert portal.return_url == "https://acme.kontor.test/billing/"
    fake.take()
    event = fake.trial_will_end(sub.id)
    assert event["type"] == "customer.subscription.trial_will_end"
    assert json.loads(fake.take()[0].payload)["data"]["object"]["id"] == sub.id


def test_month_ends_follow_the_calendar_from_the_anchor(fake: FakeStripe, client: stripe.StripeClient) -> None:
    fake.now = 1801353600  # 2027-01-31
    _, sub = subscribe(fake, client)
    assert sub["items"].data[0].current_period_end == 1801353600 + 28 * DAY  # 2027-02-28
    fake.advance(28 * DAY)
    renewed = fake.subscriptions[sub.id]["items"]["data"][0]
    assert renewed["current_period_end"] == 1801353600 + 59 * DAY  # 2027-03-31, not March 28


def test_reset_forgets_everything(fake: FakeStripe, client: stripe.StripeClient) -> None:
    subscribe(fake, client)
    fake.fail_next(3)
    fake.reset()
    assert fake.subscriptions == {} and fake.outbox == [] and fake.request_log == []
    assert client.v1.prices.list().data == []


def test_expand_and_the_request_behind_an_event(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, sub = subscribe(fake, client, quantity=3)
    expanded = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice", "customer"]})
    assert isinstance(expanded.latest_invoice, stripe.Invoice) and expanded.latest_invoice.status == "paid"
    assert isinstance(expanded.customer, stripe.Customer) and expanded.customer.email == "owner@acme.test"
    assert isinstance(fake.subscriptions[sub.id]["latest_invoice"], str)  # the stored object is untouched
    fake.take()
    item_id = sub["items"].data[0].id
    response = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item_id, "quantity": 4}]}, options={"idempotency_key": "seats-4"}
    )
    (updated,) = fake.take()
    request = updated.json()["request"]
    assert request["idempotency_key"] == "seats-4" and request["id"].startswith("req_")
    assert response.last_response is not None and request["id"] == response.last_response.request_id


def test_the_checkout_page_pays_and_returns_to_the_success_url(fake: FakeStripe, client: stripe.StripeClient) -> None:
    price = seat_price(client)
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 2}],
            "success_url": "https://acme.kontor.test/done?session={CHECKOUT_SESSION_ID}",
        }
    )
    assert session.url is not None
    page = requests.get(session.url, timeout=5)
    assert page.status_code == 200 and 'value="decline"' in page.text
    paid = requests.post(session.url, data={"card": "ok"}, allow_redirects=False, timeout=5)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"https://acme.kontor.test/done?session={session.id}"
    assert fake.checkout_sessions[session.id]["status"] == "complete"
    assert requests.post(session.url, data={"card": "ok"}, timeout=5).status_code == 400  # paid once only


def test_unknown_urls_are_stripes_404(fake: FakeStripe, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.raw_request("get", "/v1/nothing_here")
    assert error.value.http_status == 404
