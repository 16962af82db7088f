"""Access requirements of the REST API's operations: declared where each operation is defined, checked in one
place before its body runs, published in the OpenAPI document.

    @router.patch("/companies/{company_id}", response=CompanyOut)
    @requires(Action.EDIT, RecordType.COMPANY, record="company_id")
    def update_company(request, company_id, payload): ...

`requires(action, record_type)`: the caller's role must grant `action` on some records of that kind (403
otherwise). With `record=`, the path parameter naming the record acted on: a record the caller may not see is a
404 (as a missing one), one they see but may not take the action on a 403. `permission=`: a workspace
permission (403 without it). `requires()` alone: any signed-in member of the workspace. Services check again.

`enforce` is added to the API as a decorator of every operation (platform_core.api): it checks the declaration
and refuses an operation that declares nothing. The declaration is also the operation's `x-requires` in the
OpenAPI document, which the permission matrix test reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest
from ninja.operation import Operation
from ninja.utils import contribute_operation_callback

from crm.core.registry import model_for
from crm.core.types import RecordType
from tenants.accounts import policy
from tenants.accounts.models import User

F = TypeVar("F", bound=Callable[..., Any])

EXTENSION = "x-requires"


@dataclass(frozen=True)
class Requirement:
    action: policy.Action | None = None
    record_type: RecordType | None = None
    permission: policy.WorkspacePermission | None = None
    # The path parameter naming the record the action is taken on.
    record: str | None = None

    def document(self) -> dict[str, str]:
        """As published in the OpenAPI document (an empty object: any member of the workspace)."""
        fields = {
            "action": self.action,
            "record_type": self.record_type,
            "permission": self.permission,
            "record": self.record,
        }
        return {name: str(value) for name, value in fields.items() if value is not None}


def requires(
    action: policy.Action | None = None,
    record_type: RecordType | None = None,
    *,
    permission: policy.WorkspacePermission | None = None,
    record: str | None = None,
) -> Callable[[F], F]:
    """Declares what an operation requires; put it below the router's decorator."""
    if (action is None) != (record_type is None):
        raise ImproperlyConfigured("An action is required on a kind of record: give both or neither.")
    if record is not None and action is None:
        raise ImproperlyConfigured("`record` names the record an action is taken on: give the action.")
    requirement = Requirement(action, record_type, permission, record)

    def declare(view: F) -> F:
        if hasattr(view, "_ninja_operation"):
            raise ImproperlyConfigured(f"{view.__name__}: put @requires below the router's decorator.")
        view.api_requirement = requirement  # type: ignore[attr-defined]

        def publish(operation: Operation) -> None:
            operation.openapi_extra = {**(operation.openapi_extra or {}), EXTENSION: requirement.document()}

        contribute_operation_callback(view, publish)
        return view

    return declare


def requirement_of(view: Callable[..., Any]) -> Requirement | None:
    return cast(Requirement | None, getattr(view, "api_requirement", None))


def check(user: User, requirement: Requirement, arguments: Mapping[str, Any]) -> None:
    """Raise PermissionDenied (403) or Http404 unless `user` meets `requirement`; `arguments`: the operation's
    parsed parameters."""
    if requirement.permission is not None:
        policy.require_permission(user, requirement.permission)
    action, record_type = requirement.action, requirement.record_type
    if action is None or record_type is None:
        return
    if requirement.record is None:
        policy.require(user, action, record_type)
        return
    # A record the user may not see is a 404, whatever the action (a role that sees none of its kind sees none).
    if not policy.can(user, policy.Action.VIEW, record_type):
        raise Http404
    if action != policy.Action.VIEW:
        # Reading is left to the operation's selector, which answers 404 for a record out of sight.
        records = model_for(record_type)._default_manager.all()
        record = policy.get_visible_or_404(user, records, record_type, arguments.get(requirement.record))
        policy.require_on(user, action, record_type, record)


def enforce(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps an operation (after authentication and input parsing) with the check of its declaration. An
    operation that declares nothing is refused to everyone."""
    requirement = requirement_of(view)

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if requirement is None:
            raise PermissionDenied
        check(cast(User, request.auth), requirement, kwargs)  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return checked
