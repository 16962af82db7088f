"""What every inbound call passes before a kind reads it: the connection named by the secret in its path, a
body no larger than the limit, the rate limits, and (where the kind signs) a fresh, unreplayed signature.

A refusal is an `InboundRefused` with the status and a machine-readable code; `refusal_response` answers it
in JSON (`{"error": {"code", "message"}}`). Nothing is written for a refused call but, where the connection is
known, its entry in the exchange log.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from integrations.core.models import Connection, Exchange
from tenants.accounts.audit import request_info_of
from tenants.context import current_schema

# A signed call older or newer than this is refused (and a signature is remembered this long against replays).
SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass
class InboundRefused(Exception):
    status: int
    code: str
    message: str
    retry_after: int | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def connection_for_token(token: str, *, kind: str) -> Connection:
    """The active connection of `kind` whose inbound secret is `token`; 404 for anything else, alike."""
    if not token or len(token) > 128 or "\x00" in token:
        raise InboundRefused(404, "unknown_connection", "No such connection.")
    found = (
        Connection.objects.select_related("identity", "identity__role")
        .filter(token_hash=token_hash(token), kind=kind)
        .first()
    )
    if found is None or not found.is_active or not found.identity.is_active:
        raise InboundRefused(404, "unknown_connection", "No such connection.")
    return found


def body_read(request: HttpRequest, *, limit: int | None = None) -> bytes:
    """The body, refused (413) beyond `limit` bytes before more than that is read."""
    limit = limit or settings.INTEGRATIONS_INBOUND_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(declared)
    except ValueError:
        raise InboundRefused(400, "bad_length", "The Content-Length is not a number.") from None
    if length > limit:
        raise InboundRefused(413, "too_large", f"The body is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise InboundRefused(413, "too_large", f"The body is larger than {limit} bytes.")
    return body


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def rate_check(
    request: HttpRequest, conn: Connection, *, per_connection: int | None = None, per_address: int | None = None
) -> None:
    """At most so many calls a minute to one connection, and from one address to one connection (429)."""
    schema = current_schema()
    minute = int(time.time() // 60)
    ip = request_info_of(request).ip or "-"
    limits = (
        (f"kontor:in:{schema}:{conn.pk}:{minute}", per_connection or settings.INTEGRATIONS_INBOUND_RATE_PER_CONNECTION),
        (f"kontor:in:{schema}:{conn.pk}:{ip}:{minute}", per_address or settings.INTEGRATIONS_INBOUND_RATE_PER_ADDRESS),
    )
    pipe = _redis().pipeline()
    for key, _limit in limits:
        pipe.incr(key)
        pipe.expire(key, 120)
    counts = pipe.execute()[0::2]
    for count, (_key, limit) in zip(counts, limits, strict=True):
        if int(count) > limit:
            raise InboundRefused(429, "rate_limited", "Too many calls; try again in a minute.", retry_after=60)


def signature_expected(secret: str, *, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: what Kontor's own signed calls carry both ways."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_check(conn: Connection, *, secret: str, timestamp: str, signature: str, body: bytes) -> None:
    """A signature of this body at this time, within the tolerance, and never seen before (401/409)."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        raise InboundRefused(401, "bad_signature", "The timestamp is missing or not a number.") from None
    if abs(time.time() - sent_at) > SIGNATURE_TOLERANCE_SECONDS:
        raise InboundRefused(401, "stale_signature", "The timestamp is too far from now.")
    expected = signature_expected(secret, timestamp=timestamp, body=body)
    if not signature or not hmac.compare_digest(expected, signature.strip().lower()):
        raise InboundRefused(401, "bad_signature", "The signature does not match.")
    replay_key = f"kontor:in:sig:{current_schema()}:{conn.pk}:{expected}"
    if not _redis().set(replay_key, 1, nx=True, ex=SIGNATURE_TOLERANCE_SECONDS * 2):
        raise InboundRefused(409, "replayed", "This call was received already.")


def refusal_log(conn: Connection, refusal: InboundRefused, *, operation: str, request: HttpRequest) -> None:
    """The refused call in the connection's log (not for floods: a rate-limited call is not written)."""
    if refusal.status == 429:
        return
    Exchange.objects.create(
        connection=conn,
        direction=Exchange.Direction.INBOUND,
        operation=operation,
        status=Exchange.Status.REFUSED,
        finished_at=timezone.now(),
        error=f"{refusal.code}: {refusal.message}",
        request=request_summary(request),
        response={"status": refusal.status},
    )


def request_summary(request: HttpRequest) -> dict[str, object]:
    return {
        "method": request.method,
        "path": request.path[:200],
        "bytes": int(request.META.get("CONTENT_LENGTH") or 0)
        if str(request.META.get("CONTENT_LENGTH", "")).isdigit()
        else 0,
        "ip": request_info_of(request).ip,
    }


def refusal_response(refusal: InboundRefused) -> JsonResponse:
    response = JsonResponse({"error": {"code": refusal.code, "message": refusal.message}}, status=refusal.status)
    if refusal.retry_after:
        response["Retry-After"] = str(refusal.retry_after)
    return response
