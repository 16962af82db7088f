"""The one HTTP client for calls out of Kontor (webhook deliveries, a cloud PBX's API, a receiver's check).

- Only http(s) to a host name or a public address; the address actually connected to is checked again on the
  socket, so a name that resolves to a private address later (DNS rebinding) is refused as well. Loopback,
  private, link-local, multicast and reserved ranges are allowed only with INTEGRATIONS_ALLOW_PRIVATE_NETWORKS.
- Redirects are not followed: a 3xx is the answer (a redirect could lead anywhere the check did not see).
- Timeouts always; a failed connection, a timeout, a 429 or a 5xx is tried again after a doubling backoff.
- Every call is written to the connection's exchange log with what was answered (an excerpt), unless the
  caller logs it in an entry of its own.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.core.models import Connection, Exchange
from integrations.core.services import exchanges_prune_sometimes

EXCERPT_BYTES = 2048
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "Kontor-Integrations/1"


class OutboundRefused(ValueError):
    """An address Kontor does not call (a private range, a bad scheme); str() says why."""


def address_allowed(address: str) -> bool:
    if settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def destination_check(url: str) -> None:
    """Raise OutboundRefused unless `url` may be called: http(s), a host, every address it resolves to public."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused("the address is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("only http and https addresses with a host are called")
    if parts.username or parts.password:
        raise OutboundRefused("credentials in the address are not sent; use the connection's settings")
    host_check(parts.hostname, port or (443 if parts.scheme == "https" else 80))


def host_check(host: str, port: int) -> None:
    """Raise OutboundRefused unless every address `host` resolves to may be connected to (for HTTP above, and
    for the protocols that are not HTTP: IMAP, SMTP, AMI)."""
    if not host or len(host) > 253 or any(c in host for c in "\x00/ "):
        raise OutboundRefused("the host is not valid")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(f"the host {host!r} cannot be resolved") from exc
    for info in infos:
        if not address_allowed(str(info[4][0])):
            raise OutboundRefused(f"the host {host!r} is on a private or reserved network")


def _check_socket(sock: socket.socket) -> socket.socket:
    address = str(sock.getpeername()[0])
    if not address_allowed(address):
        sock.close()
        raise OutboundRefused(f"the address {address} is on a private or reserved network")
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _check_socket(super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _check_socket(super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the check above must see the real peer
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class Response:
    status: int | None  # None: no answer (refused, timed out, unreachable)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    attempts: int = 0
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def excerpt(self) -> str:
        return self.body[:EXCERPT_BYTES].decode("utf-8", errors="replace")

    def as_log(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.excerpt(), "error": self.error, "ms": self.duration_ms}


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    attempts: int | None = None,
    timeout: tuple[float, float] | None = None,
) -> Response:
    """Call `url`, trying again on a failure worth trying again; never raises for the peer's failures (the
    Response says what happened), only OutboundRefused for an address that is not called at all."""
    destination_check(url)
    attempts = attempts or settings.INTEGRATIONS_HTTP_ATTEMPTS
    timeout = timeout or (settings.INTEGRATIONS_HTTP_CONNECT_TIMEOUT, settings.INTEGRATIONS_HTTP_READ_TIMEOUT)
    sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    started = time.monotonic()
    result = Response(status=None)
    with _session() as session:
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            try:
                answer = session.request(
                    method, url, data=body, headers=sent_headers, timeout=timeout, allow_redirects=False, stream=True
                )
                try:
                    content = answer.raw.read(EXCERPT_BYTES * 8, decode_content=True) or b""
                finally:
                    answer.close()
                result.status, result.body, result.error = answer.status_code, content, ""
                result.headers = {k.lower(): v for k, v in answer.headers.items()}
                if answer.status_code not in _RETRY_STATUSES:
                    break
                result.error = f"HTTP {answer.status_code}"
            except requests.Timeout:
                result.status, result.error = None, "timed out"
            except requests.RequestException as exc:
                result.status, result.error = None, _reason(exc)
            if attempt < attempts:
                time.sleep(settings.INTEGRATIONS_HTTP_BACKOFF * 2 ** (attempt - 1))
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "NameResolutionError" in text:
        return "host not found"
    return text[:300]


def call(
    connection: Connection,
    *,
    operation: str,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    replay: dict[str, Any] | None = None,
    attempts: int | None = None,
) -> tuple[Response, Exchange]:
    """`request` and its entry in the connection's exchange log (OutboundRefused is logged as refused)."""
    exchanges_prune_sometimes(connection)
    entry = Exchange(
        connection=connection,
        direction=Exchange.Direction.OUTBOUND,
        operation=operation,
        request={"method": method, "url": _without_query(url), "bytes": len(body or b"")},
        replay=replay,
    )
    try:
        response = request(method, url, body=body, headers=headers, attempts=attempts)
    except OutboundRefused as exc:
        response = Response(status=None, error=str(exc))
        entry.status = Exchange.Status.REFUSED
    else:
        entry.status = Exchange.Status.OK if response.ok else Exchange.Status.FAILED
    entry.attempts = response.attempts
    entry.response = response.as_log()
    entry.error = "" if response.ok else response.error or f"HTTP {response.status}"
    entry.finished_at = timezone.now()
    entry.save()
    return response, entry


def _without_query(url: str) -> str:
    """The address as logged: a query string may carry a credential."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
