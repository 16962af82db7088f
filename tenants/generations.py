"""Cached reads that a write makes stale at once, in every worker: entries tagged with their scope's generation.

An entry is stored with the generation token its scope had when the entry was read from the database. A write
to the scope gives it a new token, in the writing transaction and again when that commits (another worker may
have re-read the old row in between), so entries read before the write are never accepted again. A scope never
written (or not for a while) has no token: its generation is None. Tokens outlive entries, so an entry written
under "no token" can never meet "no token" again after a write.

The cache is the shared alias, whose keys are the same whatever schema the connection is on: each key names
its scope explicitly. When the cache is unreachable, readers go to the database (for a few seconds, without
asking the cache again) and nothing is lost: the writes stand, and entries expire.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from django.core.cache import BaseCache, caches
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CACHE_ALIAS = "shared"
# After a cache error, reads go straight to the database this long before trying the cache again.
CACHE_RETRY_SECONDS = 5

# The generation a read takes when the cache could not be asked: its result is not stored.
UNAVAILABLE = object()

# The database's identity in every key: a recreated or restored-into-new database never meets the entries of the
# old one (same schema names, other rows). One query per process and database, read again whenever a connection to
# it is opened: a database dropped and created again cuts every connection, so a running worker learns the new
# identity on its next connection instead of using the old database's entries (hosts, API keys, users) for as long
# as it lives.
_database_ids: dict[tuple[str, str, str], str] = {}


def _where(wrapper: BaseDatabaseWrapper) -> tuple[str, str, str]:
    params = wrapper.settings_dict
    return (str(params.get("HOST") or ""), str(params.get("PORT") or ""), str(params["NAME"]))


def database_id() -> str:
    where = _where(connection)
    found = _database_ids.get(where)
    if found is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
            found = _database_ids[where] = f"{where[2]}.{cursor.fetchone()[0]}"
    return found


def _connection_opened(sender: Any, connection: BaseDatabaseWrapper, **_: Any) -> None:
    _database_ids.pop(_where(connection), None)


def signals_connect() -> None:
    from django.db.backends.signals import connection_created

    connection_created.connect(_connection_opened, dispatch_uid="generations-connection-opened")


_namespaces: list[Generations] = []


def all_retry_now() -> None:
    """Every namespace asks the cache again from the next read on (after an outage that is known to be over)."""
    for namespace in _namespaces:
        namespace.retry_now()


class Generations:
    """Entries of one namespace ("identity"), grouped in scopes (a workspace's schema) that writes invalidate."""

    def __init__(self, namespace: str, *, entry_seconds: int) -> None:
        self.namespace = namespace
        self.entry_seconds = entry_seconds
        self.token_seconds = 2 * entry_seconds
        self._down_until = 0.0
        self._trouble_logged_at = -60.0
        _namespaces.append(self)

    def _cache(self) -> BaseCache:
        return caches[CACHE_ALIAS]

    def _key(self, scope: str, name: str) -> str:
        return f"{self.namespace}:{database_id()}:{scope}:{name}"

    def get(self, scope: str, name: str) -> tuple[bool, Any, Any]:
        """(found, value, generation): one round trip. Pass the generation to `put` after reading the database."""
        found, generation = self.get_many(scope, (name,))
        return (True, found[name], generation) if name in found else (False, None, generation)

    def get_many(self, scope: str, names: tuple[str, ...]) -> tuple[dict[str, Any], Any]:
        """({name: value} of the entries found valid, generation): one round trip for several entries."""
        if time.monotonic() < self._down_until:
            return {}, UNAVAILABLE
        gen_key = self._key(scope, "gen")
        keys = {self._key(scope, name): name for name in names}
        try:
            found = self._cache().get_many([gen_key, *keys])
        except RedisError:
            self._trouble("reads go to the database")
            return {}, UNAVAILABLE
        gen = found.get(gen_key)
        valid = {}
        for key, name in keys.items():
            entry = found.get(key)
            if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == gen:
                valid[name] = entry[1]
        return valid, gen

    def put(self, scope: str, name: str, generation: Any, value: Any, *, seconds: int | None = None) -> None:
        """Store what was read from the database under the generation `get` gave before the read (for
        `seconds`, at most the namespace's entry_seconds)."""
        if generation is UNAVAILABLE:
            return
        timeout = min(seconds or self.entry_seconds, self.entry_seconds)
        try:
            self._cache().set(self._key(scope, name), (generation, value), timeout=timeout)
        except RedisError:
            self._trouble("entries are not stored")

    def invalidate(self, scope: str, *, strict: bool = False) -> None:
        """Every entry of `scope` read before now is stale: now, and again when the current transaction commits.
        `strict`: when the cache cannot be told now, raise (the caller's write is refused) instead of logging."""
        if strict:
            self._cache().set(self._key(scope, "gen"), secrets.token_hex(8), timeout=self.token_seconds)
        else:
            self._token_replace(scope)
        if connection.in_atomic_block:

            def generation_replace_after_commit() -> None:
                self._token_replace(scope)

            transaction.on_commit(generation_replace_after_commit)

    def generation(self, scope: str) -> Any:
        """The scope's current generation token (None: never written, or not for a while)."""
        return self._cache().get(self._key(scope, "gen"))

    def retry_now(self) -> None:
        """Ask the cache again from the next read on, even within CACHE_RETRY_SECONDS of an error."""
        self._down_until = 0.0

    def _token_replace(self, scope: str) -> None:
        try:
            self._cache().set(self._key(scope, "gen"), secrets.token_hex(8), timeout=self.token_seconds)
        except RedisError:
            # The write stands: a cache that was down lost nothing, one that was only unreachable keeps what it
            # had for entry_seconds at most.
            logger.exception("could not invalidate the %s cache of %s", self.namespace, scope)

    def _trouble(self, what: str) -> None:
        """Logged at most once a minute per process: while the cache is down this happens on every request."""
        now = time.monotonic()
        self._down_until = now + CACHE_RETRY_SECONDS
        if now - self._trouble_logged_at >= 60:
            self._trouble_logged_at = now
            logger.warning("%s cache unavailable (%s)", self.namespace, what, exc_info=True)
