"""A mailbox connection's work: reading its folders into the CRM (each message logged on its contacts' timelines
as the connection's identity, threads kept, attachments filed, bounces noted), sending from a card through SMTP
after the commit, and the email templates."""

from __future__ import annotations

import base64
import contextlib
import datetime
import imaplib
import logging
import re
import smtplib
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection as db
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.activities.models import Activity
from crm.activities.services import activity_create
from crm.companies.selectors import companies_visible_to
from crm.contacts.models import Contact
from crm.contacts.selectors import contacts_visible_to
from crm.core.types import RecordType
from crm.files.services import attachment_create
from integrations.core.http import OutboundRefused
from integrations.core.models import Connection, Exchange
from integrations.core.secrets import SecretsUnreadable
from integrations.core.services import connection_secrets, exchange_close, exchange_open, require_manager
from integrations.email import merge, parse
from integrations.email.models import EmailTemplate, FolderCursor, Message
from integrations.email.network import imap_open, smtp_open
from integrations.email.selectors import KIND, may_send_from
from tenants.access import workspace_read_only, workspace_write
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User

log = logging.getLogger(__name__)

SYNC = "email.sync"
SEND = "email.send"
INBOX = "INBOX"
# Contacts one message is logged on at most (a mail to a whole company's list is not copied fifty times).
CONTACTS_PER_MESSAGE = 10


@dataclass(frozen=True)
class Mailbox:
    address: str
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password: str
    sent_folder: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_password: str
    owner_id: int | None


def mailbox_of(conn: Connection) -> Mailbox:
    """The mailbox's settings and credentials (in clear: for the call that needs them)."""
    s, secrets = conn.settings, connection_secrets(conn)
    owner = s.get("owner")
    return Mailbox(
        address=str(s.get("address") or "").lower(),
        imap_host=str(s.get("imap_host") or ""),
        imap_port=int(s.get("imap_port") or 993),
        imap_security=str(s.get("imap_security") or "ssl"),
        imap_username=str(s.get("imap_username") or ""),
        imap_password=secrets.get("imap_password", ""),
        sent_folder=str(s.get("sent_folder") or ""),
        smtp_host=str(s.get("smtp_host") or ""),
        smtp_port=int(s.get("smtp_port") or 587),
        smtp_security=str(s.get("smtp_security") or "starttls"),
        smtp_username=str(s.get("smtp_username") or ""),
        smtp_password=secrets.get("smtp_password", ""),
        owner_id=owner if isinstance(owner, int) and not s.get("shared") else None,
    )


# --- reading the mailbox ------------------------------------------------------------------------------------


class LoginFailed(Exception):
    pass


def _imap_login(box: Mailbox) -> imaplib.IMAP4:
    client = imap_open(
        host=box.imap_host, port=box.imap_port, security=box.imap_security, timeout=settings.EMAIL_TIMEOUT_SECONDS
    )
    try:
        client.login(box.imap_username, box.imap_password)
    except imaplib.IMAP4.error as exc:
        _quietly(client.shutdown)
        raise LoginFailed(_text(exc)) from exc
    return client


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else exc
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return str(value)[:500] or type(exc).__name__


def _quietly(call: Any) -> None:
    """Close a connection that may be broken already."""
    with contextlib.suppress(Exception):
        call()


def connection_sync(conn: Connection, *, retry_of: Exchange | None = None) -> Exchange:
    """Read the new messages of INBOX and the sent folder into the CRM; one entry in the exchange log.

    Resumable and idempotent: each message is logged in its own transaction together with the folder's cursor
    (UIDVALIDITY, last UID), so a run that stops half-way goes on from there, and a message seen again (a new
    UIDVALIDITY, the same mail in two folders) is known by its Message-ID."""
    entry = exchange_open(
        conn, direction=Exchange.Direction.RUN, operation=SYNC, replay={"connection": conn.pk}, retry_of=retry_of
    )
    counts: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    if workspace_read_only():
        return exchange_close(entry, status=Exchange.Status.FAILED, error="the workspace is read-only")
    try:
        box = mailbox_of(conn)
        client = _imap_login(box)
    except LoginFailed as exc:
        return exchange_close(entry, status=Exchange.Status.FAILED, error=f"IMAP login failed: {exc}")
    except OutboundRefused as exc:
        return exchange_close(entry, status=Exchange.Status.REFUSED, error=str(exc))
    except SecretsUnreadable as exc:
        return exchange_close(entry, status=Exchange.Status.FAILED, error=str(exc))
    except (OSError, imaplib.IMAP4.error) as exc:
        return exchange_close(entry, status=Exchange.Status.FAILED, error=f"IMAP: {_text(exc)}")
    try:
        folders = [(INBOX, Message.Direction.INBOUND)]
        if box.sent_folder and box.sent_folder.upper() != INBOX:
            folders.append((box.sent_folder, Message.Direction.OUTBOUND))
        for folder, direction in folders:
            _folder_sync(conn, box, client, folder, direction, counts, problems)
    except Exception as exc:  # the server went away, or answered what imaplib cannot read: this run failed
        _quietly(client.shutdown)
        return exchange_close(
            entry, status=Exchange.Status.FAILED, counts=counts, problems=problems, error=f"IMAP: {_text(exc)}"
        )
    _quietly(client.logout)
    status = Exchange.Status.PARTIAL if problems else Exchange.Status.OK
    return exchange_close(entry, status=status, counts=counts, problems=problems)


def _quote(folder: str) -> str:
    """A folder's name as IMAP takes it: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    return '"' + imap_utf7(folder).replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_utf7(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + encoded.replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _folder_sync(
    conn: Connection,
    box: Mailbox,
    client: imaplib.IMAP4,
    folder: str,
    direction: str,
    counts: Counter[str],
    problems: list[dict[str, Any]],
) -> None:
    typ, _data = client.select(_quote(folder), readonly=True)
    if typ != "OK":
        problems.append({"record": folder, "error": "the folder cannot be opened"})
        return
    _typ, validity = client.response("UIDVALIDITY")
    uidvalidity = int(validity[0]) if validity and validity[0] else 0
    cursor, _created = FolderCursor.objects.get_or_create(connection=conn, folder=folder)
    if cursor.uidvalidity != uidvalidity:
        # The server numbered the folder anew: read it again (known Message-IDs are skipped).
        cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
        cursor.save(update_fields=["uidvalidity", "last_uid"])
    criteria = [f"UID {cursor.last_uid + 1}:*"]
    if cursor.last_uid == 0 and settings.EMAIL_SYNC_FIRST_DAYS > 0:
        since = timezone.now() - datetime.timedelta(days=settings.EMAIL_SYNC_FIRST_DAYS)
        criteria.append(f"SINCE {since.day:02d}-{_MONTHS[since.month - 1]}-{since.year}")  # whatever the locale
    typ, data = client.uid("SEARCH", *criteria)
    if typ != "OK":
        problems.append({"record": folder, "error": "the folder cannot be searched"})
        return
    # "n:*" names the last message even when its UID is below n: only UIDs above the cursor are new.
    uids = sorted(int(u) for u in (data[0] or b"").split() if u.isdigit() and int(u) > cursor.last_uid)
    for uid in uids[: settings.EMAIL_SYNC_BATCH]:
        raw, whole = _fetch(client, uid)
        try:
            with transaction.atomic():
                outcome = message_log(conn, box, raw, direction=direction, whole=whole) if raw else "empty"
                FolderCursor.objects.filter(pk=cursor.pk).update(last_uid=uid, synced_at=timezone.now())
            counts[outcome] += 1
        except Exception as exc:
            log.exception("email: message %s of %s in connection %s not logged", uid, folder, conn.pk)
            counts["failed"] += 1
            problems.append({"record": f"{folder} UID {uid}", "error": _text(exc)})
            # Past it: a message that cannot be logged must not stop the mailbox (it is in the log).
            FolderCursor.objects.filter(pk=cursor.pk).update(last_uid=uid, synced_at=timezone.now())
    if len(uids) > settings.EMAIL_SYNC_BATCH:
        counts["left"] += len(uids) - settings.EMAIL_SYNC_BATCH


_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _fetch(client: imaplib.IMAP4, uid: int) -> tuple[bytes, bool]:
    """The message (whole), or only its header when it is larger than EMAIL_MAX_MESSAGE_BYTES."""
    typ, data = client.uid("FETCH", str(uid), "(RFC822.SIZE)")
    size = 0
    for item in data or []:
        line = item[0] if isinstance(item, tuple) else item
        if isinstance(line, bytes) and (match := _SIZE.search(line)):
            size = int(match.group(1))
    whole = size <= settings.EMAIL_MAX_MESSAGE_BYTES
    typ, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])" if whole else "(BODY.PEEK[HEADER])")
    if typ != "OK":
        return b"", whole
    for item in data or []:
        if isinstance(item, tuple) and len(item) > 1 and isinstance(item[1], bytes):
            return item[1], whole
    return b"", whole


def _contacts_by_address(identity: User, addresses: list[str]) -> list[Contact]:
    """The contacts having one of `addresses`, in the order of the addresses."""
    if not addresses:
        return []
    found = list(
        contacts_visible_to(identity).filter(emails__overlap=addresses).select_related("company").order_by("id")[:50]
    )
    rank = {a: i for i, a in enumerate(addresses)}
    return sorted(found, key=lambda c: min((rank[e] for e in c.emails if e in rank), default=len(rank)))


def _thread_of(conn: Connection, own: str, in_reply_to: list[str], references: list[str]) -> str:
    parents = in_reply_to + references[::-1]
    if parents:
        known = dict(
            Message.objects.filter(connection=conn, message_id__in=parents).values_list("message_id", "thread")
        )
        for parent in parents:
            if parent in known:
                return known[parent]
    if references:
        return references[0]
    return in_reply_to[0] if in_reply_to else own


def message_log(conn: Connection, box: Mailbox, raw: bytes, *, direction: str, whole: bool = True) -> str:
    """Log one message read from the mailbox; returns what became of it ("logged", "duplicate", "unknown",
    "bounce"). Runs inside the caller's transaction."""
    msg = parse.parse(raw)
    mid = parse.message_id(msg, raw)
    if Message.objects.filter(connection=conn, message_id=mid).exists():
        return "duplicate"
    if parse.is_bounce(msg):
        _bounce_log(conn, msg, mid)
        return "bounce"
    sender = parse.addresses(msg, "From")
    to, cc = parse.addresses(msg, "To"), parse.addresses(msg, "Cc")
    if sender and sender[0] == box.address:
        direction = Message.Direction.OUTBOUND
    others = [a for a in dict.fromkeys(sender + to + cc) if a != box.address]
    contacts = _contacts_by_address(conn.identity, others)[:CONTACTS_PER_MESSAGE]
    if not contacts:
        return "unknown"
    in_reply_to = [parse.clean(i, parse.ID_MAX) for i in parse.ids_in(parse.header(msg, "In-Reply-To"))]
    references = [parse.clean(i, parse.ID_MAX) for i in parse.ids_in(parse.header(msg, "References"))]
    subject = parse.subject(msg)
    text = parse.body_text(msg, settings.EMAIL_BODY_MAX_CHARS) if whole else ""
    activities = [
        _activity_log(
            conn,
            contact,
            direction=direction,
            subject=subject,
            text=text,
            sender=", ".join(sender),
            recipients=", ".join(to + cc),
            assignee=box.owner_id,
        )
        for contact in contacts
    ]
    if whole:
        for found in parse.attachments(
            msg, max_bytes=min(settings.EMAIL_ATTACHMENT_MAX_BYTES, settings.MAX_UPLOAD_BYTES)
        ):
            if found.data is None:
                continue
            upload = SimpleUploadedFile(found.name, found.data, content_type=found.content_type)
            attachment_create(actor=conn.identity, record=contacts[0], upload=upload)
    Message.objects.create(
        connection=conn,
        message_id=mid,
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=references,
        thread=_thread_of(conn, mid, in_reply_to, references),
        direction=direction,
        from_address=sender[0] if sender else "",
        to_addresses=to[:50],
        cc_addresses=cc[:50],
        subject=subject,
        date=parse.date(msg),
        activity=activities[0],
        contact_ids=[c.pk for c in contacts],
    )
    return "logged"


def _activity_log(
    conn: Connection,
    contact: Contact,
    *,
    direction: str,
    subject: str,
    text: str,
    sender: str,
    recipients: str,
    assignee: int | None,
) -> Activity:
    data: dict[str, Any] = {
        "kind": Activity.Kind.EMAIL,
        "subject": subject or _("(no subject)"),
        "body": text,
        "contact": contact.pk,
        "call_direction": direction,
        "email_from": sender[:320],
        "email_to": recipients[:4000],
    }
    if assignee is not None:
        data["assignee"] = assignee
    elif contact.owner_id is not None:
        data["assignee"] = contact.owner_id
    return activity_create(actor=conn.identity, data=data)


def _bounce_log(conn: Connection, msg: EmailMessage, mid: str) -> None:
    """A delivery status report: the original message is marked bounced and a note goes on its contacts."""
    report = parse.bounce_of(msg)
    Message.objects.create(
        connection=conn,
        message_id=mid,
        thread=mid,
        direction=Message.Direction.INBOUND,
        from_address=(parse.addresses(msg, "From") or [""])[0],
        subject=parse.subject(msg),
        date=parse.date(msg),
        is_report=True,
    )
    if report is None:
        return
    originals = list(Message.objects.filter(connection=conn, message_id__in=report.original_ids, is_report=False))
    if not originals and report.recipients:
        latest = (
            Message.objects.filter(
                connection=conn,
                direction=Message.Direction.OUTBOUND,
                to_addresses__overlap=report.recipients,
                is_report=False,
            )
            .order_by("-id")
            .first()
        )
        originals = [latest] if latest is not None else []
    for original in originals:
        if not original.bounced:
            original.bounced = True
            original.save(update_fields=["bounced"])
        recipients = ", ".join(report.recipients or original.to_addresses)
        body = _("Not delivered to: %(to)s") % {"to": recipients}
        if report.diagnostic:
            body += "\n" + report.diagnostic
        for contact_id in original.contact_ids[:CONTACTS_PER_MESSAGE]:
            activity_create(
                actor=conn.identity,
                data={
                    "kind": Activity.Kind.NOTE,
                    "subject": (_("Email not delivered: %(subject)s") % {"subject": original.subject})[:255],
                    "body": body,
                    "contact": contact_id,
                },
            )


# --- sending from a card ------------------------------------------------------------------------------------


def merge_values(*, actor: User, contact: Contact, to: str, address: str) -> dict[str, Any]:
    """The merge fields for this person writing to this contact: what the person may see, nothing more."""
    values = merge.merge_context(contact=contact, user=actor, address=address, to=to)
    hidden = policy.hidden_fields(actor, RecordType.CONTACT)
    for name in ("first_name", "last_name", "position"):
        if policy.is_hidden(hidden, RecordType.CONTACT, name):
            values["contact"][name] = ""
    values["contact"]["full_name"] = " ".join(
        p for p in (values["contact"]["first_name"], values["contact"]["last_name"]) if p
    )
    if contact.company_id and not companies_visible_to(actor).filter(pk=contact.company_id).exists():
        values["company"]["name"] = ""
    return values


@workspace_write
def message_compose(
    *, actor: User, connection: Connection, contact: Contact, to: str, subject: str, body: str
) -> Message:
    """An email written on a contact's card: kept as queued, sent through SMTP once this commits (tasks.send),
    then logged on the contact's timeline. The writer must see the contact and its addresses, may log activities,
    and may send from the mailbox (a shared one, or their own)."""
    policy.require(actor, policy.Action.CREATE, RecordType.ACTIVITY)
    if not may_send_from(actor, connection):
        raise PermissionDenied
    if not contacts_visible_to(actor).filter(pk=contact.pk).exists():
        raise ValidationError({"to": [_("There is no such contact.")]})
    if policy.hides(actor, RecordType.CONTACT, "emails") or to not in contact.emails:
        raise ValidationError({"to": [_("Choose one of the contact's addresses.")]})
    box_address = str(connection.settings.get("address") or "")
    values = merge_values(actor=actor, contact=contact, to=to, address=box_address)
    rendered_subject = parse.clean(" ".join(merge.render(subject, values).split()), 255)
    rendered_body = parse.clean(merge.render(body, values), settings.EMAIL_BODY_MAX_CHARS * 10)
    if not rendered_subject:
        raise ValidationError({"subject": [_("The subject is empty once the merge fields are filled in.")]})
    domain = box_address.rpartition("@")[2] or "kontor.invalid"
    mid = make_msgid(domain=domain).strip("<>")
    message = Message.objects.create(
        connection=connection,
        message_id=mid,
        thread=mid,
        direction=Message.Direction.OUTBOUND,
        state=Message.State.QUEUED,
        from_address=box_address,
        to_addresses=[to],
        subject=rendered_subject,
        date=timezone.now(),
        contact_ids=[contact.pk],
        sender=actor,
        body=rendered_body,
    )
    from integrations.email import tasks

    transaction.on_commit(lambda: tasks.send.delay(message.pk))
    return message


class SendLater(Exception):
    """SMTP failed in a way worth trying again (a connection lost, a 4xx answer)."""


def _smtp_message(message: Message, box: Mailbox) -> EmailMessage:
    email = EmailMessage()
    name = message.sender.get_full_name() if message.sender is not None else message.connection.name
    email["From"] = formataddr((name, box.address))
    email["To"] = ", ".join(message.to_addresses)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.date or timezone.now())
    email["Message-ID"] = f"<{message.message_id}>"
    if message.in_reply_to:
        email["In-Reply-To"] = f"<{message.in_reply_to}>"
    email.set_content(message.body)
    return email


def message_deliver(message_id: int, *, final: bool, retry_of: Exchange | None = None) -> Exchange | None:
    """Send a queued message through the mailbox's SMTP server; log the attempt. On success the email is logged
    on the contact's timeline; a failure worth trying again raises SendLater unless `final`, when the message
    is marked not sent (retryable from the exchange log)."""
    message = (
        Message.objects.select_related("connection", "connection__identity", "sender")
        .filter(pk=message_id, connection__kind=KIND)
        .first()
    )
    if message is None or message.state != Message.State.QUEUED:
        return None
    conn = message.connection
    entry = exchange_open(
        conn,
        direction=Exchange.Direction.OUTBOUND,
        operation=SEND,
        request={"to": message.to_addresses, "subject": message.subject, "message_id": message.message_id},
        replay={"message": message.pk},
        retry_of=retry_of,
    )
    entry.attempts = 1
    later = False
    if not conn.is_active:
        return _send_failed(message, entry, "the connection is off")
    if workspace_read_only():
        return _send_failed(message, entry, "the workspace is read-only")
    try:
        box = mailbox_of(conn)
        client = smtp_open(
            host=box.smtp_host,
            port=box.smtp_port,
            security=box.smtp_security,
            timeout=settings.EMAIL_TIMEOUT_SECONDS,
        )
        try:
            if box.smtp_username:
                client.login(box.smtp_username, box.smtp_password)
            client.send_message(_smtp_message(message, box))
        finally:
            _quietly(client.quit)
    except OutboundRefused as exc:
        return _send_failed(message, entry, str(exc), status=Exchange.Status.REFUSED)
    except smtplib.SMTPResponseException as exc:
        answer = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        error = f"SMTP {exc.smtp_code}: {answer[:500]}"
        later = 400 <= exc.smtp_code < 500
        if later and not final:
            _send_failed(message, entry, error, keep_queued=True)
            raise SendLater(error) from exc
        return _send_failed(message, entry, error)
    except smtplib.SMTPRecipientsRefused as exc:
        return _send_failed(message, entry, f"SMTP refused the recipients: {exc.recipients}")
    except (OSError, smtplib.SMTPException) as exc:
        error = f"SMTP: {_text(exc)}"
        if not final:
            _send_failed(message, entry, error, keep_queued=True)
            raise SendLater(error) from exc
        return _send_failed(message, entry, error)
    except SecretsUnreadable as exc:
        return _send_failed(message, entry, str(exc))
    # Sent: marked so at once, whatever happens next, so that nothing sends it twice.
    Message.objects.filter(pk=message.pk).update(state=Message.State.SENT, sent_at=timezone.now(), error="")
    # The contact written to (gone since: the email is sent all the same, logged nowhere).
    contact = Contact.objects.filter(pk__in=message.contact_ids[:1]).first()
    error = ""
    try:
        with transaction.atomic():
            if contact is not None:
                activity = _activity_log(
                    conn,
                    contact,
                    direction=Message.Direction.OUTBOUND,
                    subject=message.subject,
                    text=message.body[: settings.EMAIL_BODY_MAX_CHARS],
                    sender=message.from_address,
                    recipients=", ".join(message.to_addresses),
                    assignee=message.sender_id,
                )
                Message.objects.filter(pk=message.pk).update(activity=activity)
    except Exception as exc:  # sent all the same: the log says why it is not on the card
        log.exception("email: message %s sent but not logged on the card", message.pk)
        error = f"sent, not logged on the card: {_text(exc)}"
    entry.replay = None
    Exchange.objects.filter(pk=entry.pk).update(replay=None)
    return exchange_close(entry, status=Exchange.Status.OK, counts={"sent": 1}, error=error, response={"sent": True})


def _send_failed(
    message: Message, entry: Exchange, error: str, *, status: str = Exchange.Status.FAILED, keep_queued: bool = False
) -> Exchange:
    if keep_queued:
        # The task tries again by itself: this attempt is not the one to retry from the log.
        Exchange.objects.filter(pk=entry.pk).update(replay=None)
        entry.replay = None
    else:
        Message.objects.filter(pk=message.pk).update(state=Message.State.FAILED, error=error[:4000])
    return exchange_close(entry, status=status, error=error, counts={"sent": 0})


def send_retry(exchange: Exchange, actor: User) -> Exchange:
    """Retry from the exchange log: the message is queued again and sent now."""
    require_manager(actor)
    pk = (exchange.replay or {}).get("message")
    message = Message.objects.filter(pk=pk, connection=exchange.connection).first() if isinstance(pk, int) else None
    if message is None or message.state == Message.State.SENT:
        raise ValidationError(_("This exchange cannot be retried."))
    Message.objects.filter(pk=message.pk).update(state=Message.State.QUEUED, error="")
    again = message_deliver(message.pk, final=True, retry_of=exchange)
    if again is None:
        raise ValidationError(_("This exchange cannot be retried."))
    return again


def sync_retry(exchange: Exchange, actor: User) -> Exchange:
    require_manager(actor)
    return connection_sync(exchange.connection, retry_of=exchange)


# --- templates -----------------------------------------------------------------------------------------------


def _template_check(template: EmailTemplate) -> None:
    for name in ("subject", "body"):
        try:
            merge.template_check(getattr(template, name))
        except ValidationError as exc:
            raise ValidationError({name: exc.messages}) from exc
    template.full_clean()


@workspace_write
def template_create(*, actor: User, name: str, subject: str, body: str) -> EmailTemplate:
    require_manager(actor)
    template = EmailTemplate(name=name.strip(), subject=subject, body=body, created_by=actor)
    _template_check(template)
    template.save()
    audit_record(
        actor=actor, action=AuditEvent.Action.INTEGRATION_CHANGED, target=template, details={"what": ["template"]}
    )
    return template


@workspace_write
def template_update(*, actor: User, template: EmailTemplate, name: str, subject: str, body: str) -> EmailTemplate:
    require_manager(actor)
    template = EmailTemplate.objects.select_for_update().get(pk=template.pk)
    template.name, template.subject, template.body = name.strip(), subject, body
    template.updated_at = timezone.now()
    _template_check(template)
    template.save()
    audit_record(
        actor=actor, action=AuditEvent.Action.INTEGRATION_CHANGED, target=template, details={"what": ["template"]}
    )
    return template


@workspace_write
def template_delete(*, actor: User, template: EmailTemplate) -> None:
    require_manager(actor)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.INTEGRATION_CHANGED,
        target=template,
        details={"what": ["template deleted"]},
    )
    template.delete()


def schema() -> str:
    return str(db.schema_name)  # type: ignore[attr-defined]


def on_connection_create(conn: Connection) -> None:
    """A new mailbox is read as soon as it is saved, then every EMAIL_SYNC_SECONDS."""
    from integrations.email import schedule

    current, pk = schema(), conn.pk
    transaction.on_commit(lambda: schedule.plan(current, pk, delay=0))
