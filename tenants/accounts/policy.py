"""The access policy: the one place that decides who may see and do what in a workspace.

Views, the API, search, exports, tasks and integrations ask it; no query for user-visible data bypasses it.
A user's role grants, per record type and action, a scope: none, own (records the user owns or is assigned
to), team (records of the user's team and the teams below it) or all; plus workspace permissions and fields
hidden from its holders. A user without a role, or inactive, may do nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from tenants.accounts import kinds
from tenants.accounts.models import Scope, Team, User

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
    MANAGE_PROCESSES = "manage_processes"  # business processes: define, publish, see and cancel runs
    MANAGE_BACKUPS = "manage_backups"  # see the workspace's backups, export all its data


# What a kind of record is and who owns one (its ownership paths) comes from the registry of record kinds
# (kinds.py), where the apps register them. A kind is named by its string key ("deal"; a str enum member works).
_ORDER = {Scope.NONE: 0, Scope.OWN: 1, Scope.TEAM: 2, Scope.ALL: 3}


def _is_member(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _granted(user: User, action: str, record_type: str) -> Scope:
    role = user.role if _is_member(user) else None
    if role is None:
        return Scope.NONE
    try:
        scope = Scope(role.grants.get(str(record_type), {}).get(str(action), Scope.NONE))
    except ValueError:
        return Scope.NONE
    if scope != Scope.NONE and not kinds.get(record_type).owned:
        return Scope.ALL
    return scope


def scope_of(user: User, action: Action, record_type: str) -> Scope:
    """How far `user` may take `action` on records of `record_type`. An action never reaches further than
    what the user may see."""
    scope = _granted(user, action, record_type)
    if action != Action.VIEW and scope != Scope.NONE:
        view = _granted(user, Action.VIEW, record_type)
        scope = min(scope, view, key=_ORDER.__getitem__)
    return scope


def can(user: User, action: Action, record_type: str) -> bool:
    """May `user` take `action` on at least some records of `record_type`?"""
    return scope_of(user, action, record_type) != Scope.NONE


def has_permission(user: User, permission: WorkspacePermission) -> bool:
    return _is_member(user) and user.role is not None and str(permission) in user.role.permissions


def require(user: User, action: Action, record_type: str) -> None:
    """Raise PermissionDenied (403) unless `user` may take `action` on records of `record_type`."""
    if not can(user, action, record_type):
        raise PermissionDenied


def require_permission(user: User, permission: WorkspacePermission) -> None:
    if not has_permission(user, permission):
        raise PermissionDenied


def team_subtree_ids(team_id: int) -> set[int]:
    """The team's id and those of every team below it (one query: workspaces have tens of teams)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Team.objects.values_list("id", "parent_id"):
        children.setdefault(parent, []).append(pk)
    found, todo = set(), [team_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, ()))
    return found


def team_member_ids(user: User) -> list[int]:
    """Ids of the people in `user`'s team and the teams below it (the user included); read once per user
    object, that is once per request."""
    cached = user.__dict__.get("_policy_team_member_ids")
    if cached is not None:
        return cached
    ids = [user.pk]
    if user.team_id is not None:
        teams = team_subtree_ids(user.team_id)
        ids = sorted(set(User.objects.filter(team_id__in=teams).values_list("id", flat=True)) | {user.pk})
    user.__dict__["_policy_team_member_ids"] = ids
    return ids


def _people(user: User, scope: Scope) -> list[int]:
    return [user.pk] if scope == Scope.OWN else team_member_ids(user)


def _owned_by(path: str, people: list[int]) -> Q:
    person = Q(**{f"{path}_id__in": people}) if len(people) > 1 else Q(**{f"{path}_id": people[0]})
    link, _, _owner = path.rpartition("__")
    if not link:
        return person
    # Ownership through a linked record is `link_id IN (the people's records of that kind)`, not a join: each
    # subquery runs once (a hashed set), so the scan can stay on the index that serves the page's order.
    linked = kinds.get(link).model._default_manager.filter(
        **{"owner_id__in": people} if len(people) > 1 else {"owner_id": people[0]}
    )
    return Q(**{f"{link}_id__in": linked.values("pk")})


def scope_filter(user: User, scope: Scope, record_type: str) -> Q | None:
    """The condition for records within `scope` of `user`; None when nothing narrows (scope all)."""
    if scope == Scope.ALL:
        return None
    if scope == Scope.NONE:
        return Q(pk__in=[])
    people = _people(user, scope)
    condition = Q()
    for path in kinds.owner_paths(record_type):
        condition |= _owned_by(path, people)
    return condition


def visible(user: User, queryset: QuerySet[M], record_type: str, action: Action = Action.VIEW) -> QuerySet[M]:
    """`queryset` narrowed to the records `user` may see (or take `action` on)."""
    scope = scope_of(user, action, record_type)
    if scope == Scope.NONE:
        return queryset.none()
    condition = scope_filter(user, scope, record_type)
    return queryset if condition is None else queryset.filter(condition)


def get_visible_or_404(user: User, queryset: QuerySet[M], record_type: str, pk: object) -> M:
    """The record if `user` may see it; a record they may not see is a 404, exactly like a missing one."""
    try:
        return visible(user, queryset, record_type).get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def can_on(user: User, action: Action, record_type: str, record: Model) -> bool:
    """May `user` take `action` on this record?"""
    scope = scope_of(user, action, record_type)
    if scope in (Scope.NONE, Scope.ALL):
        return scope == Scope.ALL
    people = _people(user, scope)
    paths = kinds.owner_paths(record_type)
    if any(getattr(record, f"{path}_id", None) in people for path in paths if "__" not in path):
        return True
    if record.pk is None or all("__" not in path for path in paths):
        return False
    # Ownership through a linked record: ask the database.
    return visible(user, type(record)._default_manager.filter(pk=record.pk), record_type, action).exists()


def require_on(user: User, action: Action, record_type: str, record: Model) -> None:
    """Raise PermissionDenied (403) unless `user` may take `action` on `record` (which they can see)."""
    if not can_on(user, action, record_type, record):
        raise PermissionDenied


def hidden_fields(user: User, record_type: str) -> frozenset[str]:
    """Fields of `record_type` that `user` may not see or set: model field names and "cf:<key>" for custom
    fields. Pages, the API, search and exports leave them out."""
    role = user.role if _is_member(user) else None
    if role is None or not role.hidden_fields:
        return frozenset()
    return frozenset(role.hidden_fields.get(str(record_type), ()))


def hides(user: User, record_type: str, name: str) -> bool:
    """Does `user` not see `name` on records of `record_type`? `name` is a field ("amount", "cf:<key>"), a
    custom field as history records it ("custom_fields.<key>") or something that shows a hidden field's value
    in another form, as the kind registers it (a deal's "line_items" go with its amount). The one decision every
    page, export, search and API answer asks."""
    return is_hidden(hidden_fields(user, record_type), record_type, name)


def is_hidden(hidden: frozenset[str], record_type: str, name: str) -> bool:
    """`hides`, given the fields a role hides on `record_type` (read once for a page of records)."""
    if not hidden:
        return False
    if name.startswith("custom_fields."):
        name = "cf:" + name.removeprefix("custom_fields.")
    if name in hidden:
        return True
    return any(field in hidden for field in kinds.get(record_type).hidden_with(name))


def concealed(hidden: frozenset[str], record_type: str) -> frozenset[str]:
    """The fields a role hides on `record_type` and everything they also hide (for a response's keys, a query's
    terms): the same decision as `is_hidden`, as a set."""
    return kinds.get(record_type).concealed(hidden) if hidden else hidden
