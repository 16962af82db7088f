"""Outgoing webhooks: workspace events reach a subscribed receiver signed, once, in order per record; failures
are retried with backoff and logged; a receiver that keeps failing is turned off with a mail to the people who
manage integrations; an administrator retries from the log; private addresses are refused; workspaces stay
apart; the pages are for those who manage integrations only."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.companies.services import company_create, company_update
from crm.leads.services import lead_create
from integrations.core import services as core
from integrations.core.models import Connection, Exchange
from integrations.webhooks import services
from integrations.webhooks.models import Delivery, Receiver
from tenants.accounts.services import user_create
from tenants.events import outbox
from tests.conftest import PASSWORD, Workspace
from tests.fakes import webhook_receiver
from tests.fakes.webhook_server import FakeReceiver

pytestmark = pytest.mark.django_db


def hook(
    ws: Workspace, fake: FakeReceiver, *, types: list[str] | None = None, kinds: list[str] | None = None
) -> Connection:
    """A webhook connection of `ws` to the fake, its secret revealed to the fake."""
    with tenant_context(ws.tenant):
        created = core.connection_create(
            actor=ws.owner,
            kind=services.KIND,
            name="Receiver",
            settings={"url": fake.url, "types": types or ["record.created"], "kinds": kinds or []},
        )
        fake.secret = services.signing_secret_reveal(actor=ws.owner, connection=created.connection)
        return created.connection


def commit(capture: Any, func: Any, **kwargs: Any) -> Any:
    """Run a CRM service and what its commit sets off (the outbox, the delivery task) in this test."""
    with capture(execute=True):
        return func(**kwargs)


def deliveries(ws: Workspace) -> list[Delivery]:
    with tenant_context(ws.tenant):
        return list(Delivery.objects.order_by("id"))


def exchanges(ws: Workspace) -> list[Exchange]:
    with tenant_context(ws.tenant):
        return list(Exchange.objects.filter(operation=services.OPERATION).order_by("id"))


def make_due(ws: Workspace) -> int:
    """Time passes: every waiting retry is due; the sweep queues them."""
    with tenant_context(ws.tenant):
        Delivery.objects.filter(status=Delivery.Status.PENDING).update(next_at=timezone.now())
    connection.set_schema_to_public()
    return services.due_queue(now=time.time() + 10**6)


def test_a_new_lead_reaches_the_receiver_signed(workspace, receiver, django_capture_on_commit_callbacks) -> None:
    conn = hook(workspace, receiver, kinds=["lead"])
    with tenant_context(workspace.tenant):
        lead = commit(
            django_capture_on_commit_callbacks,
            lead_create,
            actor=workspace.owner,
            data={"title": "Website enquiry", "email": "ann@example.com"},
        )
        event = outbox.Event.objects.get(type="record.created", kind="lead", record_id=lead.pk)
    assert len(receiver.arrivals) == 1
    arrival = receiver.arrivals[0]
    assert arrival.status == 204
    body = json.loads(arrival.body)
    assert body["id"] == str(event.uuid) == arrival.headers["Kontor-Webhook-Id"]
    assert (body["type"], body["kind"], body["record_id"]) == ("record.created", "lead", lead.pk)
    assert body["data"]["title"] == "Website enquiry" and body["data"]["email"] == "ann@example.com"
    assert "occurred_at" in body and body["fields"] == []
    # The signature checks with the documented receiver's own function, and fails with anything changed.
    stamp, signature = arrival.headers["Kontor-Webhook-Timestamp"], arrival.headers["Kontor-Signature"]
    assert signature.startswith("v1=")
    assert webhook_receiver.signature_valid(receiver.secret, stamp, signature, arrival.body)
    assert not webhook_receiver.signature_valid(receiver.secret, stamp, signature, arrival.body + b" ")
    assert not webhook_receiver.signature_valid("whsec_other", stamp, signature, arrival.body)
    assert not webhook_receiver.signature_valid(receiver.secret, stamp, signature, arrival.body, now=int(stamp) + 301)
    assert receiver.handled == [body]
    [delivery] = deliveries(workspace)
    assert (delivery.status, delivery.attempts, delivery.connection_id) == ("delivered", 1, conn.pk)
    [entry] = exchanges(workspace)
    assert (entry.status, entry.response["status"], entry.replay) == ("ok", 204, None)


def test_only_the_subscribed_types_and_kinds_are_sent(workspace, receiver, django_capture_on_commit_callbacks) -> None:
    hook(workspace, receiver, types=["record.updated"], kinds=["company"])
    with tenant_context(workspace.tenant):
        company = commit(django_capture_on_commit_callbacks, company_create, actor=workspace.owner, data={"name": "A"})
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "L"})
        commit(
            django_capture_on_commit_callbacks,
            company_update,
            actor=workspace.owner,
            company=company,
            data={"name": "A renamed"},
        )
    assert [json.loads(a.body)["type"] for a in receiver.arrivals] == ["record.updated"]
    event = json.loads(receiver.arrivals[0].body)
    assert (event["kind"], event["record_id"], event["data"]["name"]) == ("company", company.pk, "A renamed")
    assert "name" in event["fields"]
    assert len(deliveries(workspace)) == 1


def test_a_failure_is_logged_and_retried_later_until_delivered(
    workspace, receiver, django_capture_on_commit_callbacks
) -> None:
    hook(workspace, receiver)
    receiver.fail_times = 2
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "L"})
    [delivery] = deliveries(workspace)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    # Retried later (30 s ± 20% by default), not at once; the sweep leaves it until then.
    assert delivery.next_at > timezone.now() + datetime.timedelta(seconds=20)
    connection.set_schema_to_public()
    services.due_queue()
    assert len(receiver.arrivals) == 1
    [first] = exchanges(workspace)
    assert (first.status, first.response["status"], first.operation) == ("failed", 500, "webhook.deliver")
    assert first.retryable
    make_due(workspace)
    assert [a.status for a in receiver.arrivals] == [500, 500]
    make_due(workspace)
    assert [a.status for a in receiver.arrivals] == [500, 500, 204]
    [delivery] = deliveries(workspace)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    log = exchanges(workspace)
    assert [e.status for e in log] == ["failed", "failed", "ok"]
    # Every attempt signed the same body; nothing is left to retry once delivered.
    assert len({a.body for a in receiver.arrivals}) == 1
    assert not any(e.retryable for e in log)
    assert len(receiver.handled) == 1
    with tenant_context(workspace.tenant):
        assert Receiver.objects.get(connection=delivery.connection).failed_in_row == 0


def test_a_slow_receiver_times_out_and_gets_the_event_again_later(
    workspace, receiver, django_capture_on_commit_callbacks, settings
) -> None:
    settings.INTEGRATIONS_HTTP_READ_TIMEOUT = 0.3
    hook(workspace, receiver)
    receiver.delay = 1.0
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "Slow"})
    [entry] = exchanges(workspace)
    assert entry.status == "failed" and entry.error == "timed out"
    assert deliveries(workspace)[0].status == "pending"
    receiver.delay = 0.0
    make_due(workspace)
    assert deliveries(workspace)[0].status == "delivered"
    # It had handled the first one after all (the answer came too late): the second is acknowledged only.
    time.sleep(1.0)
    assert len(receiver.arrivals) == 2 and len(receiver.handled) == 1


def test_the_backoff_grows_with_jitter_up_to_the_cap(settings) -> None:
    settings.WEBHOOKS_RETRY_BASE_SECONDS, settings.WEBHOOKS_RETRY_MAX_SECONDS = 30.0, 6 * 3600.0
    for attempts, nominal in ((1, 30), (2, 120), (3, 480), (4, 1920), (9, 6 * 3600), (20, 6 * 3600)):
        waits = {services.backoff(attempts) for _ in range(20)}
        assert all(0.8 * nominal <= w <= 1.2 * nominal for w in waits), (attempts, waits)
        assert len(waits) > 1


def test_one_delivery_per_event_even_when_the_consumer_runs_twice(
    workspace, receiver, django_capture_on_commit_callbacks
) -> None:
    hook(workspace, receiver)
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "L"})
        event = outbox.Event.objects.get(type="record.created", kind="lead")
        # The outbox hands the event over again (at least once) and the delivery task runs again.
        with django_capture_on_commit_callbacks(execute=True):
            services.events_follow(event)
        [delivery] = Delivery.objects.all()
        services.delivery_attempt(delivery_id=delivery.pk)
    assert len(receiver.arrivals) == 1
    assert len(deliveries(workspace)) == 1


def test_one_records_events_go_in_order(workspace, receiver, django_capture_on_commit_callbacks) -> None:
    hook(workspace, receiver, types=["record.created", "record.updated"], kinds=["company"])
    receiver.fail_times = 1
    with tenant_context(workspace.tenant):
        company = commit(django_capture_on_commit_callbacks, company_create, actor=workspace.owner, data={"name": "A"})
        commit(
            django_capture_on_commit_callbacks,
            company_update,
            actor=workspace.owner,
            company=company,
            data={"name": "B"},
        )
        other = commit(django_capture_on_commit_callbacks, company_create, actor=workspace.owner, data={"name": "C"})
    # The creation of A failed; its update waits behind it; another record's event goes.
    sent = [(json.loads(a.body)["type"], json.loads(a.body)["record_id"], a.status) for a in receiver.arrivals]
    assert sent == [("record.created", company.pk, 500), ("record.created", other.pk, 204)]
    make_due(workspace)
    sent = [(json.loads(a.body)["type"], json.loads(a.body)["record_id"]) for a in receiver.arrivals[2:]]
    assert sent == [("record.created", company.pk), ("record.updated", company.pk)]
    assert {d.status for d in deliveries(workspace)} == {"delivered"}


def test_a_receiver_that_keeps_failing_is_turned_off_and_the_admins_mailed(
    workspace, receiver, django_capture_on_commit_callbacks
) -> None:
    conn = hook(workspace, receiver)
    with tenant_context(workspace.tenant):
        user_create(email="sales@example.com", password=PASSWORD, full_name="Sales")  # no manage_integrations
    receiver.fail_times = 100
    mail.outbox.clear()
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "One"})
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "Two"})
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            make_due(workspace)
    # 3 attempts each (WEBHOOKS_MAX_ATTEMPTS in the tests), 2 events failed in a row (WEBHOOKS_DISABLE_AFTER).
    assert len(receiver.arrivals) == 6
    assert {d.status for d in deliveries(workspace)} == {"failed"}
    with tenant_context(workspace.tenant):
        conn.refresh_from_db()
        assert not conn.is_active
        assert "2 events in a row failed" in conn.disabled_reason
    assert [m.to for m in mail.outbox] == [[workspace.owner.email]]
    assert "Receiver" in mail.outbox[0].subject
    assert f"://{workspace.domain}/settings/integrations/{conn.pk}/" in mail.outbox[0].body
    # The reason is on the integrations page, and nothing more is sent while it is off.
    page = workspace.client(logged_in_as=workspace.owner).get("/settings/integrations/")
    assert "2 events in a row failed" in page.content.decode()
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "Three"})
    assert len(receiver.arrivals) == 6 and len(deliveries(workspace)) == 2


def test_an_administrator_retries_a_failed_delivery_from_the_log(
    workspace, receiver, django_capture_on_commit_callbacks, settings
) -> None:
    settings.WEBHOOKS_MAX_ATTEMPTS, settings.WEBHOOKS_DISABLE_AFTER = 1, 5
    conn = hook(workspace, receiver)
    receiver.fail_times = 1
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "L"})
    [failed] = exchanges(workspace)
    assert failed.status == "failed" and failed.retryable
    assert deliveries(workspace)[0].status == "failed"
    client = workspace.client(logged_in_as=workspace.owner)
    response = client.post(f"/settings/integrations/{conn.pk}/log/{failed.pk}/retry/")
    assert response.status_code == 302
    assert [a.status for a in receiver.arrivals] == [500, 204]
    first, again = exchanges(workspace)
    assert (first.status, again.status, again.retry_of_id) == ("retried", "ok", first.pk)
    assert deliveries(workspace)[0].status == "delivered"
    # Delivered: a second retry of the old entry is refused, and nothing is sent.
    response = client.post(f"/settings/integrations/{conn.pk}/log/{first.pk}/retry/")
    assert response.status_code == 302 and len(receiver.arrivals) == 2


def test_a_private_address_is_refused_at_save_and_at_send(
    workspace, owner_client, receiver, django_capture_on_commit_callbacks, settings
) -> None:
    conn = hook(workspace, receiver)
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False
    response = owner_client.post(
        "/settings/integrations/new/webhooks/",
        {"name": "Private", "url": "http://127.0.0.1:8000/x", "types": ["record.created"]},
    )
    assert response.status_code == 422
    assert "private or reserved network" in response.content.decode()
    response = owner_client.post(
        f"/settings/integrations/{conn.pk}/",
        {"name": "Receiver", "url": "http://10.0.0.8/hook", "types": ["record.created"]},
    )
    assert response.status_code == 422
    with tenant_context(workspace.tenant):
        assert Connection.objects.count() == 1
        assert Connection.objects.get().settings["url"] == receiver.url
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "L"})
    assert receiver.arrivals == []
    [entry] = exchanges(workspace)
    assert entry.status == "refused" and "private or reserved" in entry.error


def test_another_workspaces_events_never_reach_this_receiver(
    workspace, other_workspace, receiver, django_capture_on_commit_callbacks
) -> None:
    hook(workspace, receiver)
    with tenant_context(other_workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=other_workspace.owner, data={"title": "Theirs"})
        assert not Delivery.objects.exists()
    connection.set_schema_to_public()
    services.due_queue(now=time.time() + 10**6)
    assert receiver.arrivals == []
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "Ours"})
    assert [json.loads(a.body)["data"]["title"] for a in receiver.arrivals] == ["Ours"]


def test_the_identitys_own_changes_are_delivered(workspace, receiver, django_capture_on_commit_callbacks) -> None:
    conn = hook(workspace, receiver)
    with tenant_context(workspace.tenant):
        commit(django_capture_on_commit_callbacks, lead_create, actor=conn.identity, data={"title": "By the hook"})
    assert [json.loads(a.body)["data"]["title"] for a in receiver.arrivals] == ["By the hook"]


def test_the_secret_is_shown_once_and_rotated(workspace, owner_client, receiver) -> None:
    with tenant_context(workspace.tenant):
        conn = core.connection_create(
            actor=workspace.owner,
            kind=services.KIND,
            name="R",
            settings={"url": receiver.url, "types": ["record.created"], "kinds": []},
        ).connection
        sealed = Connection.objects.get(pk=conn.pk).secrets_sealed
    assert "whsec_" not in sealed
    page = owner_client.get(f"/settings/integrations/webhooks/{conn.pk}/secret/")
    assert page.status_code == 200 and 'data-testid="secret-show"' in page.content.decode()
    shown = owner_client.post(f"/settings/integrations/webhooks/{conn.pk}/secret/", {"action": "show"})
    first = shown.content.decode().split('data-testid="signing-secret">')[1].split("<")[0]
    assert first.startswith("whsec_")
    again = owner_client.post(f"/settings/integrations/webhooks/{conn.pk}/secret/", {"action": "show"})
    assert again.status_code == 302 and first not in again.content.decode()
    assert owner_client.post(f"/settings/integrations/webhooks/{conn.pk}/secret/", {"action": "x"}).status_code == 400
    rotated = owner_client.post(f"/settings/integrations/webhooks/{conn.pk}/secret/", {"action": "new"})
    second = rotated.content.decode().split('data-testid="signing-secret">')[1].split("<")[0]
    assert second.startswith("whsec_") and second != first
    with tenant_context(workspace.tenant):
        assert core.connection_secrets(Connection.objects.get(pk=conn.pk))["signing_secret"] == second


def test_the_test_event_and_the_deliveries_page(workspace, owner_client, receiver) -> None:
    conn = hook(workspace, receiver)
    response = owner_client.post(f"/settings/integrations/webhooks/{conn.pk}/ping/")
    assert response.status_code == 302
    [arrival] = receiver.arrivals
    assert arrival.status == 204 and json.loads(arrival.body)["type"] == "ping"
    page = owner_client.get(f"/settings/integrations/webhooks/{conn.pk}/deliveries/")
    assert page.status_code == 200 and 'data-status="delivered"' in page.content.decode()
    receiver.fail_times = 1
    owner_client.post(f"/settings/integrations/webhooks/{conn.pk}/ping/")
    page = owner_client.get(f"/settings/integrations/webhooks/{conn.pk}/deliveries/?status=failed")
    assert page.content.decode().count('data-testid="delivery-row"') == 1
    # A failed test does not count against the receiver.
    with tenant_context(workspace.tenant):
        assert Receiver.objects.get(connection=conn).failed_in_row == 0
    for query in ("?status=nonsense", "?page=x", "?status=%00"):
        assert owner_client.get(f"/settings/integrations/webhooks/{conn.pk}/deliveries/{query}").status_code == 200
    assert owner_client.get("/settings/integrations/webhooks/999999/deliveries/").status_code == 404
    huge = "9" * 30
    assert owner_client.get(f"/settings/integrations/webhooks/{huge}/deliveries/").status_code == 404
    assert owner_client.post(f"/settings/integrations/webhooks/{huge}/ping/").status_code == 404


def test_the_pages_are_for_integration_managers_only(workspace, receiver) -> None:
    conn = hook(workspace, receiver)
    with tenant_context(workspace.tenant):
        sales = user_create(email="sales@example.com", password=PASSWORD, full_name="Sales")
        sealed = Connection.objects.get(pk=conn.pk).secrets_sealed
    client = workspace.client(logged_in_as=sales)
    base = f"/settings/integrations/webhooks/{conn.pk}"
    assert client.get(f"{base}/secret/").status_code == 403
    assert client.post(f"{base}/secret/", {"action": "new"}).status_code == 403
    assert client.get(f"{base}/deliveries/").status_code == 403
    assert client.post(f"{base}/ping/").status_code == 403
    assert receiver.arrivals == []
    with tenant_context(workspace.tenant):
        assert Connection.objects.get(pk=conn.pk).secrets_sealed == sealed
        assert not Delivery.objects.exists()


def test_another_workspace_cannot_reach_this_workspaces_pages(workspace, other_workspace, receiver) -> None:
    conn = hook(workspace, receiver)
    client = other_workspace.client(logged_in_as=other_workspace.owner)
    for path in ("secret/", "deliveries/"):
        assert client.get(f"/settings/integrations/webhooks/{conn.pk}/{path}").status_code == 404
    assert client.post(f"/settings/integrations/webhooks/{conn.pk}/ping/").status_code == 404
    assert receiver.arrivals == []


def test_bad_settings_are_field_errors_and_nothing_is_saved(workspace, owner_client, receiver) -> None:
    for data in (
        {"name": "X", "url": "not a url", "types": ["record.created"]},
        {"name": "X", "url": receiver.url, "types": []},
        {"name": "X", "url": receiver.url, "types": ["user.password_reset_requested"]},
        {"name": "X", "url": "ftp://example.com/x", "types": ["record.created"]},
        {"name": "X\x00", "url": receiver.url + "\x00", "types": ["record.created"]},
    ):
        assert owner_client.post("/settings/integrations/new/webhooks/", data).status_code == 422, data
    with tenant_context(workspace.tenant):
        assert not Connection.objects.exists()


def test_the_receiver_gets_what_its_identity_may_see(workspace, receiver, django_capture_on_commit_callbacks) -> None:
    """A role that hides the company's tax id and sees no leads: neither reaches the receiver."""
    from tenants.accounts.services import role_create

    with tenant_context(workspace.tenant):
        role = role_create(
            actor=workspace.owner,
            name="Hook without tax ids",
            grants={"company": {"view": "all"}},
            hidden_fields={"company": ["tax_id"]},
        )
        conn = core.connection_create(
            actor=workspace.owner,
            kind=services.KIND,
            name="Limited",
            settings={"url": receiver.url, "types": ["record.created"], "kinds": []},
            role=role,
        ).connection
        receiver.secret = services.signing_secret_reveal(actor=workspace.owner, connection=conn)
        commit(
            django_capture_on_commit_callbacks,
            company_create,
            actor=workspace.owner,
            data={"name": "Acme", "tax_id": "7701234567"},
        )
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "Hidden"})
    [arrival] = receiver.arrivals
    event = json.loads(arrival.body)
    assert event["kind"] == "company" and event["data"]["name"] == "Acme"
    assert "tax_id" not in event["data"] and b"7701234567" not in arrival.body


def test_what_one_outbox_batch_makes_goes_to_one_task_in_event_order(
    workspace, receiver, django_capture_on_commit_callbacks
) -> None:
    from django.db import transaction

    hook(workspace, receiver, types=["record.created", "record.updated"], kinds=["company"])
    with tenant_context(workspace.tenant):
        with django_capture_on_commit_callbacks(execute=False):
            company = company_create(actor=workspace.owner, data={"name": "A"})
            company_update(actor=workspace.owner, company=company, data={"name": "B"})
        events = list(outbox.Event.objects.filter(kind="company").order_by("id"))
        with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
            for event in events:
                with transaction.atomic():
                    services.events_follow(event)
        queued = [c for c in callbacks if isinstance(c, services._Queue)]
        made = list(Delivery.objects.order_by("event_id").values_list("id", flat=True))
        assert len(queued) == 1 and queued[0].ids == made and len(made) == 2
        with django_capture_on_commit_callbacks(execute=True):
            queued[0]()
    assert [json.loads(a.body)["type"] for a in receiver.arrivals] == ["record.created", "record.updated"]


def test_finished_deliveries_are_pruned_after_the_log_days(in_workspace, receiver, settings) -> None:
    conn = hook(in_workspace, receiver)
    old = timezone.now() - datetime.timedelta(days=settings.INTEGRATIONS_LOG_DAYS + 1)
    import uuid

    def made(status: str, at: datetime.datetime) -> Delivery:
        return Delivery.objects.create(
            connection=conn, event_uuid=uuid.uuid4(), type="record.created", kind="lead", body="{}", status=status,
            created_at=at,
        )  # fmt: skip

    gone = [made("delivered", old), made("failed", old)]
    kept = [made("pending", old), made("delivered", timezone.now())]
    cutoff = timezone.now() - datetime.timedelta(days=settings.INTEGRATIONS_LOG_DAYS)
    assert services.deliveries_prune(conn, before=cutoff) == 2
    left = set(Delivery.objects.values_list("id", flat=True))
    assert left == {d.pk for d in kept} and not left & {d.pk for d in gone}


def test_unreadable_credentials_send_nothing_and_are_logged(
    workspace, receiver, django_capture_on_commit_callbacks
) -> None:
    conn = hook(workspace, receiver)
    with tenant_context(workspace.tenant):
        Connection.objects.filter(pk=conn.pk).update(secrets_sealed='{"v": 1, "key": "gone", "nonce": "", "data": ""}')
        commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "L"})
    assert receiver.arrivals == []
    [entry] = exchanges(workspace)
    assert entry.status == "failed" and "SECRETS_MASTER_KEYS" in entry.error and entry.retryable
    assert deliveries(workspace)[0].status == "pending"
