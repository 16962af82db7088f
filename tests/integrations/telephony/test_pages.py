"""The telephony pages under /settings/integrations/: a connection's calls, and its settings through the core's
connection pages (the extensions mapped to people)."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import tenant_context

from integrations.core.models import Connection
from integrations.telephony import services
from integrations.telephony.ami import calls_from_events
from integrations.telephony.models import Call
from tests.factories import ContactFactory
from tests.fakes.ami_server import inbound_call

from .conftest import Setup, make_setup
from .test_calls import NOW


def _calls_url(conn: Connection) -> str:
    return f"/settings/integrations/telephony/{conn.pk}/calls/"


def test_the_calls_page_lists_the_connections_calls(setup: Setup) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.workspace.owner, last_name="Callerova")
    [data] = calls_from_events(inbound_call(linkedid="1.1", caller="+79161234567"), NOW)
    services.call_log(connection=setup.asterisk, data=data)
    client = setup.workspace.client(logged_in_as=setup.workspace.owner)
    response = client.get(_calls_url(setup.asterisk))
    assert response.status_code == 200
    assert response.content.count(b'data-testid="call-row"') == 1 and b"Callerova" in response.content
    # The Zadarma connection has none; the connection's page links to its calls.
    assert client.get(_calls_url(setup.zadarma)).content.count(b'data-testid="call-row"') == 0
    assert _calls_url(setup.asterisk).encode() in client.get(f"/settings/integrations/{setup.asterisk.pk}/").content
    assert client.get("/settings/integrations/telephony/99999/calls/").status_code == 404
    assert client.get(_calls_url(setup.asterisk) + "?page=x\x00").status_code == 200
    del contact


def test_the_pages_are_refused_without_the_manage_integrations_permission(setup: Setup) -> None:
    client = setup.workspace.client(logged_in_as=setup.manager)
    assert client.get(_calls_url(setup.asterisk)).status_code == 403
    response = client.post(f"/settings/integrations/new/{setup.asterisk.kind}/", {"name": "Sneaky"})
    assert response.status_code == 403
    connection.set_tenant(setup.workspace.tenant)
    assert Connection.objects.count() == 2


def test_another_workspaces_connection_is_not_found(setup: Setup, other_workspace) -> None:
    with tenant_context(other_workspace.tenant):
        other = make_setup(other_workspace)
    client = setup.workspace.client(logged_in_as=setup.workspace.owner)
    # Ids are per schema: an id of the other workspace that is not one here is a 404.
    missing = max(other.asterisk.pk, other.zadarma.pk, setup.asterisk.pk, setup.zadarma.pk) + 1
    assert client.get(f"/settings/integrations/telephony/{missing}/calls/").status_code == 404


def test_an_asterisk_connection_is_set_up_with_its_extensions(setup: Setup) -> None:
    client = setup.workspace.client(logged_in_as=setup.workspace.owner)
    data = {
        "name": "Second PBX", "host": "pbx.example.com", "port": "5038", "username": "kontor", "secret": "pw",
        "channel": "SIP/{extension}", "context": "from-internal", "dial_format": "national", "region": "RU",
        "extensions": f"201 = {setup.manager.email}\n202 = {setup.workspace.owner.email}", "recording_url": "",
    }  # fmt: skip
    response = client.post("/settings/integrations/new/telephony-asterisk/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    connection.set_tenant(setup.workspace.tenant)
    conn = Connection.objects.get(name="Second PBX")
    assert conn.settings["extensions"] == {"201": setup.manager.pk, "202": setup.workspace.owner.pk}
    assert conn.secret_names == ["secret"] and "secret" not in conn.settings
    # The form shows the mapping again by email, never the secret.
    page = client.get(f"/settings/integrations/{conn.pk}/").content.decode()
    assert f"201 = {setup.manager.email}" in page and "pw" not in page.replace("pwd", "")


def test_bad_settings_are_refused_and_nothing_is_made(setup: Setup) -> None:
    client = setup.workspace.client(logged_in_as=setup.workspace.owner)
    base = {
        **{"name": "Bad PBX", "host": "pbx.example.com", "port": "5038", "username": "kontor", "secret": "pw"},
        **{"channel": "PJSIP/{extension}", "context": "from-internal", "dial_format": "e164", "region": "RU"},
    }
    bad = [
        {"extensions": "101 nobody"},
        {"extensions": "101 = stranger@example.com"},
        {"channel": "PJSIP/101"},
        {"port": "99999"},
        {"recording_url": "ftp://x"},
        {"extensions": "1\x0001 = a@b.c"},
    ]
    for broken in bad:
        response = client.post("/settings/integrations/new/telephony-asterisk/", {**base, **broken})
        assert response.status_code == 422, broken
    connection.set_tenant(setup.workspace.tenant)
    assert not Connection.objects.filter(name="Bad PBX").exists() and not Call.objects.exists()
