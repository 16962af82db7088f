"""Reads on workspace users, their API keys, invitations, roles, teams and the audit log."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone

from tenants.accounts import kinds
from tenants.accounts.models import ApiKey, AuditEvent, Invitation, Role, Team, User
from tenants.accounts.policy import WorkspacePermission, team_subtree_ids

# Holding both makes a person an administrator: they can always give anyone (themselves included) any right.
ADMINISTRATOR_PERMISSIONS = (WorkspacePermission.MANAGE_USERS, WorkspacePermission.MANAGE_ROLES)


def active_users() -> QuerySet[User]:
    """The workspace's active people, by name: owners, assignees, filters (never an integration's identity:
    records are owned by people; what a connection did shows as its actor in the history)."""
    # Pickers and filters list hundreds of people: their roles are not read, so not loaded.
    people = User.objects.select_related(None).filter(is_active=True).exclude(kind=User.Kind.INTEGRATION)
    return people.order_by("full_name", "email", "id")


def seats() -> QuerySet[User]:
    """The people the workspace pays for: active, and people (never support staff or integrations)."""
    return User.objects.select_related(None).filter(is_active=True, kind=User.Kind.PERSON)


def active_user_count() -> int:
    return seats().count()


def api_keys_of(user: User) -> QuerySet[ApiKey]:
    """The user's own keys, revoked ones included (the profile shows when they were revoked)."""
    return ApiKey.objects.filter(user=user)


def api_key_get(user: User, pk: object) -> ApiKey:
    """One of the user's own keys; anyone else's is a 404, exactly like a missing one."""
    return get_object_or_404(api_keys_of(user), pk=pk)


# --- workspace administration: people, invitations, roles, teams, the audit log ---------------------------


def administrators() -> QuerySet[User]:
    """Active people whose role lets them manage both users and roles: the workspace must always keep one."""
    return User.objects.filter(is_active=True, role__permissions__contains=[str(p) for p in ADMINISTRATOR_PERMISSIONS])


def users_for_admin() -> QuerySet[User]:
    """Every person of the workspace, deactivated ones included, for the users page (integrations have their
    own page)."""
    return (
        User.objects.exclude(kind=User.Kind.INTEGRATION)
        .select_related("role", "team")
        .order_by("-is_active", "full_name", "email", "id")
    )


def user_get_for_admin(pk: object) -> User:
    return get_object_or_404(users_for_admin(), pk=pk)


def invitations_pending() -> QuerySet[Invitation]:
    return Invitation.objects.select_related("role", "team", "invited_by").filter(
        accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    )


def invitation_get(pk: object) -> Invitation:
    return get_object_or_404(Invitation.objects.select_related("role", "team"), pk=pk)


def roles_with_holders() -> QuerySet[Role]:
    """Roles, built-in first, each with `holders`: how many active people hold it."""
    custom_last = Case(When(builtin="", then=Value(1)), default=Value(0))
    return Role.objects.annotate(holders=Count("users", filter=Q(users__is_active=True))).order_by(custom_last, "name")


def role_get(pk: object) -> Role:
    return get_object_or_404(Role, pk=pk)


def role_holder_count(role: Role) -> int:
    """Everyone holding the role, deactivated people included (they keep it if reactivated)."""
    return User.objects.filter(role=role).count()


@dataclass(frozen=True)
class TeamNode:
    team: Team
    depth: int
    members: list[User]

    @property
    def indent(self) -> int:
        # In em, a whole number: a fraction would be written with the locale's decimal separator.
        return self.depth * 2


def teams_tree() -> list[TeamNode]:
    """Every team, parents before their children, with its depth and active members (two queries)."""
    teams = list(Team.objects.select_related("head", "parent").order_by("name"))
    members: dict[int, list[User]] = {}
    for user in User.objects.filter(is_active=True, team__isnull=False).order_by("full_name", "email"):
        members.setdefault(user.team_id or 0, []).append(user)
    children: dict[int | None, list[Team]] = {}
    for team in teams:
        children.setdefault(team.parent_id, []).append(team)
    nodes: list[TeamNode] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int) -> None:
        for team in children.get(parent, []):
            if team.pk not in seen:
                seen.add(team.pk)
                nodes.append(TeamNode(team=team, depth=depth, members=members.get(team.pk, [])))
                walk(team.pk, depth + 1)

    walk(None, 0)
    return nodes


def team_get(pk: object) -> Team:
    return get_object_or_404(Team.objects.select_related("head", "parent"), pk=pk)


def team_descendant_ids(team: Team) -> set[int]:
    """The team's id and those of every team below it."""
    return team_subtree_ids(team.pk)


def records_owned_by(user: User) -> dict[str, int]:
    """How many records an owner transfer of `user` would move, per kind (for the admin's confirmation)."""
    return {transfer.plural: transfer.records(user).count() for _kind, transfer in kinds.transfers()}


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: int | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    text: str = ""


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def audit_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The audit log, newest first, narrowed by `filters`; the caller has checked VIEW_AUDIT_LOG."""
    events = AuditEvent.objects.order_by("-at", "-id")
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.actor is not None:
        events = events.filter(actor_id=filters.actor)
    if filters.date_from is not None:
        events = events.filter(at__gte=_day_start(filters.date_from))
    if filters.date_to is not None:
        events = events.filter(at__lt=_day_start(filters.date_to + datetime.timedelta(days=1)))
    if filters.text:
        text = filters.text.strip()
        events = events.filter(
            Q(target_label__icontains=text) | Q(target_id=text[:64]) | Q(target_type__iexact=text[:32])
        )
    return events


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    # The id to pass as `before` for the next (older) page; None on the last page.
    next_before: int | None


def audit_page(filters: AuditFilters, *, before: int | None = None, limit: int = 50) -> AuditPage:
    """One page of the filtered log, older than the event `before`: limit + 1 rows are read to know whether
    another page follows, so the (large) table is never counted."""
    events = audit_events(filters)
    if before is not None:
        anchor = AuditEvent.objects.filter(pk=before).values_list("at", flat=True).first()
        if anchor is not None:
            events = events.filter(Q(at__lt=anchor) | Q(at=anchor, id__lt=before))
    rows = list(events.select_related(None)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(events=rows, next_before=rows[-1].pk if more and rows else None)


def audit_actors() -> QuerySet[User]:
    """People the log can be filtered by: everyone of the workspace, deactivated ones included."""
    return User.objects.order_by("full_name", "email", "id")


def audit_export_rows(filters: AuditFilters, *, upto_id: int, chunk: int = 1000) -> Iterator[AuditEvent]:
    """The filtered log up to event `upto_id`, newest first, read in chunks (keyset, not offsets) so a long
    export streams in constant memory."""
    events = audit_events(filters).filter(id__lte=upto_id).select_related(None)
    last: AuditEvent | None = None
    while True:
        page = events
        if last is not None:
            page = page.filter(Q(at__lt=last.at) | Q(at=last.at, id__lt=last.pk))
        rows = list(page[:chunk])
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1]
