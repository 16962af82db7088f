"""Writes for telephony. A call reported by a PBX is kept once per PBX id (a repeated event never makes a second
call, activity, task or lead); when it ends it is logged in the CRM as the connection's identity, through the
CRM's own services: a call activity on the contact or company with that number (else on a lead made for the
number), assigned to the person of the extension (else the record's owner), and for a missed inbound call a
"Call back" task for the owner. Click-to-call asks the PBX to ring the person's extension and then the number.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection as db
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.activities.models import Activity
from crm.activities.services import activity_create, activity_update
from crm.core.phones import normalize_phone
from crm.leads.services import lead_create
from integrations.core import http
from integrations.core.models import Connection, Exchange
from integrations.core.services import connection_secrets, exchange_close, exchange_open
from integrations.telephony import ami, selectors, zadarma
from integrations.telephony.calls import INBOUND, MISSED, CallData
from integrations.telephony.kinds import ASTERISK, CALL_OPERATION, ZADARMA
from integrations.telephony.models import Call
from tenants.access import workspace_write
from tenants.accounts.models import User

# --- numbers ---------------------------------------------------------------------------------------------------


def region_of(conn: Connection) -> str:
    return str(conn.settings.get("region") or settings.DEFAULT_PHONE_REGION)


def e164(raw: str, region: str) -> str:
    """The number in E.164, or "" for a hidden number, an extension or anything that is not a phone number."""
    text = (raw or "").strip()[:40]
    if sum(c.isdigit() for c in text) < 5:
        return ""
    # A local number first (phonenumbers also takes the region's own country code without its plus, as PBXs
    # send it: "79161234567" in RU); then digits alone as an international number without its plus.
    for candidate, in_region in ((text, region), ("+" + text, None)):
        if in_region is None and not (text.isdigit() and len(text) > 10):
            break
        try:
            return normalize_phone(candidate, region=in_region)
        except ValidationError:
            continue
    return ""


def dial_string(number: str, *, style: str) -> str:
    """How the PBX is asked to dial an E.164 number: as is, digits only, or in the national format."""
    if style == "digits":
        return number.lstrip("+")
    if style == "national":
        parsed = phonenumbers.parse(number)
        return "".join(
            c for c in phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL) if c.isdigit()
        )
    return number


# --- logging a call --------------------------------------------------------------------------------------------


@dataclass
class Logged:
    call: Call
    counts: dict[str, int] = field(default_factory=dict)


def _person_of_extension(conn: Connection, extension: str) -> User | None:
    if not extension:
        return None
    return selectors.person((conn.settings.get("extensions") or {}).get(extension))


@workspace_write
def call_log(*, connection: Connection, data: CallData) -> Logged:
    """Record what the PBX said about a call; once it has ended, log it in the CRM (once)."""
    conn = connection
    region = region_of(conn)
    phone = e164(data.external, region)
    line = e164(data.line, region) or data.line[:40]
    external = phone or data.external[:40]
    inbound = data.direction == INBOUND
    values: dict[str, Any] = {
        "direction": data.direction,
        "from_number": external if inbound else (line or data.extension[:40]),
        "to_number": (line or data.extension[:40]) if inbound else external,
        "phone": phone,
        "extension": data.extension[:32],
        "user": _person_of_extension(conn, data.extension),
        "started_at": data.started_at or timezone.now(),
    }
    call, _created = Call.objects.get_or_create(connection=conn, pbx_call_id=data.pbx_call_id[:128], defaults=values)
    call = Call.objects.select_for_update().get(pk=call.pk)
    logged = Logged(call=call)
    if call.logged_at is not None:
        if data.recording_url and not call.recording_url:
            _recording_attach(conn, call, data.recording_url)
            logged.counts["recordings"] = 1
        return logged
    for name, value in values.items():
        if name == "started_at":
            value = min(value, call.started_at)
        if value or name not in ("extension", "user"):  # an end without the extension keeps the start's
            setattr(call, name, value)
    if not data.ended:
        call.save()
        return logged
    call.answered_at, call.ended_at = data.answered_at, data.ended_at or timezone.now()
    call.duration_seconds, call.result = max(0, data.duration), data.result
    call.recording_url = data.recording_url[:1000]
    call.full_clean(exclude=["connection", "user", "contact", "company", "lead", "activity", "task"])
    _crm_log(conn, call, logged)
    call.logged_at = timezone.now()
    call.save()
    return logged


def _crm_log(conn: Connection, call: Call, logged: Logged) -> None:
    identity = conn.identity
    if not call.phone:
        return  # a hidden number: nothing to file it under, nobody to call back
    match = selectors.records_of_number(identity, call.phone)
    record = match.contact or match.company or match.lead
    default_owner = selectors.person(conn.settings.get("default_owner"))
    owner = getattr(record, "owner", None) if record is not None else None
    lead = match.lead
    if record is None:
        owner = call.user or default_owner
        lead = lead_create(
            actor=identity,
            data={
                "title": _("Call from %(number)s") % {"number": call.phone},
                "phone": call.phone,
                "source": conn.name[:100],
                **({"owner": owner.pk} if owner is not None else {}),
            },
        )
        logged.counts["leads"] = 1
    links: dict[str, Any] = {}
    if match.contact is not None:
        links["contact"] = match.contact.pk
    if match.company is not None:
        links["company"] = match.company.pk
    if lead is not None and match.contact is None and match.company is None:
        links["lead"] = lead.pk
    assignee = call.user or owner or default_owner
    inbound = call.direction == Call.Direction.INBOUND
    subject = (_("Call from %(number)s") if inbound else _("Call to %(number)s")) % {"number": call.phone}
    activity = activity_create(
        actor=identity,
        data={
            "kind": Activity.Kind.CALL,
            "subject": subject,
            "body": _call_body(call),
            "result": str(Call.Result(call.result).label),
            "call_direction": call.direction,
            "call_phone": call.phone,
            "call_duration_seconds": call.duration_seconds,
            "duration_minutes": math.ceil(call.duration_seconds / 60) if call.duration_seconds else None,
            "due_at": call.started_at,
            "is_done": True,
            "assignee": assignee.pk if assignee is not None else None,
            **links,
        },
    )
    call.activity = activity
    call.contact, call.company, call.lead = match.contact, match.company, lead
    logged.counts["activities"] = 1
    if inbound and call.result == MISSED:
        callee = owner or default_owner or call.user
        when = timezone.localtime(call.started_at).strftime("%Y-%m-%d %H:%M")
        call.task = activity_create(
            actor=identity,
            data={
                "kind": Activity.Kind.TASK,
                "subject": _("Call back"),
                "body": _("Missed call from %(number)s at %(time)s.") % {"number": call.phone, "time": when},
                "call_phone": call.phone,
                "due_at": timezone.now(),
                "assignee": callee.pk if callee is not None else None,
                **links,
            },
        )
        logged.counts["tasks"] = 1


def _call_body(call: Call) -> str:
    lines = [
        _("Result: %(result)s. Duration: %(seconds)s s.")
        % {"result": Call.Result(call.result).label, "seconds": call.duration_seconds}
    ]
    if call.recording_url:
        lines.append(_("Recording: %(url)s") % {"url": call.recording_url})
    return "\n".join(lines)


def _recording_attach(conn: Connection, call: Call, url: str) -> None:
    call.recording_url = url[:1000]
    call.save(update_fields=["recording_url"])
    activity = Activity.objects.filter(pk=call.activity_id).first() if call.activity_id else None
    if activity is not None:
        activity_update(actor=conn.identity, activity=activity, data={"body": _call_body(call)})


@workspace_write
def call_recording_set(*, connection: Connection, pbx_call_id: str, url: str) -> Call | None:
    """The recording of a logged call (a link arriving after the call): on the call and in its activity."""
    call = Call.objects.select_for_update().filter(connection=connection, pbx_call_id=pbx_call_id[:128]).first()
    if call is None or call.recording_url == url[:1000]:
        return call
    _recording_attach(connection, call, url)
    return call


def call_handle(
    conn: Connection, data: CallData, *, request: dict[str, Any] | None = None, retry_of: Exchange | None = None
) -> Exchange:
    """call_log with its entry in the exchange log; a failure is logged with what a retry runs again. One
    transaction (one commit per event): the log entry stays when call_log's own savepoint is rolled back."""
    with transaction.atomic():
        entry = exchange_open(
            conn,
            direction=Exchange.Direction.INBOUND,
            operation=CALL_OPERATION,
            request={"call": data.pbx_call_id, "direction": data.direction, "result": data.result, **(request or {})},
            replay={"call": data.as_json()},
            retry_of=retry_of,
        )
        try:
            logged = call_log(connection=conn, data=data)
        except (ValidationError, PermissionDenied) as exc:
            return exchange_close(entry, status=Exchange.Status.FAILED, error="; ".join(_messages(exc)))
        return exchange_close(entry, status=Exchange.Status.OK, counts=logged.counts)


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
        return list(exc.messages)
    return [str(exc)]


def call_log_retry(exchange: Exchange, actor: User) -> Exchange:
    data = CallData.from_json(dict((exchange.replay or {})["call"]))
    return call_handle(exchange.connection, data, retry_of=exchange)


# --- click-to-call ---------------------------------------------------------------------------------------------


class CallRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def call_place(*, actor: User, phone: str) -> Exchange:
    """Ask the PBX to ring `actor`'s extension, then `phone` (E.164). CallRefused (4xx/5xx) says why not."""
    line = selectors.line_of(actor)
    if line is None:
        raise CallRefused(409, _("You have no extension in a telephony connection."))
    conn = line.connection
    try:
        secrets = connection_secrets(conn)
    except Exception:
        raise CallRefused(502, _("The PBX could not be asked to place the call.")) from None
    if conn.kind == ASTERISK:
        entry = _originate(conn, secrets, line.extension, phone, actor)
    elif conn.kind == ZADARMA:
        entry = _callback(conn, secrets, line.extension, phone)
    else:  # pragma: no cover - line_of finds telephony kinds only
        raise CallRefused(409, _("You have no extension in a telephony connection."))
    if entry.status != Exchange.Status.OK:
        raise CallRefused(502, _("The PBX could not be asked to place the call."))
    return entry


def _originate(conn: Connection, secrets: dict[str, str], extension: str, phone: str, actor: User) -> Exchange:
    s = conn.settings
    fields = {
        "Channel": str(s.get("channel") or "PJSIP/{extension}").replace("{extension}", extension),
        "Context": str(s.get("context") or "from-internal"),
        "Exten": dial_string(phone, style=str(s.get("dial_format") or "e164")),
        "Priority": "1",
        "CallerID": f"{actor.full_name[:60]} <{extension}>",
        "Timeout": "30000",
        "Async": "true",
    }
    entry = exchange_open(
        conn,
        direction=Exchange.Direction.OUTBOUND,
        operation="telephony.originate",
        request={k: fields[k] for k in ("Channel", "Context", "Exten")},
    )
    try:
        settings_ = ami.AmiSettings(
            host=str(s.get("host") or ""),
            port=int(s.get("port") or 5038),
            username=str(s.get("username") or ""),
            secret=secrets.get("secret", ""),
            connect_timeout=settings.TELEPHONY_AMI_CONNECT_TIMEOUT,
        )
        answer = ami.originate(settings_, fields, timeout=settings.TELEPHONY_AMI_CONNECT_TIMEOUT)
    except (OSError, ami.AmiError, http.OutboundRefused, ValueError) as exc:
        status = Exchange.Status.REFUSED if isinstance(exc, http.OutboundRefused) else Exchange.Status.FAILED
        return exchange_close(entry, status=status, error=str(exc) or type(exc).__name__)
    ok = answer.get("Response", "").lower() == "success"
    return exchange_close(
        entry,
        status=Exchange.Status.OK if ok else Exchange.Status.FAILED,
        error="" if ok else answer.get("Message", "refused")[:500],
        response={"Response": answer.get("Response", ""), "Message": answer.get("Message", "")[:500]},
    )


def _callback(conn: Connection, secrets: dict[str, str], extension: str, phone: str) -> Exchange:
    url, body, headers = zadarma.api_request(
        secrets.get("api_key", ""),
        secrets.get("api_secret", ""),
        "/v1/request/callback/",
        {"from": extension, "to": phone.lstrip("+")},
    )
    response, entry = http.call(
        conn, operation="telephony.callback", method="POST", url=url, body=body, headers=headers, attempts=1
    )
    if response.ok and zadarma.api_answer(response.body).get("status") != "success":
        entry.status, entry.error = (
            Exchange.Status.FAILED,
            str(zadarma.api_answer(response.body).get("message", "refused"))[:500],
        )
        entry.save(update_fields=["status", "error"])
    return entry


def recording_fetch(conn: Connection, call_id_with_rec: str) -> str:
    """The link to a Zadarma recording (its API's /v1/pbx/record/request/), "" when not given."""
    secrets = connection_secrets(conn)
    url, headers = zadarma.api_get(
        secrets.get("api_key", ""),
        secrets.get("api_secret", ""),
        "/v1/pbx/record/request/",
        {"call_id": call_id_with_rec},
    )
    response, _entry = http.call(conn, operation="telephony.recording", method="GET", url=url, headers=headers)
    answer = zadarma.api_answer(response.body) if response.ok else {}
    link: object = answer.get("link") or ""
    links = answer.get("links")
    if not link and isinstance(links, list) and links:
        link = links[0]
    link = str(link)
    return link if link.startswith(("https://", "http://")) else ""


def workspace_zone() -> datetime.tzinfo:
    return zadarma.zone(str(getattr(db.tenant, "time_zone", "") or "UTC"))  # type: ignore[attr-defined]
