"""A local fake of Zadarma for the telephony tests and the benchmark: its API (the click-to-call request and
the recording link, checking the `Authorization` signature as Zadarma does) and a poster of its call
notifications, form-encoded and signed in the `Signature` header as Zadarma sends them.

The signatures are computed here independently of Kontor's code, from Zadarma's documentation: base64 of the
hex HMAC-SHA1 under the API secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

# What each event's signature covers (Zadarma's documentation of the notifications).
_SIGNED = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


def sign(secret: str, text: str) -> str:
    hexdigest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(hexdigest.encode()).decode()


def notification(secret: str, event: str, **fields: str) -> tuple[str, str]:
    """(form body, Signature header) of a notification."""
    values = {"event": event, **fields}
    signature = sign(secret, "".join(values.get(k, "") for k in _SIGNED[event]))
    return urlencode(values), signature


def inbound_sequence(
    *,
    pbx_call_id: str,
    caller: str,
    did: str = "74951234567",
    internal: str = "101",
    disposition: str = "answered",
    duration: int = 65,
    call_start: str = "2026-12-01 10:00:00",
    recorded: bool = False,
) -> list[tuple[str, dict[str, str]]]:
    """NOTIFY_START, NOTIFY_INTERNAL, NOTIFY_END of one inbound call."""
    common = {"call_start": call_start, "pbx_call_id": pbx_call_id, "caller_id": caller, "called_did": did}
    end = {
        **common,
        "internal": internal,
        "duration": str(duration),
        "disposition": disposition,
        "status_code": "16",
        "is_recorded": "1" if recorded else "0",
        "call_id_with_rec": f"{pbx_call_id}.rec" if recorded else "",
        "last_internal": internal,
    }
    internal_ = {**common, "internal": internal}
    return [("NOTIFY_START", common), ("NOTIFY_INTERNAL", internal_), ("NOTIFY_END", end)]


def outbound_sequence(
    *,
    pbx_call_id: str,
    destination: str,
    internal: str = "101",
    caller_id: str = "74951234567",
    disposition: str = "answered",
    duration: int = 30,
    call_start: str = "2026-12-01 11:00:00",
) -> list[tuple[str, dict[str, str]]]:
    common = {
        "call_start": call_start,
        "pbx_call_id": pbx_call_id,
        "destination": destination,
        "caller_id": caller_id,
        "internal": internal,
    }
    end = {
        **common,
        "duration": str(duration),
        "disposition": disposition,
        "status_code": "16",
        "is_recorded": "0",
        "call_id_with_rec": "",
    }
    return [("NOTIFY_OUT_START", common), ("NOTIFY_OUT_END", end)]  # fmt: skip


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, str]
    authorized: bool


@dataclass
class FakeZadarmaApi:
    key: str = "zd-key"
    secret: str = "zd-secret"
    requests: list[ApiRequest] = field(default_factory=list)
    recording_link: str = "https://api.zadarma.example/rec/file.mp3"

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    params = dict(parse_qsl(self.rfile.read(length).decode()))
                else:
                    params = dict(parse_qsl(parts.query))
                query = urlencode(sorted(params.items()))
                expected = f"{fake.key}:" + sign(
                    fake.secret, parts.path + query + hashlib.md5(query.encode()).hexdigest()
                )
                authorized = hmac.compare_digest(self.headers.get("Authorization", ""), expected)
                fake.requests.append(ApiRequest(method, parts.path, params, authorized))
                if not authorized:
                    self._json(401, {"status": "error", "message": "Not authorized"})
                elif parts.path == "/v1/request/callback/" and method == "POST":
                    self._json(200, {"status": "success", "from": params.get("from"), "to": params.get("to"),
                                     "time": 1700000000})  # fmt: skip
                elif parts.path == "/v1/pbx/record/request/" and method == "GET":
                    self._json(200, {"status": "success", "link": fake.recording_link, "lifetime_till": "2030-01-01"})
                else:
                    self._json(404, {"status": "error", "message": "Method not found"})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeZadarmaApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
