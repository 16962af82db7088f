"""The mailbox tests run against a real Dovecot (tests/fakes/dovecot.py) and a local SMTP server
(tests/fakes/smtp_server.py), both on 127.0.0.1: private networks are allowed for them."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from integrations.core.models import Connection
from integrations.core.services import connection_create
from platform_core.celery import app as celery_app
from tenants.accounts.models import User
from tests.fakes.dovecot import Dovecot, dovecot  # noqa: F401 - the fixture
from tests.fakes.smtp_server import FakeSMTP, smtp_server  # noqa: F401 - the fixture

PASSWORD = "imap-secret"
_boxes = itertools.count(1)


@pytest.fixture(autouse=True)
def _mail_settings(settings: Any, tmp_path: Path) -> None:
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True
    settings.EMAIL_TIMEOUT_SECONDS = 5.0
    settings.EMAIL_SEND_BACKOFF = 0.0
    settings.MEDIA_ROOT = str(tmp_path)
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks queued after the commit run at once, in the test."""
    was = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = was


@pytest.fixture
def smtp(smtp_server: FakeSMTP) -> Iterator[FakeSMTP]:  # noqa: F811
    smtp_server.reset()
    yield smtp_server
    smtp_server.reset()


@pytest.fixture
def box_address(dovecot: Dovecot) -> str:  # noqa: F811
    """A fresh mailbox on the Dovecot of the session."""
    address = f"sales{next(_boxes)}-{secrets.token_hex(3)}@kontor-test.example"
    dovecot.add_user(address, PASSWORD)
    return address


def mailbox_create(
    *,
    actor: User,
    dovecot: Dovecot,  # noqa: F811
    smtp: FakeSMTP | None,
    address: str,
    password: str = PASSWORD,
    shared: bool = True,
    owner: User | None = None,
) -> Connection:
    settings = {
        "address": address,
        "shared": shared,
        "owner": owner.pk if owner is not None else None,
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_security": "none",
        "imap_username": address,
        "sent_folder": "Sent",
        "smtp_host": smtp.host if smtp is not None else "127.0.0.1",
        "smtp_port": smtp.port if smtp is not None else 9,
        "smtp_security": "none",
        "smtp_username": "",
    }
    return connection_create(
        actor=actor, kind="email", name="Sales mailbox", settings=settings, secrets={"imap_password": password}
    ).connection


def mail(
    *,
    sender: str,
    to: str,
    subject: str = "Hello",
    body: str = "Hello there",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    cc: str | None = None,
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    if message_id:
        msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    msg.set_content(body)
    for name, data, content_type in files:
        maintype, subtype = content_type.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def bounce(*, daemon: str, to: str, failed: str, original_id: str, subject: str = "Proposal") -> bytes:
    """A delivery status notification (RFC 3464) as Postfix sends it."""
    return (
        f"From: Mail Delivery System <{daemon}>\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(timezone.now())}\r\n"
        f"Message-ID: <dsn-{secrets.token_hex(4)}@mx.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r\n'
        "\r\n"
        "--BOUNDARY\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n--BOUNDARY\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {failed}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected: User unknown\r\n"
        "\r\n--BOUNDARY\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: {to}\r\n"
        f"To: {failed}\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{original_id}>\r\n"
        "\r\n--BOUNDARY--\r\n"
    ).encode()
