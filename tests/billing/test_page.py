"""The billing page of a workspace's administrators: who may open it, that it shows this workspace's account
and never another's, that bad input comes back as a message or a field error without a call to Stripe, and
that the seats it counts are people only (support and integration users never are)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import Account, Invoice, Price, SeatEntry, State
from tenants.accounts.models import Invitation, User
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tenants.accounts.selectors import active_user_count
from tenants.accounts.services import invitation_accept, invitation_token_make, user_deactivate, user_reactivate
from tenants.events.models import Event
from tests.billing.stripe_support import account_of
from tests.conftest import Workspace
from tests.factories import UserFactory
from tests.web.records_support import inside

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("billing_without_stripe")]
PAGE = "/settings/billing/"


def _snapshot(workspace: Workspace) -> tuple:
    account = account_of(workspace)
    ledger = list(SeatEntry.objects.filter(account=account).values_list("pk", "seats"))
    return (account.state, account.stripe_customer_id, account.stripe_subscription_id, account.price_id, ledger)


def text(response) -> str:
    connection.set_schema_to_public()
    return response.content.decode()


def seller(workspace: Workspace) -> Client:
    with inside(workspace):
        person = UserFactory()
    return workspace.client(logged_in_as=person)


# --- who may open it ---------------------------------------------------------------------------------------


def test_only_a_billing_admin_opens_the_page(workspace, owner_client) -> None:
    response = owner_client.get(PAGE)
    assert response.status_code == 200
    assert 'data-testid="billing-state" data-state="trial"' in text(response)

    before = _snapshot(workspace)
    client = seller(workspace)
    assert client.get(PAGE).status_code == 403
    price = Price.objects.filter(is_active=True, plan__kind="seats").first()
    for url, data in ((reverse("billing:checkout"), {"price": price.pk}), (reverse("billing:portal"), {})):
        response = client.post(url, data)
        assert response.status_code == 403, url
    connection.set_schema_to_public()
    assert _snapshot(workspace) == before


def test_anonymous_visitors_are_sent_to_log_in(workspace) -> None:
    anonymous = Client(HTTP_HOST=workspace.domain)
    for method, url in (("get", PAGE), ("post", reverse("billing:checkout")), ("post", reverse("billing:portal"))):
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url


def test_no_page_when_billing_is_off(workspace, owner_client, settings) -> None:
    settings.BILLING_ENABLED = False
    assert owner_client.get(PAGE).status_code == 404
    assert owner_client.post(reverse("billing:checkout"), {}).status_code == 404
    assert f'href="{PAGE}"' not in text(owner_client.get(reverse("companies:list")))


def test_the_nav_link_is_for_billing_admins_only(workspace, owner_client) -> None:
    assert f'href="{PAGE}"' in text(owner_client.get(reverse("companies:list")))
    assert f'href="{PAGE}"' not in text(seller(workspace).get(reverse("companies:list")))


# --- what it shows -----------------------------------------------------------------------------------------


def test_the_page_shows_this_workspaces_state_seats_and_ledger_only(workspace, other_workspace, owner_client) -> None:
    theirs = account_of(other_workspace)
    SeatEntry.objects.create(
        account=theirs,
        created_at=timezone.now(),
        source="theirs-only",
        reason=SeatEntry.Reason.ACTIVATED,
        user_email="only-in-the-other@elsewhere.test",
        seats=7319,
        delta=7318,
    )
    Account.objects.filter(pk=theirs.pk).update(state=State.PAST_DUE, workspace_name="Other Workspace Name")
    for account, number in ((theirs, "THEIRS-0001"), (account_of(workspace), "MINE-0001")):
        Invoice.objects.create(
            stripe_id=f"in_{number}",
            account=account,
            number=number,
            status="paid",
            currency="EUR",
            total=Decimal("12.00"),
            created=timezone.now(),
            invoice_pdf=f"https://pay.example/{number}.pdf",
        )
    with inside(workspace):
        UserFactory(email="second-seat@example.com")

    page = text(owner_client.get(PAGE))
    assert 'data-testid="billing-state" data-state="trial"' in page
    assert "2 active users (seats)." in page
    assert page.count('data-testid="billing-ledger-entry"') == 1  # opened; the factory's user came without an event
    assert page.count('data-testid="billing-invoice"') == 1 and "MINE-0001" in page and "MINE-0001.pdf" in page
    # Their seat count as the ledger would show it (a bare number could be part of a token or a date).
    assert "only-in-the-other@elsewhere.test" not in page and "<td>7319</td>" not in page and "THEIRS" not in page
    assert "past_due" not in page and "Other Workspace Name" not in page
    assert other_workspace.domain not in page


def test_the_page_of_a_read_only_workspace_offers_the_way_out(workspace, owner_client) -> None:
    account = account_of(workspace)
    Account.objects.filter(pk=account.pk).update(
        trial_ends_at=timezone.now() - datetime.timedelta(seconds=1),
        trial_mail_sent_at=timezone.now() - datetime.timedelta(days=3),
    )
    services.states_advance()
    response = owner_client.get(PAGE)
    page = text(response)
    assert response.status_code == 200
    assert 'data-state="read_only"' in page and 'data-testid="billing-subscribe"' in page
    # The way out stays open: the checkout is answered by its view, not refused as a write.
    response = owner_client.post(reverse("billing:checkout"), {"price": "999999"})
    assert response.status_code == 422 and response.context["form"].errors["price"]


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "session_id",
    ["cs_\x00abc", "\x00", "garbage", "cs_" + "x" * 300, "cs_test_a b", "cs_test_%00", "<script>", "cs_"],
    ids=["nul-after-prefix", "nul", "garbage", "too-long", "space", "percent", "markup", "prefix-only"],
)
def test_a_bad_checkout_session_id_is_a_redirect_with_a_message_and_no_stripe_call(
    workspace, owner_client, session_id
) -> None:
    before = _snapshot(workspace)
    response = owner_client.get(PAGE, {"session_id": session_id})
    assert response.status_code == 302 and response.url == PAGE
    followed = text(owner_client.get(response.url))
    assert "The payment is being confirmed" in followed
    assert _snapshot(workspace) == before


@pytest.mark.parametrize("price", ["999999", "abc", "", "\x00", "-1", "99999999999999999999999", "1.5", "1e3"])
def test_checkout_with_a_price_not_offered_is_a_field_error_and_no_stripe_call(workspace, owner_client, price) -> None:
    before = _snapshot(workspace)
    response = owner_client.post(reverse("billing:checkout"), {"price": price})
    assert response.status_code == 422
    assert response.context["form"].errors["price"]
    connection.set_schema_to_public()
    assert _snapshot(workspace) == before


def test_checkout_with_an_inactive_price_is_a_field_error(workspace, owner_client) -> None:
    price = Price.objects.filter(is_active=True, plan__kind="seats").first()
    Price.objects.filter(pk=price.pk).update(is_active=False)
    response = owner_client.post(reverse("billing:checkout"), {"price": price.pk})
    assert response.status_code == 422 and response.context["form"].errors["price"]


# --- seats are people --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [User.Kind.SUPPORT, User.Kind.INTEGRATION])
def test_support_and_integration_users_are_never_seats(workspace, kind, django_capture_on_commit_callbacks) -> None:
    account = account_of(workspace)
    with inside(workspace):
        owner = User.objects.get(pk=workspace.owner.pk)
        other = UserFactory(kind=kind, is_active=False)
        person = UserFactory(is_active=False)
        assert active_user_count() == 1
        # Through the services and the real outbox: the events are delivered as the transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            user_reactivate(actor=owner, user=other)
        assert active_user_count() == 1
        assert list(SeatEntry.objects.filter(account=account).values_list("reason", "seats")) == [("opened", 1)]
        with django_capture_on_commit_callbacks(execute=True):
            user_deactivate(actor=owner, user=User.objects.get(pk=other.pk))
        assert list(SeatEntry.objects.filter(account=account).values_list("reason", "seats")) == [("opened", 1)]

        # A person is a seat: the same path enters them.
        with django_capture_on_commit_callbacks(execute=True):
            user_reactivate(actor=owner, user=person)
        assert active_user_count() == 2
        assert list(SeatEntry.objects.filter(account=account).values_list("reason", "seats", "user_id")) == [
            ("opened", 1, None),
            ("activated", 2, person.pk),
        ]


def test_checkout_refused_by_the_service_shows_why(workspace, owner_client) -> None:
    """Subscribed already: the reason is on the page that answers (not a bare 422), and Stripe is not asked."""
    account = account_of(workspace)
    price = Price.objects.filter(is_active=True, plan__kind="seats").first()
    Account.objects.filter(pk=account.pk).update(
        state=State.ACTIVE, stripe_customer_id="cus_1", stripe_subscription_id="sub_1", stripe_status="active"
    )
    before = _snapshot(workspace)
    response = owner_client.post(reverse("billing:checkout"), {"price": price.pk})
    assert response.status_code == 422
    assert "This workspace is subscribed already" in text(response)
    assert _snapshot(workspace) == before


def test_an_accepted_invitation_is_a_seat_entered_once(workspace, django_capture_on_commit_callbacks) -> None:
    account = account_of(workspace)
    with inside(workspace):
        invitation = Invitation.objects.create(
            email="joiner@example.com",
            role=builtin_role(SALES_MANAGER),
            invited_by=User.objects.get(pk=workspace.owner.pk),
            expires_at=timezone.now() + datetime.timedelta(days=3),
        )
        with django_capture_on_commit_callbacks(execute=True):
            joiner = invitation_accept(
                token=invitation_token_make(invitation), full_name="Joiner", password="another-long-passphrase-42"
            )
        entries = list(SeatEntry.objects.filter(account=account).values_list("reason", "seats", "delta", "user_id"))
        assert entries == [("opened", 1, 1, None), ("joined", 2, 1, joiner.pk)]
        # The outbox delivering the event again (at least once) enters nothing more.
        event = Event.objects.get(type="user.activated", record_id=joiner.pk)
        assert services.seats_record(event) is None
        assert SeatEntry.objects.filter(account=account).count() == 2
