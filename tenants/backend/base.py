"""The database backend: django-tenants' schema switching, with the search path set once per connection and
workspace rather than once per request.

django-tenants forgets, on every switch of tenant, that the connection's search path is set, so each request
(which switches to its workspace) starts with a `SET search_path` round trip, even on a connection that served
the same workspace a moment before. This wrapper remembers the path the connection actually has and skips the
statement when a switch comes back to it. The path is forgotten whenever PostgreSQL may have undone it: a
rollback (a SET inside a transaction goes with it), a savepoint rollback, a closed or new connection.
"""

from __future__ import annotations

from typing import Any

from django_tenants.postgresql_backend import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The search path the server has for this connection, as far as we know; None: unknown.
        self.search_path_applied: list[str] | None = None
        super().__init__(*args, **kwargs)

    search_path_set_schemas: list[str] | None

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
