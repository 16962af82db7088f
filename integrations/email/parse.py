"""Reading a message (stdlib `email`, policy.default): its ids, addresses, text, attachments, and whether it is a
delivery status report about another message (a bounce). Nothing here touches the database."""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from django.utils.html import strip_tags

_ID = re.compile(r"<([^<>\s]{1,990})>")
_BAD = re.compile("[\x00\ud800-\udfff]")
ID_MAX = 990
DAEMONS = ("mailer-daemon", "postmaster")


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def clean(text: str, limit: int) -> str:
    """Text a database column takes: no NUL, no lone surrogate, at most `limit` characters."""
    return _BAD.sub("", text)[:limit]


def header(msg: Message, name: str) -> str:
    """A header's value as text, or "" when it is missing or cannot be read."""
    try:
        value = msg.get(name)
    except Exception:  # a malformed header is the sender's problem, never the sync's
        return ""
    return "" if value is None else str(value)


def ids_in(value: str) -> list[str]:
    """The Message-IDs in a header (In-Reply-To, References), without their angle brackets."""
    return _ID.findall(value)[:50]


def message_id(msg: Message, raw: bytes) -> str:
    found = ids_in(header(msg, "Message-ID"))
    if found:
        return clean(found[0], ID_MAX)
    # No Message-ID (some old tools): one made from the content, the same every time the message is read.
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid"


def addresses(msg: Message, *names: str) -> list[str]:
    """The addresses in these headers, lower-cased, each once, in order."""
    values = []
    for name in names:
        try:
            values += [str(v) for v in msg.get_all(name, [])]
        except Exception:  # noqa: S112 - a header that cannot be read names nobody
            continue
    found: dict[str, None] = {}
    for _name, address in getaddresses(values):
        address = clean(address.strip().lower(), 320)
        if "@" in address:
            found[address] = None
    return list(found)


def subject(msg: Message) -> str:
    return clean(" ".join(header(msg, "Subject").split()), 255)


def date(msg: Message) -> datetime.datetime | None:
    try:
        value = parsedate_to_datetime(header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


def body_text(msg: EmailMessage, limit: int) -> str:
    """The message's text (its plain part, else its HTML part without tags), at most `limit` characters."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
    except Exception:
        return ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = strip_tags(content)
    text = re.sub(r"\n{3,}", "\n\n", content.replace("\r\n", "\n")).strip()
    return clean(text, limit)


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes | None  # None: larger than the cap (only its size is known)
    size: int


def attachments(msg: EmailMessage, *, max_bytes: int) -> Iterator[Attachment]:
    """The files attached to the message (not the inline parts of its body)."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and not (disposition is None and filename):
            continue
        try:
            data = part.get_payload(decode=True)
        except Exception:  # noqa: S112 - a part that cannot be decoded is not filed
            continue
        if not isinstance(data, bytes) or not data:
            continue
        name = clean(filename or "attachment", 255) or "attachment"
        yield Attachment(name, part.get_content_type(), data if len(data) <= max_bytes else None, len(data))


# --- bounces ------------------------------------------------------------------------------------------------


@dataclass
class Bounce:
    original_ids: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    diagnostic: str = ""


def is_bounce(msg: Message) -> bool:
    """A delivery status report (multipart/report; report-type=delivery-status), or mail from MAILER-DAEMON."""
    if msg.get_content_type() == "multipart/report":
        return str(msg.get_param("report-type", "")).lower() == "delivery-status"
    sender = addresses(msg, "From")
    return bool(sender) and sender[0].split("@", 1)[0] in DAEMONS


def bounce_of(msg: EmailMessage) -> Bounce | None:
    """What the report says failed: the original message's id, the recipients, the reason. None: a report that
    says nothing failed (e.g. only "delayed")."""
    found = Bounce()
    failed_seen, status_seen = False, False
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            status_seen = True
            for block in _status_blocks(part):
                action = block.get("action", "").lower()
                if action != "failed":
                    continue
                failed_seen = True
                recipient = block.get("final-recipient") or block.get("original-recipient") or ""
                address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
                if "@" in address:
                    found.recipients.append(clean(address, 320))
                reason = block.get("diagnostic-code") or block.get("status") or ""
                if reason and not found.diagnostic:
                    found.diagnostic = clean(reason.split(";", 1)[-1].strip(), 500)
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            found.original_ids += _ids_of_returned(part)
    if status_seen and not failed_seen:
        return None
    if not found.original_ids:
        found.original_ids = ids_in(header(msg, "In-Reply-To")) + ids_in(header(msg, "References"))
    found.original_ids = list(dict.fromkeys(clean(i, ID_MAX) for i in found.original_ids))
    return found


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient field blocks of a message/delivery-status part."""
    blocks: list[dict[str, str]] = []
    payload = part.get_payload()
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({str(k).lower(): str(v) for k, v in block.items()})
        return blocks
    text = payload if isinstance(payload, str) else ""
    for chunk in re.split(r"\r?\n\r?\n", text):
        fields = {}
        for line in chunk.splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _ids_of_returned(part: Message) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return ids_in(header(payload[0], "Message-ID"))
    text = payload if isinstance(payload, str) else ""
    match = re.search(r"^message-id:\s*(.+)$", text, re.IGNORECASE | re.MULTILINE)
    return ids_in(match.group(1)) if match else []
