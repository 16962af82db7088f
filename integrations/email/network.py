"""IMAP and SMTP clients that keep the rule of integrations.core.http for mail servers: a host whose addresses
are loopback, private, link-local or reserved is not connected to unless INTEGRATIONS_ALLOW_PRIVATE_NETWORKS
allows it, and the address actually connected to is checked again on the socket (DNS rebinding)."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
from typing import Any

from integrations.core.http import OutboundRefused, address_allowed, host_check

SECURITY_SSL = "ssl"  # TLS from the first byte (IMAPS 993, SMTPS 465)
SECURITY_STARTTLS = "starttls"  # plain, then STARTTLS (IMAP 143, submission 587)
SECURITY_NONE = "none"  # no TLS at all (a local test server)


def connect(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to a checked host, its peer checked again."""
    host_check(host, port)
    sock = socket.create_connection((host, port), timeout)
    address = str(sock.getpeername()[0])
    if not address_allowed(address):
        sock.close()
        raise OutboundRefused(f"the address {address} is on a private or reserved network")
    return sock


def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class IMAP(imaplib.IMAP4):
    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return connect(self.host, self.port, timeout)


class IMAPSSL(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = connect(self.host, self.port, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def imap_open(*, host: str, port: int, security: str, timeout: float) -> imaplib.IMAP4:
    if security == SECURITY_SSL:
        return IMAPSSL(host, port, ssl_context=tls_context(), timeout=timeout)
    client = IMAP(host, port, timeout=timeout)
    if security == SECURITY_STARTTLS:
        client.starttls(ssl_context=tls_context())
    return client


class SMTP(smtplib.SMTP):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect(host, port, timeout)


class SMTPSSL(smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = connect(host, port, timeout)
        context: Any = self.context
        return context.wrap_socket(sock, server_hostname=host)


def smtp_open(*, host: str, port: int, security: str, timeout: float) -> smtplib.SMTP:
    if security == SECURITY_SSL:
        return SMTPSSL(host, port, timeout=timeout, context=tls_context())
    client = SMTP(host, port, timeout=timeout)
    if security == SECURITY_STARTTLS:
        client.starttls(context=tls_context())
    return client
