"""The access policy: the one place that decides who may see and do what in a workspace.

Views, the API, search, exports, tasks and integrations ask it; no query for user-visible data bypasses it.
Today every active member of a workspace works every CRM record, and workspace settings (pipelines, custom
fields, users) belong to its administrators. Roles with per-record-type scopes refine these same functions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from crm.core.types import RecordType
from tenants.accounts.models import User

M = TypeVar("M", bound=Model)


class Action(StrEnum):
    VIEW = "view"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"
    EXPORT = "export"
    IMPORT = "import"


class WorkspacePermission(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_ROLES = "manage_roles"
    MANAGE_PIPELINES = "manage_pipelines"  # pipelines, stages and custom fields
    MANAGE_INTEGRATIONS = "manage_integrations"
    MANAGE_BILLING = "manage_billing"
    VIEW_AUDIT_LOG = "view_audit_log"


def _is_member(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active)


def can(user: User, action: Action, record_type: RecordType) -> bool:
    return _is_member(user)


def has_permission(user: User, permission: WorkspacePermission) -> bool:
    return _is_member(user) and user.is_workspace_admin


def require(user: User, action: Action, record_type: RecordType) -> None:
    """Raise PermissionDenied (403) unless `user` may take `action` on records of `record_type`."""
    if not can(user, action, record_type):
        raise PermissionDenied


def require_permission(user: User, permission: WorkspacePermission) -> None:
    if not has_permission(user, permission):
        raise PermissionDenied


def visible(user: User, queryset: QuerySet[M], record_type: RecordType) -> QuerySet[M]:
    """`queryset` narrowed to the records `user` may see."""
    if not can(user, Action.VIEW, record_type):
        return queryset.none()
    return queryset


def get_visible_or_404(user: User, queryset: QuerySet[M], record_type: RecordType, pk: object) -> M:
    """The record if `user` may see it; a record they may not see is a 404, exactly like a missing one."""
    try:
        return visible(user, queryset, record_type).get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
