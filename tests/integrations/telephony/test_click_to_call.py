"""Click-to-call from a card: the "Call" button beside a phone number for a person with an extension, the
Originate sent to Asterisk / the signed callback request sent to Zadarma, and the refusals."""

from __future__ import annotations

from typing import Any

from django.db import connection

from integrations.core.models import Exchange
from tests.factories import ContactFactory, LeadFactory
from tests.fakes.ami_server import FakeAmi
from tests.fakes.zadarma import FakeZadarmaApi

from .conftest import Setup

URL = "/integrations/telephony/call/"


def _login(setup: Setup, user: Any) -> Any:
    client = setup.workspace.client(logged_in_as=user)
    connection.set_tenant(setup.workspace.tenant)
    return client


def _call(client: Any, setup: Setup, **data: Any) -> Any:
    response = client.post(URL, data, HTTP_ACCEPT="application/json")
    connection.set_tenant(setup.workspace.tenant)
    return response


def test_the_card_offers_a_call_button_to_a_person_with_an_extension(setup: Setup) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.manager)
    response = _login(setup, setup.manager).get(contact.get_absolute_url())
    assert response.status_code == 200
    assert response.content.count(b'data-testid="call-button"') == 1
    assert b'name="phone" value="+79161234567"' in response.content
    # The owner has no extension: no button.
    response = _login(setup, setup.workspace.owner).get(contact.get_absolute_url())
    assert b'data-testid="call-button"' not in response.content


def test_asterisk_click_to_call_sends_originate_for_the_users_extension(setup: Setup, ami: FakeAmi) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.manager)
    setup.zadarma.is_active = False  # the manager's line is the Asterisk one
    setup.zadarma.save()
    client = _login(setup, setup.manager)
    response = client.post(URL, {"record_type": "contact", "record_id": contact.pk, "phone": "+79161234567"})
    connection.set_tenant(setup.workspace.tenant)
    assert response.status_code == 302 and response["Location"] == contact.get_absolute_url()
    [action] = ami.actions_named("Originate")
    assert (action["Channel"], action["Context"], action["Exten"], action["Async"]) == (
        "PJSIP/101", "from-internal", "79161234567", "true"
    )  # fmt: skip
    assert Exchange.objects.get(connection=setup.asterisk, operation="telephony.originate").status == "ok"


def test_zadarma_click_to_call_sends_the_signed_callback_request(setup: Setup, zadarma_api: FakeZadarmaApi) -> None:
    lead = LeadFactory(phone="+79161234567", owner=setup.manager)
    setup.asterisk.is_active = False
    setup.asterisk.save()
    response = _call(_login(setup, setup.manager), setup, record_type="lead", record_id=lead.pk, phone="+79161234567")
    assert response.status_code == 200 and response.json() == {"status": "calling"}
    [request] = zadarma_api.requests
    assert request.authorized and (request.method, request.path) == ("POST", "/v1/request/callback/")
    assert (request.params["from"], request.params["to"], request.params["format"]) == ("101", "79161234567", "json")


def test_a_pbx_that_refuses_is_a_502(setup: Setup, ami: FakeAmi) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.manager)
    setup.zadarma.is_active = False
    setup.zadarma.save()
    ami.secret = "changed"
    try:
        response = _call(
            _login(setup, setup.manager), setup, record_type="contact", record_id=contact.pk, phone="+79161234567"
        )
    finally:
        ami.secret = "ami-secret"
    assert response.status_code == 502 and response.json()["error"]["message"]
    assert Exchange.objects.get(operation="telephony.originate").status == "failed"


def test_without_an_extension_the_call_is_refused(setup: Setup, ami: FakeAmi, zadarma_api: FakeZadarmaApi) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.workspace.owner)
    response = _call(
        _login(setup, setup.workspace.owner), setup, record_type="contact", record_id=contact.pk, phone="+79161234567"
    )
    assert response.status_code == 409 and "extension" in response.json()["error"]["message"]
    # As a page for a browser.
    client = _login(setup, setup.workspace.owner)
    response = client.post(URL, {"record_type": "contact", "record_id": contact.pk, "phone": "+79161234567"})
    assert response.status_code == 409 and b'data-testid="call-refused"' in response.content
    connection.set_tenant(setup.workspace.tenant)
    assert ami.actions_named("Originate") == [] and zadarma_api.requests == []
    assert not Exchange.objects.filter(operation__in=["telephony.originate", "telephony.callback"]).exists()


def test_bad_input_and_records_out_of_sight(setup: Setup, ami: FakeAmi) -> None:
    mine = ContactFactory(phones=["+79161234567"], owner=setup.manager)
    theirs = ContactFactory(phones=["+79169999999"], owner=setup.workspace.owner)  # a sales manager sees own only
    client = _login(setup, setup.manager)
    bad = [
        {},
        {"record_type": "deal", "record_id": mine.pk, "phone": "1"},
        {"record_type": "contact", "record_id": "x\x00", "phone": "1"},
        {"record_type": "contact", "record_id": "9" * 30, "phone": "1"},
    ]
    for data in bad:
        assert _call(client, setup, **data).status_code == 422
    assert _call(client, setup, record_type="contact", record_id=mine.pk, phone="+79160000000").status_code == 422
    assert _call(client, setup, record_type="contact", record_id=theirs.pk, phone="+79169999999").status_code == 404
    assert _call(client, setup, record_type="contact", record_id=999999, phone="+79169999999").status_code == 404
    assert client.get(URL).status_code == 405
    connection.set_tenant(setup.workspace.tenant)
    assert ami.actions_named("Originate") == []
    anonymous = setup.workspace.client().post(
        URL, {"record_type": "contact", "record_id": mine.pk, "phone": "+79161234567"}
    )
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
