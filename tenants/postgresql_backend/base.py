"""The database backend: django-tenants' (the search_path per workspace), with a health check that costs no round
trip.

With CONN_HEALTH_CHECKS, Django checks a kept connection before the first query of each request with a
`SELECT 1`: a round trip on every request. The check here asks the client library and the socket instead:

- psycopg already knows the connection is closed or broken;
- it is in a transaction outside any atomic block (left open, or aborted by an error nobody rolled back);
- the server has sent something nobody asked for: between two requests a healthy connection is silent, while a
  server that shuts down or terminates the session sends its FATAL message and closes the socket, and a dropped
  connection reads as closed. Any of these reads as readable at once (select with no wait).

Such a connection is closed and the request opens a new one. A connection that dies without a word (a network
partition) fails its first query as it would after a `SELECT 1` too, and is replaced after that request
(errors_occurred). A false alarm (a notice the server sent unasked) costs a reconnect, nothing else.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

_IDLE = psycopg.pq.TransactionStatus.IDLE


class DatabaseWrapper(TenantDatabaseWrapper):
    health_check_done: bool

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if not connection_looks_usable(self.connection, in_atomic_block=self.in_atomic_block):
            self.close()
        self.health_check_done = True


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
