"""Who is asking, without a query: API keys, users with their roles, and the two-factor rule, from the cache.

Every request authenticates, and a permission check reads the role: these are the same few rows again and
again. They are cached per workspace (tenants.generations), and any save or delete of a User, Role, ApiKey or
WorkspaceSecurity row of the workspace, through the models, makes every entry of the workspace stale at once in
every worker: a revoked key, a deactivated person, a changed role or password is refused or applied at the very
next request. Writes that bypass the models (QuerySet.update, raw SQL, a restore) are seen when entries
expire, after ENTRY_SECONDS; nothing that changes access is written that way (ApiKey.last_used_at is, on
purpose: it changes nothing of access).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection

from tenants.accounts.models import ApiKey, Role, User, WorkspaceSecurity
from tenants.context import current_schema
from tenants.generations import Generations

ENTRY_SECONDS = 600

_identities = Generations("identity", entry_seconds=ENTRY_SECONDS)
_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields)
_ROLE_FIELDS = tuple(f.attname for f in Role._meta.concrete_fields)
_ROLE = User._meta.get_field("role")
_TWO_FACTOR = "two_factor"
_TWO_FACTOR_ATTRIBUTE = "_identity_two_factor"

T = TypeVar("T")


@dataclass(frozen=True)
class KeyHolder:
    """An active API key and the user it belongs to (their role loaded)."""

    key_id: int
    key_hash: str
    last_used_at: datetime.datetime | None
    user: User


def _scope() -> str:
    return current_schema()


def _cached(name: str, read: Callable[[], T]) -> T:
    """`read()` through the cache: its result (picklable) is stored under the workspace's generation."""
    scope = _scope()
    found, value, generation = _identities.get(scope, name)
    if found:
        return value
    value = read()
    _identities.put(scope, name, generation, value)
    return value


def _user_columns(path: str) -> tuple[str, ...]:
    return tuple(f"{path}{name}" for name in _USER_FIELDS) + tuple(f"{path}role__{name}" for name in _ROLE_FIELDS)


def _user_built(values: tuple[Any, ...]) -> User:
    """A User (and its Role, or none) from the columns of `_user_columns`: what the queries would have loaded."""
    user = User.from_db(connection.alias, _USER_FIELDS, values[: len(_USER_FIELDS)])
    role_values = values[len(_USER_FIELDS) :]
    role = None if role_values[0] is None else Role.from_db(connection.alias, _ROLE_FIELDS, role_values)
    _ROLE.set_cached_value(user, role)
    return user


def api_key_holder(prefix: str) -> KeyHolder | None:
    """The active (not revoked) key with this prefix and its user, or None."""

    def read() -> tuple[Any, ...] | None:
        columns = ("pk", "key_hash", "last_used_at", *_user_columns("user__"))
        rows = list(ApiKey.objects.filter(prefix=prefix, revoked_at=None).order_by().values_list(*columns)[:1])
        return tuple(rows[0]) if rows else None

    row = _cached(f"key:{prefix}", read)
    if row is None:
        return None
    return KeyHolder(key_id=row[0], key_hash=row[1], last_used_at=row[2], user=_user_built(row[3:]))


def api_key_used(prefix: str, holder: KeyHolder, when: datetime.datetime) -> None:
    """Remember in the cache when the key was last used (its row was just updated): so that the row is updated
    once per LAST_USED_PRECISION, not on every request until the entry expires."""
    scope = _scope()
    found, row, generation = _identities.get(scope, f"key:{prefix}")
    if found and row is not None and row[0] == holder.key_id:
        _identities.put(scope, f"key:{prefix}", generation, (row[0], row[1], when, *row[3:]))


def user_by_id(pk: Any) -> User | None:
    """The user with this primary key (their role loaded), or None. The workspace's two-factor rule comes in the
    same round trip and stays with the user for the request (`two_factor_required(user)`)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    scope, name = _scope(), f"user:{pk}"
    found, generation = _identities.get_many(scope, (name, _TWO_FACTOR))
    if name in found:
        row = found[name]
    else:
        rows = list(User._base_manager.filter(pk=pk).order_by().values_list(*_user_columns(""))[:1])
        row = tuple(rows[0]) if rows else None
        _identities.put(scope, name, generation, row)
    if row is None:
        return None
    user = _user_built(row)
    if _TWO_FACTOR in found:
        setattr(user, _TWO_FACTOR_ATTRIBUTE, bool(found[_TWO_FACTOR]))
    return user


def two_factor_required(user: User | None = None) -> bool:
    """Does the workspace require two-factor authentication of everyone? (As read with `user`, when given.)"""
    # getattr, not __dict__: the request's user is a lazy proxy.
    known = getattr(user, _TWO_FACTOR_ATTRIBUTE, None) if user is not None else None
    if known is not None:
        return bool(known)
    return _cached(_TWO_FACTOR, lambda: WorkspaceSecurity.objects.filter(require_two_factor=True).exists())


def identities_invalidate(**_: Any) -> None:
    """Every cached identity of the current workspace is stale (model signals of the rows they are read from)."""
    _identities.invalidate(_scope())


def signals_connect() -> None:
    from django.db.models.signals import post_delete, post_save

    for model in (User, Role, ApiKey, WorkspaceSecurity):
        name = model._meta.model_name
        post_save.connect(identities_invalidate, sender=model, dispatch_uid=f"identity-{name}-saved")
        post_delete.connect(identities_invalidate, sender=model, dispatch_uid=f"identity-{name}-deleted")
