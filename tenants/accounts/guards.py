"""Access requirements declared where a page is routed, checked before the view runs.

`guard(view, action, record_type)` answers 403 to a user whose role never allows `action` on that kind of
record; given `pk_kwarg`, the record itself is looked up through the policy first (invisible: 404) and the
action is checked on it (not allowed: 403). Services check again: the guard spares the user a form they
cannot submit and makes every route's requirement readable in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from tenants.accounts import kinds, policy

View = Callable[..., HttpResponseBase]


@dataclass(frozen=True)
class Requirement:
    action: policy.Action | None = None
    record_type: str | None = None
    permission: policy.WorkspacePermission | None = None
    # The URL keyword naming the record the action is taken on (checked record by record).
    pk_kwarg: str | None = None


def _check(request: HttpRequest, requirement: Requirement, kwargs: dict[str, Any]) -> None:
    user = request.user
    if requirement.permission is not None:
        policy.require_permission(user, requirement.permission)  # type: ignore[arg-type]
    if requirement.action is None or requirement.record_type is None:
        return
    policy.require(user, requirement.action, requirement.record_type)  # type: ignore[arg-type]
    if requirement.pk_kwarg is not None and requirement.action != policy.Action.VIEW:
        model = kinds.get(requirement.record_type).model
        record = policy.get_visible_or_404(
            user,  # type: ignore[arg-type]
            model._default_manager.all(),
            requirement.record_type,
            kwargs.get(requirement.pk_kwarg),
        )
        policy.require_on(user, requirement.action, requirement.record_type, record)  # type: ignore[arg-type]


def guard(
    view: View,
    action: policy.Action | None = None,
    record_type: str | None = None,
    *,
    permission: policy.WorkspacePermission | None = None,
    pk_kwarg: str | None = None,
) -> View:
    requirement = Requirement(action, record_type, permission, pk_kwarg)

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Anonymous visitors go on to the view, whose login_required sends them to the login page.
        if request.user.is_authenticated:
            if not request.user.is_active:
                raise PermissionDenied
            _check(request, requirement, kwargs)
        return view(request, *args, **kwargs)

    guarded.requirement = requirement  # type: ignore[attr-defined]
    return guarded
