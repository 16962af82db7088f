"""Sessions read from the cache, kept in the workspace's database: a signed-in page costs no session query.

Django's cached_db store, with the cache's keys prefixed by the workspace's schema (the default cache's key
function), so a session is only ever found in the workspace it was opened in. The database stays the record: a
cache that is down or was emptied (Redis keeps nothing on disk) costs a query, never a session.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbStore
from django.contrib.sessions.backends.db import SessionStore as DBStore
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class SessionStore(CachedDbStore):
    def load(self) -> dict[str, Any]:
        try:
            return super().load()
        except RedisError:
            logger.warning("session cache unavailable: reading the database", exc_info=True)
            return self._db_load()

    def _db_load(self) -> dict[str, Any]:
        session = self._get_session_from_db()  # type: ignore[attr-defined]
        if session is None:
            self._session_key = None
            return {}
        return self.decode(session.session_data)

    def exists(self, session_key: str) -> bool:
        try:
            return super().exists(session_key)
        except RedisError:
            return DBStore.exists(self, session_key)

    def delete(self, session_key: str | None = None) -> None:
        try:
            super().delete(session_key)
        except RedisError:
            # Deleted from the database (first); a cache entry that could not be deleted lives on at most until
            # it expires, and only while the cache is unreachable: logged, so that it is seen.
            logger.error("session cache unavailable: deleted from the database only", exc_info=True)
