"""Zadarma's notifications through the inbound endpoint, signed as Zadarma signs them (tests.fakes.zadarma)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.leads.models import Lead
from integrations.core.models import Exchange
from integrations.telephony.models import Call
from tests.factories import ContactFactory
from tests.fakes.zadarma import FakeZadarmaApi, inbound_sequence, notification, outbound_sequence

from .conftest import ZD_SECRET, Setup, make_setup


def _url(token: str) -> str:
    return f"/integrations/in/telephony/zadarma/{token}/"


def _post(
    client: Client,
    token: str,
    event: str,
    fields: dict[str, str],
    *,
    signature: str | None = None,
    secret: str = ZD_SECRET,
) -> Any:
    body, signed = notification(secret, event, **fields)
    headers = {} if signature == "" else {"HTTP_SIGNATURE": signed if signature is None else signature}
    response = client.post(_url(token), body, content_type="application/x-www-form-urlencoded", **headers)
    connection.set_tenant(client.tenant)  # type: ignore[attr-defined]
    return response


def _client(setup: Setup) -> Client:
    client = setup.workspace.client()
    client.tenant = setup.workspace.tenant  # type: ignore[attr-defined]
    return client


def _changes() -> tuple[int, int, int]:
    return Call.objects.count(), Activity.objects.count(), Lead.objects.count()


def test_the_address_check_echoes(setup: Setup) -> None:
    response = _client(setup).get(_url(setup.token), {"zd_echo": "abc123"})
    assert response.status_code == 200 and response.content == b"abc123"


def test_an_answered_inbound_call_is_logged_on_the_contact(setup: Setup) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.workspace.owner)
    client = _client(setup)
    for event, fields in inbound_sequence(pbx_call_id="in_1", caller="79161234567", duration=42):
        response = _post(client, setup.token, event, fields)
        assert response.status_code == 200, response.content
    call = Call.objects.get()
    assert (call.connection, call.direction, call.phone, call.result, call.duration_seconds) == (
        setup.zadarma, "inbound", "+79161234567", "answered", 42
    )  # fmt: skip
    assert call.user == setup.manager and call.to_number == "+74951234567"
    # Zadarma's call_start is in the account's time zone (Europe/Moscow: UTC+3).
    assert call.started_at.isoformat() == "2026-12-01T07:00:00+00:00"
    activity = Activity.objects.get()
    assert activity.contact == contact and activity.assignee == setup.manager and activity.call_duration_seconds == 42
    assert Exchange.objects.filter(connection=setup.zadarma, operation="telephony.call", status="ok").count() == 3


def test_a_missed_call_makes_a_task_and_an_unknown_number_a_lead(setup: Setup) -> None:
    client = _client(setup)
    for event, fields in inbound_sequence(pbx_call_id="in_2", caller="79031112233", disposition="no answer"):
        assert _post(client, setup.token, event, fields).status_code == 200
    lead = Lead.objects.get()
    assert lead.phone == "+79031112233"
    assert set(Activity.objects.values_list("kind", "lead")) == {("call", lead.pk), ("task", lead.pk)}


def test_an_outbound_call(setup: Setup) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.manager)
    client = _client(setup)
    for event, fields in outbound_sequence(pbx_call_id="out_1", destination="79161234567"):
        assert _post(client, setup.token, event, fields).status_code == 200
    activity = Activity.objects.get()
    assert (
        activity.call_direction == "outbound" and activity.contact == contact and activity.call_duration_seconds == 30
    )


def test_the_same_notifications_twice_log_once(setup: Setup) -> None:
    client = _client(setup)
    sequence = inbound_sequence(pbx_call_id="in_3", caller="79031112233", disposition="cancel")
    for event, fields in sequence + sequence:
        assert _post(client, setup.token, event, fields).status_code == 200
    assert _changes() == (1, 2, 1)


def test_a_recording_link_is_fetched_from_the_api_and_added(
    setup: Setup, zadarma_api: FakeZadarmaApi, django_capture_on_commit_callbacks: Any
) -> None:
    ContactFactory(phones=["+79161234567"], owner=setup.workspace.owner)
    client = _client(setup)
    for event, fields in inbound_sequence(pbx_call_id="in_4", caller="79161234567"):
        assert _post(client, setup.token, event, fields).status_code == 200
    with_record = {"pbx_call_id": "in_4", "call_id_with_rec": "1700000000.1234"}
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, setup.token, "NOTIFY_RECORD", with_record)
    assert response.status_code == 200
    [request] = zadarma_api.requests
    assert (
        request.authorized
        and request.path == "/v1/pbx/record/request/"
        and request.params["call_id"] == "1700000000.1234"
    )
    call = Call.objects.get()
    assert call.recording_url == zadarma_api.recording_link
    assert zadarma_api.recording_link in Activity.objects.get().body


def test_forged_or_missing_signatures_are_refused_and_change_nothing(setup: Setup) -> None:
    client = _client(setup)
    [(event, fields), *_rest] = inbound_sequence(pbx_call_id="in_5", caller="79161234567")
    for kwargs in ({"signature": ""}, {"signature": "bm90IGl0"}, {"secret": "another-secret"}):
        response = _post(client, setup.token, event, fields, **kwargs)
        assert response.status_code == 401 and response.json()["error"]["code"] == "bad_signature"
    # A signed notification altered afterwards.
    body, signature = notification(
        ZD_SECRET, "NOTIFY_END", **inbound_sequence(pbx_call_id="in_5", caller="79161234567")[2][1]
    )
    response = client.post(_url(setup.token), body.replace("duration=65", "duration=9999"),
                           content_type="application/x-www-form-urlencoded", HTTP_SIGNATURE=signature)  # fmt: skip
    connection.set_tenant(setup.workspace.tenant)
    assert response.status_code == 200  # duration is not covered by Zadarma's signature; the call is Zadarma's word
    Call.objects.all().delete()
    Activity.objects.all().delete()
    Lead.objects.all().delete()
    body = body.replace("caller_id=79161234567", "caller_id=79990000000")
    response = client.post(
        _url(setup.token), body, content_type="application/x-www-form-urlencoded", HTTP_SIGNATURE=signature
    )
    connection.set_tenant(setup.workspace.tenant)
    assert response.status_code == 401
    assert _changes() == (0, 0, 0)
    assert Exchange.objects.filter(connection=setup.zadarma, status="refused").count() == 4


def test_bad_input_is_refused_and_changes_nothing(setup: Setup) -> None:
    client = _client(setup)
    fields = dict(inbound_sequence(pbx_call_id="in_6", caller="79161234567")[2][1])
    for broken in (
        {**fields, "pbx_call_id": ""},
        {**fields, "call_start": "yesterday"},
        {**fields, "duration": "long"},
    ):
        assert _post(client, setup.token, "NOTIFY_END", broken).status_code == 400
    response = client.post(
        _url(setup.token), b"event=NOTIFY_END&caller_id=\x00", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    response = client.post(_url(setup.token), b"\xff\xfe", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    response = client.post(_url(setup.token), "x=" + "a" * 300_000, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert client.get(_url(setup.token)).status_code == 400  # no zd_echo
    assert client.put(_url(setup.token)).status_code == 405
    connection.set_tenant(setup.workspace.tenant)
    assert _changes() == (0, 0, 0)
    # An event Kontor does not handle is taken and ignored.
    response = client.post(
        _url(setup.token), "event=NOTIFY_IVR&caller_id=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    connection.set_tenant(setup.workspace.tenant)
    assert _changes() == (0, 0, 0)


def test_an_unknown_token_is_a_404(setup: Setup) -> None:
    client = _client(setup)
    [(event, fields), *_rest] = inbound_sequence(pbx_call_id="in_7", caller="79161234567")
    for token in ("nope", "x" * 200, setup.token + "x"):
        assert _post(client, token, event, fields).status_code == 404
    assert client.get(_url("nope"), {"zd_echo": "1"}).status_code == 404
    connection.set_tenant(setup.workspace.tenant)
    assert _changes() == (0, 0, 0)


def test_a_turned_off_connection_is_a_404(setup: Setup) -> None:
    setup.zadarma.is_active = False
    setup.zadarma.save()
    [(event, fields), *_rest] = inbound_sequence(pbx_call_id="in_8", caller="79161234567")
    assert _post(_client(setup), setup.token, event, fields).status_code == 404


def test_another_workspaces_token_is_unknown_here(setup: Setup, other_workspace) -> None:
    with tenant_context(other_workspace.tenant):
        other = make_setup(other_workspace)
    connection.set_tenant(setup.workspace.tenant)
    [(event, fields), *_rest] = inbound_sequence(pbx_call_id="in_9", caller="79161234567")
    # The other workspace's secret, sent to this workspace's address: unknown here.
    assert _post(_client(setup), other.token, event, fields).status_code == 404
    assert _changes() == (0, 0, 0)
    with tenant_context(other_workspace.tenant):
        assert not Call.objects.exists()


def test_the_recording_task_does_nothing_for_a_turned_off_or_unknown_connection(
    setup: Setup, zadarma_api: FakeZadarmaApi
) -> None:
    from integrations.telephony.tasks import recording_fetch

    setup.zadarma.is_active = False
    setup.zadarma.save()
    assert recording_fetch(setup.zadarma.pk, "in_x", "rec") is False
    assert recording_fetch(setup.asterisk.pk, "in_x", "rec") is False  # not a Zadarma connection
    assert recording_fetch(999999, "in_x", "rec") is False
    assert zadarma_api.requests == []


def test_a_recorded_end_fetches_the_link_too(
    setup: Setup, zadarma_api: FakeZadarmaApi, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(setup)
    with django_capture_on_commit_callbacks(execute=True):
        for event, fields in inbound_sequence(pbx_call_id="in_r", caller="79031112233", recorded=True):
            assert _post(client, setup.token, event, fields).status_code == 200
    [request] = zadarma_api.requests
    assert request.params["call_id"] == "in_r.rec"
    assert Call.objects.get().recording_url == zadarma_api.recording_link
