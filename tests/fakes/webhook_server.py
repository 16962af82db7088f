"""A local webhook receiver for the tests: the documented example's handler (tests/fakes/webhook_receiver.py,
or the same code taken from the docs) in a thread on 127.0.0.1, port 0, that can be told to fail or be slow,
and keeps what it was sent."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from tests.fakes import webhook_receiver


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes
    status: int
    at: float
    event: dict[str, Any] | None = None


@dataclass
class FakeReceiver:
    handler_base: type = webhook_receiver.WebhookHandler
    secret: str = ""
    # Answer this status to the next `fail_times` requests (before any check), then work.
    fail_times: int = 0
    fail_status: int = 500
    delay: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    handled: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> FakeReceiver:
        fake = self

        class Handler(self.handler_base):  # type: ignore[name-defined,misc]
            seen: set[str] = set()

            @property
            def secret(self) -> str:  # type: ignore[override]
                return fake.secret

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.fail_times > 0:
                    fake.fail_times -= 1
                    status = fake.fail_status
                else:
                    status = self.receive(body)
                fake.arrivals.append(Arrival(dict(self.headers.items()), body, status, time.time()))
                self.answer(status)

            def handle_event(self, event: dict[str, Any]) -> None:
                fake.handled.append(event)

            def log_message(self, *args: Any) -> None:
                pass

        self._handler = Handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/kontor"

    def reset(self) -> None:
        self.secret, self.fail_times, self.fail_status, self.delay = "", 0, 500, 0.0
        self.arrivals.clear()
        self.handled.clear()
        self._handler.seen = set()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
