"""Billing end to end against the local fake Stripe: trial to paid, seats up and down with their prorations,
Stripe failing and timing out, dunning to read-only and back, cancellation and deletion, forged and replayed
webhooks, and one workspace's events never touching another."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import stripe
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from billing import services
from billing.models import Account, Invoice, SeatEntry, State, StripeEvent
from crm.companies.models import Company
from crm.companies.services import company_create
from tenants.accounts.roles import SALES_MANAGER, roles_ensure_builtin
from tenants.accounts.services import invitation_accept, invitation_create, invitation_token_make, user_deactivate
from tenants.models import Tenant
from tests.billing.stripe_support import (
    WEBHOOK_PATH,
    account_of,
    deliver,
    event_payload,
    in_schema,
    login,
    post_webhook,
    price,
    sign,
    subscribe,
)
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.django_db

Capture = Any


def _join(ws: Workspace, capture: Capture, email: str) -> Any:
    """Invite someone and have them accept: the seat follows after commit."""
    with in_schema(ws), capture(execute=True):
        role = roles_ensure_builtin()[SALES_MANAGER]
        invitation = invitation_create(actor=ws.owner, email=email, role=role, site_url=f"http://{ws.domain}")
        user = invitation_accept(token=invitation_token_make(invitation), full_name="New Person", password=PASSWORD)
    return user


def _leave(ws: Workspace, capture: Capture, user: Any) -> None:
    with in_schema(ws), capture(execute=True):
        user_deactivate(actor=ws.owner, user=user)


def _seat_quantity(fake: Any, account: Account) -> int:
    subscription = fake.subscriptions[account.stripe_subscription_id]
    return next(i["quantity"] for i in subscription["items"]["data"] if i["id"] == account.stripe_seat_item_id)


def test_trial_to_paid(workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture) -> None:
    account = account_of(workspace)
    assert account.state == State.TRIAL
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.state == State.ACTIVE
    assert account.stripe_status == "active"
    assert account.price == price()
    assert account.seats_billed == 1
    assert _seat_quantity(fake, account) == 1
    workspace.tenant.refresh_from_db()
    assert (workspace.tenant.read_only, workspace.tenant.billing_state) == (False, State.ACTIVE)
    entry = SeatEntry.objects.filter(account=account).order_by("-id").first()
    assert entry is not None and entry.reason == SeatEntry.Reason.SUBSCRIBED and entry.seats == 1
    assert account.ledger_applied == entry.pk
    invoice = Invoice.objects.get(account=account)
    assert invoice.status == "paid" and invoice.total == price().unit_amount and invoice.currency == "EUR"
    # The Checkout session asked for the workspace's seats at the EUR monthly price, for this workspace.
    session = next(iter(fake.checkout_sessions.values()))
    assert session["client_reference_id"] == str(account.workspace_uid)
    page = login(workspace).get("/settings/billing/")
    assert page.status_code == 200
    assert b'data-state="active"' in page.content and b"billing-invoice" in page.content


def test_return_from_checkout_activates_without_the_webhook(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    client = login(workspace)
    response = client.post("/settings/billing/checkout/", {"price": price("kontor_standard_rub_year").pk})
    session_id = response["Location"].rsplit("/", 1)[-1]
    fake.complete_checkout(session_id, card="ok")
    with django_capture_on_commit_callbacks(execute=True):
        back = client.get(f"/settings/billing/?session_id={session_id}")
    assert back.status_code == 302
    account = account_of(workspace)
    assert account.state == State.ACTIVE and account.price == price("kontor_standard_rub_year")
    # The webhooks that follow change nothing more.
    before = SeatEntry.objects.filter(account=account).count()
    deliver(fake, django_capture_on_commit_callbacks)
    assert SeatEntry.objects.filter(account=account).count() == before
    assert account_of(workspace).state == State.ACTIVE


def test_seats_follow_the_team_with_prorations(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks, priority_support="on")
    account = account_of(workspace)
    assert account.priority_support
    unit = price().minor_units
    joined = _join(workspace, django_capture_on_commit_callbacks, "second@example.com")
    account.refresh_from_db()
    assert account.seats_billed == 2 and _seat_quantity(fake, account) == 2
    entry = SeatEntry.objects.filter(account=account).order_by("-id").first()
    assert entry is not None and (entry.reason, entry.seats, entry.delta) == (SeatEntry.Reason.JOINED, 2, 1)
    assert entry.user_email == "second@example.com"
    assert account.ledger_applied == entry.pk
    # Stripe's proration of 1 -> 2 seats for the rest of the period.
    items = fake.pending_items(account.stripe_customer_id)
    assert len(items) == 2
    item = fake.subscriptions[account.stripe_subscription_id]["items"]["data"][0]
    start, end = item["current_period_start"], item["current_period_end"]
    amounts = sorted(i["amount"] for i in items)
    left = (end - fake.now) / (end - start)
    assert amounts[0] == pytest.approx(-unit * 1 * left, abs=2)
    assert amounts[1] == pytest.approx(unit * 2 * left, abs=2)

    _leave(workspace, django_capture_on_commit_callbacks, joined)
    account.refresh_from_db()
    assert account.seats_billed == 1 and _seat_quantity(fake, account) == 1
    pending = fake.pending_items(account.stripe_customer_id)
    assert len(pending) == 4
    last = SeatEntry.objects.filter(account=account).order_by("-id").first()
    assert last is not None and (last.reason, last.seats, last.delta) == (SeatEntry.Reason.DEACTIVATED, 1, -1)
    # One Stripe update per change, each with its own key.
    updates = [r for r in fake.request_log if r[0] == "POST" and r[1].startswith("/v1/subscriptions/")]
    assert len(updates) == 2 and len({r[2] for r in updates}) == 2

    # The renewal invoice: next period at 1 seat, the add-on, and the four proration lines.
    fake.advance(end - fake.now + 60)
    deliver(fake, django_capture_on_commit_callbacks)
    renewal = Invoice.objects.filter(account=account, billing_reason="subscription_cycle").get()
    addon = price("kontor_priority_support_eur_month").minor_units
    expected = unit * 1 + addon + sum(i["amount"] for i in pending)
    assert int(renewal.total * 100) == expected
    assert renewal.status == "paid"
    assert len(renewal.lines) == 6  # the seat, the add-on, two proration lines per change


def test_a_replayed_person_event_changes_no_seat(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    _join(workspace, django_capture_on_commit_callbacks, "p2@example.com")
    account = account_of(workspace)
    from tenants.events.models import Event

    with in_schema(workspace):
        event = Event.objects.filter(type="user.activated").order_by("-id").first()
        assert event is not None
        with django_capture_on_commit_callbacks(execute=True):
            assert services.seats_record(event) is None
    assert SeatEntry.objects.filter(account=account).count() == 3  # opened, subscribed, joined
    assert _seat_quantity(fake, account) == 2


def test_stripe_failing_leaves_the_change_queued_and_a_retry_applies_it_once(
    workspace: Workspace,
    fake: Any,
    django_capture_on_commit_callbacks: Capture,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    # The task retries through Celery; here each attempt is made by hand to see what it leaves.
    monkeypatch.setattr(services, "_seats_follow", lambda account: None)
    _join(workspace, django_capture_on_commit_callbacks, "p2@example.com")
    fake.fail_next(1, kind="500")
    with pytest.raises(stripe.APIError):
        services.seats_push(account_id=account.pk)
    account.refresh_from_db()
    entry = SeatEntry.objects.filter(account=account).order_by("-id").first()
    assert entry is not None and entry.seats == 2
    assert account.ledger_applied < entry.pk and _seat_quantity(fake, account) == 1
    assert services.seats_behind() == [account.pk]
    # Stripe applies the next attempt but its answer is lost: the retry with the same key is not applied twice.
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    fake.fail_next(1, kind="lost_response")
    with pytest.raises(stripe.APIConnectionError):
        services.seats_push(account_id=account.pk)
    assert _seat_quantity(fake, account) == 2
    assert len(fake.pending_items(account.stripe_customer_id)) == 2
    settings.STRIPE_TIMEOUT_SECONDS = 2.0
    assert services.seats_push(account_id=account.pk) == 1
    account.refresh_from_db()
    assert account.ledger_applied == entry.pk and account.seats_billed == 2
    assert len(fake.pending_items(account.stripe_customer_id)) == 2
    keys = [r[2] for r in fake.request_log if r[0] == "POST" and r[1].startswith("/v1/subscriptions/")]
    assert keys == [entry.idempotency_key] * 3
    assert services.seats_behind() == []


def test_dunning_to_read_only_and_back(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    with in_schema(workspace):
        company = company_create(actor=workspace.owner, data={"name": "Kept Ltd"})
    fake.set_card(account.stripe_customer_id, "decline")
    mail.outbox.clear()
    end = fake.subscriptions[account.stripe_subscription_id]["items"]["data"][0]["current_period_end"]
    fake.advance(end - fake.now + 60)
    deliver(fake, django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.state == State.PAST_DUE
    assert account.grace_ends_at is not None
    assert abs((account.grace_ends_at - timezone.now()) - datetime.timedelta(days=7)) < datetime.timedelta(minutes=5)
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.read_only is False and workspace.tenant.billing_state == State.PAST_DUE
    assert len(mail.outbox) == 1 and workspace.owner.email in mail.outbox[0].to
    # The same failure told again sends nothing more.
    failed = StripeEvent.objects.filter(type="invoice.payment_failed").first()
    assert failed is not None
    with django_capture_on_commit_callbacks(execute=True):
        again = post_webhook(_replayed(failed), sign(_replayed(failed)))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(mail.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.states_advance(now=timezone.now() + datetime.timedelta(days=6))
    assert account_of(workspace).state == State.PAST_DUE
    with django_capture_on_commit_callbacks(execute=True):
        services.states_advance(now=timezone.now() + datetime.timedelta(days=8))
    assert account_of(workspace).state == State.READ_ONLY
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.read_only is True
    refused = login(workspace).post("/companies/new/", {"name": "Not written"})
    assert refused.status_code == 402
    with in_schema(workspace):
        assert Company.objects.filter(pk=company.pk).exists()
        assert not Company.objects.filter(name="Not written").exists()

    fake.set_card(account.stripe_customer_id, "ok")
    invoice_id = fake.subscriptions[account.stripe_subscription_id]["latest_invoice"]
    fake.retry_payment(invoice_id)
    deliver(fake, django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.state == State.ACTIVE and account.grace_ends_at is None
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.read_only is False
    with in_schema(workspace):
        assert Company.objects.filter(pk=company.pk).exists()


def _replayed(event: StripeEvent) -> bytes:
    import json

    return json.dumps(event.payload).encode()


def test_payment_needing_action_shows_where_to_confirm(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    fake.set_card(account.stripe_customer_id, "requires_action")
    end = fake.subscriptions[account.stripe_subscription_id]["items"]["data"][0]["current_period_end"]
    fake.advance(end - fake.now + 60)
    mail.outbox.clear()
    deliver(fake, django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.action_url
    assert any(account.action_url in m.body for m in mail.outbox)
    page = login(workspace).get("/settings/billing/")
    assert b"billing-action" in page.content


def test_cancellation_keeps_the_data_then_deletes_it(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    fake.cancel_subscription(account.stripe_subscription_id)
    deliver(fake, django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.state == State.CANCELLED and account.delete_after is not None
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.read_only is True
    # Export stays possible; the banner offers it.
    page = login(workspace).get("/")
    assert b'data-state="cancelled"' in page.content
    services.states_advance(now=timezone.now() + datetime.timedelta(days=29))
    assert Tenant.objects.filter(pk=workspace.tenant.pk).exists()
    schema = workspace.tenant.schema_name
    services.states_advance(now=timezone.now() + datetime.timedelta(days=31))
    assert not Tenant.objects.filter(pk=workspace.tenant.pk).exists()
    account.refresh_from_db()
    assert account.state == State.DELETED and account.tenant_id is None
    assert account.deletion_report["schema"] == schema and account.deletion_report["tables"] > 10
    assert SeatEntry.objects.filter(account=account).count() >= 2  # the ledger outlives the workspace
    assert Invoice.objects.filter(account=account).exists()


def test_webhooks_forged_stale_or_replayed_change_nothing(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    sub = fake.subscriptions[account.stripe_subscription_id]
    payload = event_payload("evt_forged_1", "customer.subscription.deleted", {**sub, "status": "canceled"})
    # Signed with another secret, unsigned, or signed an hour ago: refused, nothing stored.
    assert post_webhook(payload, sign(payload, secret="whsec_other")).status_code == 400
    assert post_webhook(payload, "").status_code == 400
    assert post_webhook(payload, sign(payload, at=int(datetime.datetime.now().timestamp()) - 3600)).status_code == 400
    assert post_webhook(b"not json", sign(b"not json")).status_code == 400
    assert not StripeEvent.objects.filter(id="evt_forged_1").exists()
    assert account_of(workspace).state == State.ACTIVE
    # Correctly signed but lying about the subscription: Stripe is asked, and says it is active.
    assert post_webhook(payload, sign(payload)).status_code == 200
    assert account_of(workspace).state == State.ACTIVE


def test_out_of_order_events_never_move_the_state_backwards(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    active_snapshot = dict(fake.subscriptions[account.stripe_subscription_id])
    fake.cancel_subscription(account.stripe_subscription_id)
    deliver(fake, django_capture_on_commit_callbacks)
    assert account_of(workspace).state == State.CANCELLED
    # An older "updated: active" arrives late.
    late = event_payload("evt_late_1", "customer.subscription.updated", active_snapshot, created=1)
    assert post_webhook(late, sign(late)).status_code == 200
    assert account_of(workspace).state == State.CANCELLED


def test_one_workspaces_webhooks_never_touch_another(
    workspace: Workspace, other_workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    subscribe(other_workspace, fake, django_capture_on_commit_callbacks)
    mine, theirs = account_of(workspace), account_of(other_workspace)
    fake.cancel_subscription(theirs.stripe_subscription_id)
    deliver(fake, django_capture_on_commit_callbacks)
    assert account_of(other_workspace).state == State.CANCELLED
    assert account_of(workspace).state == State.ACTIVE
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.read_only is False
    # A checkout completion naming my workspace with their customer is ignored.
    session = {
        "id": "cs_forged",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "client_reference_id": str(mine.workspace_uid),
        "customer": theirs.stripe_customer_id,
        "subscription": theirs.stripe_subscription_id,
    }
    payload = event_payload("evt_cross_1", "checkout.session.completed", session)
    assert post_webhook(payload, sign(payload)).status_code == 200
    assert StripeEvent.objects.get(id="evt_cross_1").outcome == StripeEvent.Outcome.IGNORED
    mine_after = account_of(workspace)
    assert mine_after.stripe_subscription_id == mine.stripe_subscription_id
    assert mine_after.state == State.ACTIVE
    # Their seats changing never reaches my subscription.
    assert _seat_quantity(fake, mine_after) == 1


def test_trial_will_end_mails_the_billing_admins(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    mail.outbox.clear()
    fake.trial_will_end(account.stripe_subscription_id)
    deliver(fake, django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [[workspace.owner.email]]
    # Written while serving the public site's webhook, it still links to the workspace's billing page.
    assert f"://{workspace.domain}/settings/billing/" in mail.outbox[0].body


def test_mails_sent_while_serving_the_webhook_link_to_the_workspace(workspace: Workspace, fake: Any) -> None:
    """Outside a test transaction the mails go while the public site's request is served (its URLs active)."""
    from django.urls import set_urlconf

    from billing import mails

    set_urlconf("platform_core.urls_public")
    try:
        mail.outbox.clear()
        assert mails.payment_failed(account_id=account_of(workspace).pk) == 1
    finally:
        set_urlconf(None)
    assert f"://{workspace.domain}/settings/billing/" in mail.outbox[0].body


def test_events_naming_objects_stripe_does_not_have_or_of_another_customer_are_ignored(
    workspace: Workspace, other_workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    subscribe(other_workspace, fake, django_capture_on_commit_callbacks)
    mine, theirs = account_of(workspace), account_of(other_workspace)
    unknown = {"id": "sub_missing", "object": "subscription", "customer": mine.stripe_customer_id}
    payload = event_payload("evt_unknown_1", "customer.subscription.updated", unknown)
    assert post_webhook(payload, sign(payload)).status_code == 200
    assert StripeEvent.objects.get(id="evt_unknown_1").outcome == StripeEvent.Outcome.IGNORED
    their_invoice = Invoice.objects.filter(account=theirs).first()
    assert their_invoice is not None
    crossed = {"id": their_invoice.stripe_id, "object": "invoice", "customer": mine.stripe_customer_id}
    payload = event_payload("evt_cross_invoice", "invoice.paid", crossed)
    assert post_webhook(payload, sign(payload)).status_code == 200
    assert StripeEvent.objects.get(id="evt_cross_invoice").outcome == StripeEvent.Outcome.IGNORED
    assert Invoice.objects.get(stripe_id=their_invoice.stripe_id).account_id == theirs.pk
    assert account_of(workspace).state == State.ACTIVE


def test_the_vendor_pushes_prices_to_stripe_once(fake: Any, db: None) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("billing_prices", "sync", stdout=out)
    call_command("billing_prices", "sync", stdout=out)
    created = [r for r in fake.request_log if r[0] == "POST" and r[1] == "/v1/prices"]
    assert len(created) == 12  # two plans × three currencies × two intervals, once
    assert price().stripe_price_id.startswith("price_")
    call_command("billing_prices", "set", "kontor_standard_eur_month", "14.00", stdout=out)
    assert "kontor_standard_eur_month__v2" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("billing_prices", "set", "kontor_standard_eur_month__v2", "NaN", stdout=out)
    with pytest.raises(CommandError):
        call_command("billing_prices", "set", "no_such_price", "1", stdout=out)


def test_someone_joining_during_checkout_is_a_seat_once_subscribed(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    client = login(workspace)
    response = client.post("/settings/billing/checkout/", {"price": price().pk})
    session_id = response["Location"].rsplit("/", 1)[-1]
    # While the owner is paying, an invitation is accepted.
    _join(workspace, django_capture_on_commit_callbacks, "latecomer@example.com")
    fake.complete_checkout(session_id, card="ok")
    deliver(fake, django_capture_on_commit_callbacks)
    account = account_of(workspace)
    assert account.state == State.ACTIVE
    assert _seat_quantity(fake, account) == 2 and account.seats_billed == 2
    reasons = list(SeatEntry.objects.filter(account=account).order_by("id").values_list("reason", "seats"))
    assert reasons == [("opened", 1), ("joined", 2), ("subscribed", 1), ("corrected", 2)]


def test_signed_bodies_that_are_not_events_change_nothing(
    workspace: Workspace, fake: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    import json

    subscribe(workspace, fake, django_capture_on_commit_callbacks)
    stored = StripeEvent.objects.count()
    not_events = [
        {"object": "event", "type": "customer.subscription.updated"},  # no id
        {"id": "evt_" + "x" * 300, "type": "invoice.paid", "created": 1, "data": {"object": {}}},
        {"id": "evt_bad_created", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}},
        {"id": "evt_huge_created", "type": "invoice.paid", "created": 10**20, "data": {"object": {}}},
        {"id": "evt_null_type", "type": None, "created": 1},
    ]
    for body in not_events:
        payload = json.dumps(body).encode()
        assert post_webhook(payload, sign(payload)).status_code == 400, body
    assert StripeEvent.objects.count() == stored
    # Events of a known type without their object: stored, ignored, nothing changed.
    for n, body in enumerate(
        [
            {"type": "customer.subscription.updated", "data": {}},
            {"type": "invoice.paid", "data": {"object": {"customer": account_of(workspace).stripe_customer_id}}},
            {"type": "checkout.session.completed", "data": {"object": None}},
        ]
    ):
        payload = json.dumps({"id": f"evt_shapeless_{n}", "object": "event", "created": 1, **body}).encode()
        response = post_webhook(payload, sign(payload))
        assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert account_of(workspace).state == State.ACTIVE
    response = Client(HTTP_HOST=settings.BASE_DOMAIN).post(
        WEBHOOK_PATH, data=b"{}", content_type="application/json", CONTENT_LENGTH="abc", HTTP_STRIPE_SIGNATURE="x"
    )
    assert response.status_code == 400
