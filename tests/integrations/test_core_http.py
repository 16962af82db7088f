"""The one outbound HTTP client: where it refuses to call, how it tries again, what it logs."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from integrations.core import http, registry, services
from integrations.core.models import Exchange
from tests.integrations.core_support import KIND, ScriptedServer, registered_kind
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings) -> None:
    settings.INTEGRATIONS_HTTP_BACKOFF = 0.01
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def kind() -> Iterator[registry.ConnectionKind]:
    with registered_kind() as registered:
        yield registered


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8000/hook",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_private_and_reserved_addresses_are_never_called(settings, url) -> None:
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(http.OutboundRefused, match="private or reserved"):
        http.request("POST", url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("http:///nohost", "only http and https"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://no-such-host.invalid/", "cannot be resolved"),
    ],
)
def test_odd_addresses_are_refused_with_a_reason(url, reason) -> None:
    with pytest.raises(http.OutboundRefused, match=reason):
        http.request("GET", url)


def test_the_connected_address_is_checked_again_on_the_socket(settings) -> None:
    """A name that passed the check but connects to a private address (DNS rebinding) is still refused."""
    with ScriptedServer([(200, b"ok", {})]) as server:
        settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False
        with http._session() as session, pytest.raises(http.OutboundRefused):
            session.get(server.url, timeout=2)
        assert server.requests == []


def test_failures_worth_it_are_tried_again_and_redirects_are_not_followed() -> None:
    with ScriptedServer([(503, b"busy", {}), (502, b"bad", {}), (200, b"done", {})]) as server:
        result = http.request("POST", server.url + "/hook", body=b"{}", attempts=3)
        assert (result.status, result.attempts, result.body, result.ok) == (200, 3, b"done", True)
    with ScriptedServer([(302, b"", {"Location": "http://169.254.169.254/"})]) as server:
        result = http.request("GET", server.url)
        assert (result.status, result.attempts, result.ok) == (302, 1, False)
        assert len(server.requests) == 1
    with ScriptedServer([(400, b"no", {})]) as server:
        result = http.request("GET", server.url, attempts=3)
        assert (result.status, result.attempts) == (400, 1)


def test_an_unreachable_peer_is_an_answer_not_an_exception() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = http.request("GET", f"http://127.0.0.1:{port}/", attempts=2)
    assert (result.status, result.attempts, result.error) == (None, 2, "connection refused")


def test_a_slow_peer_times_out(settings) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        result = http.request("GET", f"http://127.0.0.1:{listener.getsockname()[1]}/", attempts=1, timeout=(1, 0.2))
        assert (result.status, result.error) == (None, "timed out")
    finally:
        listener.close()


def test_calls_are_logged_with_their_answer_and_never_a_query_string(workspace, kind, settings) -> None:
    with inside(workspace):
        conn = services.connection_create(actor=workspace.owner, kind=KIND, name="Peer").connection
        with ScriptedServer([(500, b"x" * 5000, {})]) as server:
            response, entry = http.call(
                conn,
                operation="coretest.push",
                method="POST",
                url=server.url + "/in?key=secret",
                body=b"{}",
                attempts=2,
            )
        assert not response.ok and entry.status == Exchange.Status.FAILED and entry.attempts == 2
        assert entry.request["url"].endswith("/in") and "secret" not in str(entry.request)
        assert entry.response["status"] == 500 and len(entry.response["body"]) == http.EXCERPT_BYTES
        settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False
        _response, refused = http.call(conn, operation="coretest.push", method="POST", url="http://10.0.0.1/")
        assert refused.status == Exchange.Status.REFUSED and "private" in refused.error
