"""A live Kontor server in a thread and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connection, connections
from django.db.backends.signals import connection_created

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def live_url(committed_db: Any) -> Iterator[str]:
    """Base URL of a server on the public site's host; workspaces are at <subdomain>.localhost:<port>."""
    # Each request thread opens its own connection; closing it after the request keeps none dangling.
    old_max_age = settings.DATABASES["default"]["CONN_MAX_AGE"]
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(StaticFilesHandler(WSGIHandler()))
    request_thread_pids: set[int] = set()
    test_thread = threading.get_ident()

    def remember_request_thread_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
        if threading.get_ident() != test_thread:
            request_thread_pids.add(connection.connection.info.backend_pid)

    connection_created.connect(remember_request_thread_connection)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{settings.BASE_DOMAIN}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        connection_created.disconnect(remember_request_thread_connection)
        _end_request_thread_connections(request_thread_pids)
        settings.DATABASES["default"]["CONN_MAX_AGE"] = old_max_age


def _end_request_thread_connections(pids: set[int]) -> None:
    # Threads serving the browser's keep-alive connections may outlive the server with a database
    # session open; end those sessions so the test database can be cleaned and dropped. Only those: the
    # test thread may hold more than one connection (Playwright's greenlets see other context-local ones),
    # and ending any of them would break the next test.
    if not pids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid = ANY(%s) AND pid <> pg_backend_pid()",
            [sorted(pids)],
        )


@pytest.fixture
def page(live_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                # Every workspace host is this machine.
                f"--host-resolver-rules=MAP *.{settings.BASE_DOMAIN} 127.0.0.1, MAP {settings.BASE_DOMAIN} 127.0.0.1",
            ],
        )
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # The test body's ORM calls ran in this context's own connection; close it here, where it is
            # reachable, so no session outlives the test.
            connections.close_all()


@pytest.fixture
def ws(committed_db: Any) -> Any:
    """A workspace whose data the live server sees (committed, cleaned up after the test)."""
    return committed_db()


@pytest.fixture
def base(ws: Any, live_url: str) -> str:
    """The workspace's own address on the live server."""
    port = live_url.rsplit(":", 1)[1]
    assert ws.domain.endswith(f".{settings.BASE_DOMAIN}")
    return f"http://{ws.domain}:{port}"


def log_in(page: Any, base: str, email: str) -> None:
    from tests.conftest import PASSWORD

    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
