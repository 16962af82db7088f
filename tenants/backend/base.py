"""The database backend: django-tenants' schema switching, with the search path set once per connection and
workspace rather than once per request.

django-tenants forgets, on every switch of tenant, that the connection's search path is set, so each request
(which switches to its workspace) starts with a `SET search_path` round trip, even on a connection that served
the same workspace a moment before. This wrapper remembers the path the connection actually has and skips the
statement when a switch comes back to it. The path is forgotten whenever PostgreSQL may have undone it: a
rollback (a SET inside a transaction goes with it), a savepoint rollback, a closed or new connection.

The health check before a request's first query (CONN_HEALTH_CHECKS) costs no round trip either. Django sends
`SELECT 1` on every request; this asks the client library and the socket instead (connection_looks_usable):

- psycopg already knows the connection is closed or broken;
- it is in a transaction outside any atomic block (left open, or aborted by an error nobody rolled back);
- the server has sent something nobody asked for: between two requests a healthy connection is silent, while a
  server that shuts down or terminates the session sends its FATAL message and closes the socket, and a dropped
  connection reads as closed. Any of these reads as readable at once (poll with no wait).

Such a connection is closed and the request opens a new one. A connection that dies without a word (a network
partition) fails its first query as it would after a `SELECT 1` too, and is replaced after that request
(errors_occurred). A false alarm (a notice the server sent unasked) costs a reconnect, nothing else.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django_tenants.postgresql_backend import base

_IDLE = psycopg.pq.TransactionStatus.IDLE


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The search path the server has for this connection, as far as we know; None: unknown.
        self.search_path_applied: list[str] | None = None
        super().__init__(*args, **kwargs)

    search_path_set_schemas: list[str] | None
    health_check_done: bool

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if not connection_looks_usable(self.connection, in_atomic_block=self.in_atomic_block):
            self.close()
        self.health_check_done = True

    def _handle_search_path(self, cursor: Any = None) -> None:
        if (
            self.search_path_set_schemas is None
            and self.search_path_applied is not None
            and not self._setting_search_path
            and self.schema_name
            and self._get_cursor_search_paths() == self.search_path_applied
        ):
            self.search_path_set_schemas = self.search_path_applied
            return
        super()._handle_search_path(cursor)
        self.search_path_applied = self.search_path_set_schemas

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.search_path_applied = None
        return super().get_new_connection(conn_params)

    def close(self) -> None:
        self.search_path_applied = None
        super().close()

    # After the rollback: running it may go through a cursor, which would record the path being rolled back.
    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.search_path_applied = None

    def savepoint_rollback(self, sid: str) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            self.search_path_applied = None


def connection_looks_usable(conn: Any, *, in_atomic_block: bool) -> bool:
    """Whether a psycopg connection kept from an earlier request may serve this one, without asking the server."""
    if conn.closed or conn.broken:
        return False
    if not in_atomic_block and conn.info.transaction_status != _IDLE:
        return False
    try:
        return not _readable(conn.fileno())
    except (OSError, ValueError, psycopg.Error):
        return False


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):  # any descriptor number (select() stops at 1024)
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)
