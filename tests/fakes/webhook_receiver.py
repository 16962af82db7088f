"""A receiver of Kontor's webhooks, standard library only (Python 3.10+).

    KONTOR_WEBHOOK_SECRET=whsec_... python webhook_receiver.py     # listens on port 8000

It answers 204 to an event it has verified, 401 to anything unsigned, forged or older than five minutes,
and 400 to a body that is not an event. Put it behind your HTTPS server (Kontor sends to https addresses)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A delivery signed longer ago than this (or in the future) is refused: a captured request cannot be replayed
# later. Within it, an id seen already is acknowledged but not handled twice.
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024


def signature_valid(secret: str, timestamp: str, signature_header: str, body: bytes, now: float | None = None) -> bool:
    """Kontor-Signature is "v1=<hex HMAC-SHA256 of '<timestamp>.<body>' with the secret>"."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    for part in signature_header.split(","):
        scheme, _sep, value = part.strip().partition("=")
        if scheme == "v1" and hmac.compare_digest(expected, value):
            return True
    return False


class WebhookHandler(BaseHTTPRequestHandler):
    secret = os.environ.get("KONTOR_WEBHOOK_SECRET", "")
    # The event ids handled already (keep them in your database: Kontor may deliver an event twice).
    seen: set[str] = set()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.answer(413)
            return
        self.answer(self.receive(self.rfile.read(length)))

    def receive(self, body: bytes) -> int:
        """The status to answer: 2xx only once the event is safely handled (or was already)."""
        timestamp = self.headers.get("Kontor-Webhook-Timestamp", "")
        signature = self.headers.get("Kontor-Signature", "")
        if not self.secret or not signature_valid(self.secret, timestamp, signature, body):
            return 401
        try:
            event = json.loads(body)
            event_id = str(event["id"])
        except (ValueError, KeyError, TypeError):
            return 400
        if event_id != self.headers.get("Kontor-Webhook-Id"):
            return 400
        if event_id not in self.seen:
            self.handle_event(event)
            self.seen.add(event_id)
        return 204

    def handle_event(self, event: dict[str, Any]) -> None:
        """Your code: event["type"] ("record.created", "deal.won", ...), event["kind"] ("lead", "deal", ...),
        event["record_id"], event["data"] (the record after the change), event["fields"] (what changed)."""
        print(event["occurred_at"], event["type"], event["kind"], event["record_id"], event["fields"])

    def answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), WebhookHandler).serve_forever()
