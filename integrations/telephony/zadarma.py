"""Zadarma's cloud PBX: its call notifications (form-encoded POSTs signed in a `Signature` header) and its API
(requests signed in an `Authorization` header), as Zadarma documents them.

- A notification's signature is base64 of the hex HMAC-SHA1, under the API secret, of fields that depend on
  the event (`SIGNED_FIELDS`); Zadarma first checks the address with a GET carrying `zd_echo`, answered with
  its value.
- An API request's is base64 of the hex HMAC-SHA1 of method path + the sorted query string + md5 of that
  string; the header is "<key>:<signature>".
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import zoneinfo
from collections.abc import Mapping
from urllib.parse import urlencode

from django.conf import settings

from integrations.telephony.calls import ANSWERED, BUSY, FAILED, INBOUND, MISSED, OUTBOUND, CallData

# event -> the fields whose values, concatenated, are signed.
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}
HANDLED = ("NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_END", "NOTIFY_OUT_START", "NOTIFY_OUT_END", "NOTIFY_RECORD")
_DISPOSITION = {"answered": ANSWERED, "busy": BUSY, "cancel": MISSED, "no answer": MISSED}


class BadNotification(ValueError):
    """A notification without what its event needs; str() says what."""


def _sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def notification_signature(secret: str, fields: Mapping[str, str]) -> str:
    """The `Signature` Zadarma sends with this notification."""
    names = SIGNED_FIELDS.get(fields.get("event", ""), ())
    return _sign(secret, "".join(fields.get(name, "") for name in names))


def signature_valid(secret: str, fields: Mapping[str, str], signature: str) -> bool:
    if not secret or not signature or fields.get("event", "") not in SIGNED_FIELDS:
        return False
    return hmac.compare_digest(notification_signature(secret, fields), signature.strip())


def api_authorization(key: str, secret: str, method: str, params: Mapping[str, str]) -> str:
    """The `Authorization` header of an API request to `method` (its path, e.g. "/v1/request/callback/")."""
    query = urlencode(sorted(params.items()))
    return f"{key}:{_sign(secret, method + query + hashlib.md5(query.encode()).hexdigest())}"  # noqa: S324


def api_request(key: str, secret: str, method: str, params: Mapping[str, str]) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) of a signed POST to the API (the base address is TELEPHONY_ZADARMA_API_BASE)."""
    values = {**params, "format": "json"}
    body = urlencode(sorted(values.items())).encode()
    headers = {
        "Authorization": api_authorization(key, secret, method, values),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return settings.TELEPHONY_ZADARMA_API_BASE.rstrip("/") + method, body, headers


def api_get(key: str, secret: str, method: str, params: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(url, headers) of a signed GET."""
    values = {**params, "format": "json"}
    query = urlencode(sorted(values.items()))
    url = settings.TELEPHONY_ZADARMA_API_BASE.rstrip("/") + method + "?" + query
    return url, {"Authorization": api_authorization(key, secret, method, values)}


def api_answer(body: bytes) -> dict[str, object]:
    """The API's JSON answer, {} when it is not JSON."""
    try:
        answer = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _time(value: str, tz: datetime.tzinfo) -> datetime.datetime:
    try:
        moment = datetime.datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BadNotification("call_start is not a date and time (YYYY-MM-DD HH:MM:SS)") from None
    return moment.replace(tzinfo=tz)


def zone(name: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def international(number: str) -> str:
    """Zadarma sends outside numbers in the international format without the plus ("79161234567")."""
    number = number.strip()
    return "+" + number if number.isdigit() and len(number) > 10 else number


def call_of(fields: Mapping[str, str], *, tz: datetime.tzinfo, now: datetime.datetime) -> CallData:
    """The call a start or end notification tells about (an end's result ends it)."""
    event = fields.get("event", "")
    pbx_call_id = fields.get("pbx_call_id", "").strip()
    if not pbx_call_id or len(pbx_call_id) > 128:
        raise BadNotification("pbx_call_id is missing or too long")
    started = _time(fields.get("call_start", ""), tz)
    if event.startswith("NOTIFY_OUT_"):
        call = CallData(
            pbx_call_id=pbx_call_id,
            direction=OUTBOUND,
            external=international(fields.get("destination", "")),
            line=fields.get("caller_id", ""),
            extension=fields.get("internal", ""),
            started_at=started,
        )
    else:
        call = CallData(
            pbx_call_id=pbx_call_id,
            direction=INBOUND,
            external=international(fields.get("caller_id", "")),
            line=fields.get("called_did", ""),
            extension=fields.get("internal", "") or fields.get("last_internal", ""),
            started_at=started,
        )
    if event in ("NOTIFY_END", "NOTIFY_OUT_END"):
        disposition = fields.get("disposition", "").strip().lower()
        call.result = _DISPOSITION.get(disposition, FAILED)
        try:
            seconds = max(0, min(int(fields.get("duration", "0") or 0), 7 * 86400))
        except ValueError:
            raise BadNotification("duration is not a number") from None
        call.duration = seconds if call.result == ANSWERED else 0
        call.ended_at = now
        if call.result == ANSWERED:
            call.answered_at = max(started, now - datetime.timedelta(seconds=seconds))
        if fields.get("is_recorded") == "1" and fields.get("call_id_with_rec"):
            call.extra["call_id_with_rec"] = fields["call_id_with_rec"][:128]
    return call
