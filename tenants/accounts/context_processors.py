"""What the signed-in user may do, for templates: `access.manage_users`, `access.can.deal.create`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenants.accounts import kinds, policy
from tenants.accounts.models import User


class _Actions:
    def __init__(self, user: User, record_type: str) -> None:
        self._user, self._type = user, record_type

    def __getattr__(self, action: str) -> bool:
        try:
            return policy.can(self._user, policy.Action(action), self._type)
        except ValueError:
            raise AttributeError(action) from None


class _Types:
    def __init__(self, user: User) -> None:
        self._user = user

    def __getattr__(self, record_type: str) -> _Actions:
        if not kinds.is_registered(record_type):
            raise AttributeError(record_type)
        return _Actions(self._user, record_type)


class Access:
    def __init__(self, user: User) -> None:
        self.can = _Types(user)
        self._user = user

    def __getattr__(self, permission: str) -> bool:
        try:
            return policy.has_permission(self._user, policy.WorkspacePermission(permission))
        except ValueError:
            raise AttributeError(permission) from None

    @property
    def any_settings(self) -> bool:
        return any(policy.has_permission(self._user, p) for p in policy.WorkspacePermission)


def access(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"access": Access(user)}
