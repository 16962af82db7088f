"""A request after its thread's database connection went bad is served: the connection is checked before the next
request uses it and replaced (CONN_HEALTH_CHECKS), and nothing the old one held (the search_path set for the
workspace, a cached database identity) outlives it. The full restart under load is test_postgres_restart.py;
these cut only this test's own connection, so they run against the shared test database.

Requests go through Django's WSGI handler as a server calls it: the test client leaves out the check of the
connections at the start and end of each request (close_old_connections), which is what this is about.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory
from django_tenants.utils import tenant_context

from tenants.accounts.services import api_key_create
from tenants.backend.base import connection_looks_usable
from tests.conftest import Workspace


class Server:
    """Django's WSGI handler, called the way gunicorn calls it."""

    def __init__(self, host: str, **headers: str) -> None:
        self.handler = WSGIHandler()
        self.host = host
        self.headers = headers

    def get(self, path: str) -> tuple[int, bytes]:
        environ = RequestFactory()._base_environ(PATH_INFO=path, HTTP_HOST=self.host, **self.headers)
        status: list[str] = []
        response = self.handler(environ, lambda s, h, exc_info=None: status.append(s))
        try:
            body = b"".join(response)
        finally:
            response.close()  # request_finished, as the server sends it
        connection.set_schema_to_public()
        return int(status[0].split()[0]), body


def _api(ws: Workspace) -> Server:
    with tenant_context(ws.tenant):
        key = api_key_create(actor=ws.owner, name="broken connections").secret
    connection.set_schema_to_public()
    return Server(ws.domain, HTTP_AUTHORIZATION=f"Bearer {key}")


def _terminated_by_the_server() -> None:
    """What a PostgreSQL restart or a dropped connection does to the thread's connection."""
    pid = connection.connection.info.backend_pid
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"] or "postgres",
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
        autocommit=True,
    ) as admin:
        # Waits until the session has ended (a request racing the termination itself may fail; the next may not).
        assert admin.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,)).fetchone() == (True,)


def _left_in_an_aborted_transaction() -> None:
    raw = connection.connection
    raw.execute("BEGIN")
    with pytest.raises(psycopg.errors.DivisionByZero):
        raw.execute("SELECT 1 / 0")
    assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INERROR


@pytest.mark.parametrize("break_it", [_terminated_by_the_server, _left_in_an_aborted_transaction])
def test_the_next_api_request_after_a_broken_connection_is_served(
    committed_db: Callable[..., Workspace], break_it: Callable[[], None]
) -> None:
    ws = committed_db()
    api = _api(ws)
    status, first = api.get("/api/v1/contacts/")
    assert status == 200
    broken = connection.connection
    assert broken is not None  # kept for the next request (CONN_MAX_AGE), with the workspace's search_path set
    break_it()
    for _ in range(3):
        assert api.get("/api/v1/contacts/") == (200, first)
    assert connection.connection is not broken


def test_the_next_page_after_a_broken_connection_is_served(committed_db: Callable[..., Workspace]) -> None:
    ws = committed_db()
    session = ws.client(logged_in_as=ws.owner).cookies["sessionid"].value
    pages = Server(ws.domain, HTTP_COOKIE=f"sessionid={session}")
    assert pages.get("/companies/")[0] == 200
    _terminated_by_the_server()
    assert pages.get("/companies/")[0] == 200


def test_a_healthy_connection_is_kept_from_one_request_to_the_next(committed_db: Callable[..., Workspace]) -> None:
    """The check before a request's first query asks the socket, not the server, and raises no false alarm."""
    ws = committed_db()
    api = _api(ws)
    assert api.get("/api/v1/contacts/")[0] == 200
    kept = connection.connection
    pid = kept.info.backend_pid
    for _ in range(3):
        assert api.get("/api/v1/contacts/")[0] == 200
    assert connection.connection is kept and kept.info.backend_pid == pid
    assert connection_looks_usable(kept, in_atomic_block=False)
