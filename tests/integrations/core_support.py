"""A kind of connection for the core's tests (the real kinds register themselves in their apps), and a small
HTTP server whose answers a test scripts."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms

from integrations.core import registry

KIND = "coretest"


class SettingsForm(forms.Form):
    host = forms.CharField(label="Host", max_length=200)
    password = forms.CharField(label="Password", max_length=200)


@contextmanager
def registered_kind(*, inbound: bool = True) -> Iterator[registry.ConnectionKind]:
    kind = registry.ConnectionKind(
        key=KIND,
        label="Core test",
        description="A connection of the core's tests.",
        settings_form=SettingsForm,
        secret_fields=("password",),
        inbound=inbound,
    )
    registry.kind_register(kind)
    try:
        yield kind
    finally:
        registry._KINDS.pop(KIND, None)


class ScriptedServer:
    """Answers each request with the next (status, body, headers) of `script`, the last one forever."""

    def __init__(self, script: list[tuple[int, bytes, dict[str, str]]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                status, body, headers = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
