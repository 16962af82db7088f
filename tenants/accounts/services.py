"""Writes on workspace users, their API keys, invitations, roles and teams. Every path that creates or changes
a user, a role or a team goes through here, checks the access policy and writes an audit entry."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tenants.access import workspace_write
from tenants.accounts import identity, kinds, policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import ApiKey, AuditEvent, Invitation, Role, Scope, Team, User, normalize_email
from tenants.accounts.roles import ACTIONS, INTEGRATION, PERMISSIONS, SALES_MANAGER, builtin_role
from tenants.accounts.selectors import (
    ADMINISTRATOR_PERMISSIONS,
    AuditFilters,
    administrators,
    audit_events,
    team_descendant_ids,
)
from tenants.context import current_schema
from tenants.events.outbox import Type as EventType
from tenants.events.outbox import event_record

API_KEY_SCHEME = "kontor"
# A key used again within this window keeps its recorded time: no write on every request.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)


@workspace_write
def user_create(
    *, email: str, password: str, full_name: str = "", role: Role | None = None, team: Team | None = None
) -> User:
    """Create a user in the current schema; raises ValidationError on a bad email, name or password.
    Without a role the person is a sales manager: they see only what they own until an admin says otherwise."""
    user = User(
        email=normalize_email(email),
        full_name=full_name.strip(),
        role=role or builtin_role(SALES_MANAGER),
        team=team,
    )
    validate_password(password, user=user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@workspace_write
def integration_identity_create(*, name: str, role: Role | None = None, email: str | None = None) -> User:
    """The user a connection acts as in the CRM, so that the access policy, history, search and events apply to
    what it does as to a person's work. Not a person: no seat, no password, it cannot sign in."""
    user = User(
        email=email or f"integration-{secrets.token_hex(8)}@integrations.invalid",
        full_name=name.strip()[:150],
        kind=User.Kind.INTEGRATION,
        role=role or builtin_role(INTEGRATION),
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def user_snapshot(user: User) -> dict[str, Any]:
    """What an event tells about a person (never their password)."""
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "role_id": user.role_id,
        "team_id": user.team_id,
        "is_active": user.is_active,
        "kind": user.kind,
    }


def _user_event(type: str, user: User, *, actor: User | None, fields: Iterable[str] = ()) -> None:
    event_record(type=type, kind="user", record=user, actor=actor, fields=fields, snapshot=user_snapshot(user))


@transaction.atomic
def password_reset_request(*, user: User, domain: str, use_https: bool) -> None:
    """Someone asked for a reset link for this account: the password_reset_mail consumer mails it once this
    commits, with a token made then (the outbox never holds a secret)."""
    event_record(
        type=EventType.USER_PASSWORD_RESET_REQUESTED,
        kind="user",
        record=user,
        snapshot={},
        context={"domain": domain, "protocol": "https" if use_https else "http"},
    )


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    # The full key, shown to its owner once and never stored.
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, actor: User, name: str) -> IssuedApiKey:
    """A new key of `actor`'s own; raises ValidationError on a bad name."""
    if not (actor.is_authenticated and actor.is_active):
        raise PermissionDenied
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    secret = f"{API_KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(user=actor, name=name.strip(), prefix=prefix, key_hash=_hash(secret))
    key.full_clean()
    key.save()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.API_KEY_CREATED,
        target=key,
        target_type="api_key",
        details={"prefix": prefix},
    )
    return IssuedApiKey(key=key, secret=secret)


@transaction.atomic
def api_key_revoke(*, actor: User, key: ApiKey) -> ApiKey:
    """Revoke one of `actor`'s keys; requests with it answer 401 from now on. Revoking twice is harmless."""
    if key.user_id != actor.pk:
        raise PermissionDenied
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action=AuditEvent.Action.API_KEY_REVOKED,
            target=key,
            target_type="api_key",
            details={"prefix": key.prefix},
        )
    return key


def api_key_authenticate(secret: str) -> User | None:
    """The active user a key belongs to, or None for a malformed, unknown or revoked key or an inactive user."""
    scheme, _, rest = secret.strip().partition("_")
    prefix, _, _ = rest.partition("_")
    if scheme != API_KEY_SCHEME or not prefix:
        return None
    # From the cache (identity.py): a revoked key or a deactivated user is refused at the next request.
    holder = identity.api_key_holder(prefix)
    if holder is None or not hmac.compare_digest(holder.key_hash, _hash(secret.strip())) or not holder.user.is_active:
        return None
    now = timezone.now()
    if holder.last_used_at is None or now - holder.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=holder.key_id).update(last_used_at=now)
        identity.api_key_used(prefix, holder, now)
    return holder.user


# --- guards shared by the administration services ----------------------------------------------------------

_RANK = {Scope.NONE: 0, Scope.OWN: 1, Scope.TEAM: 2, Scope.ALL: 3}
Perm = policy.WorkspacePermission


def _rank(grants: Mapping[str, Mapping[str, str]], record_type: str, action: str) -> int:
    try:
        return _RANK[Scope(grants.get(record_type, {}).get(action, Scope.NONE))]
    except ValueError:
        return 0


def _is_admin_role(role: Role | None) -> bool:
    return role is not None and all(str(p) in role.permissions for p in ADMINISTRATOR_PERMISSIONS)


def _role_exceeds(role: Role | None, holder_of: Role | None) -> bool:
    """Does `role` give anything `holder_of` lacks: a wider scope, a permission, a field `holder_of` hides?"""
    if role is None:
        return False
    if holder_of is None:
        return True
    return bool(
        _beyond(
            grants=role.grants, permissions=role.permissions, hidden_fields=role.hidden_fields, actor_role=holder_of
        )
    )


def _beyond(
    *,
    grants: Mapping[str, Mapping[str, str]],
    permissions: Iterable[str],
    hidden_fields: Mapping[str, Iterable[str]],
    actor_role: Role,
    before: Role | None = None,
) -> dict[str, list[str]]:
    """Errors for every right in the given set that `actor_role` does not hold, unless `before` (the role being
    edited) already had it: nobody hands out more than they have themselves."""
    old_grants = before.grants if before else {}
    old_permissions = set(before.permissions) if before else set()
    old_hidden = before.hidden_fields if before else {}
    errors: dict[str, list[str]] = {}
    for record_type in kinds.all_kinds():
        for action in ACTIONS:
            wanted = _rank(grants, record_type.key, action)
            if wanted > _rank(actor_role.grants, record_type.key, action) and wanted > _rank(
                old_grants, record_type.key, action
            ):
                errors.setdefault("grants", []).append(
                    _("You cannot grant “%(action)s” on %(type)s wider than your own role does.")
                    % {"action": action, "type": record_type.label}
                )
    for permission in sorted(set(permissions) - set(actor_role.permissions) - old_permissions):
        errors.setdefault("permissions", []).append(
            _("You cannot grant the permission “%(permission)s”: your own role does not have it.")
            % {"permission": permission}
        )
    for record_type, fields in actor_role.hidden_fields.items():
        # A field the edited role already showed may stay shown; a new role must hide all of them.
        already_shown = set() if before is None else set(fields) - set(old_hidden.get(record_type, ()))
        shown = set(fields) - set(hidden_fields.get(record_type, ())) - already_shown
        if shown:
            errors.setdefault("hidden_fields", []).append(
                _("Fields hidden from you must stay hidden: %(fields)s.") % {"fields": ", ".join(sorted(shown))}
            )
    return errors


def _lock_administrators() -> None:
    """Serialize, per workspace, the writes that could leave it without an administrator: two admins demoting
    each other at the same moment must not both succeed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':administrators'))")


def _last_administrator_error() -> str:
    return _(
        "This is the last active administrator (managing users and roles): make someone else an administrator first."
    )


def _is_last_administrator(user: User) -> bool:
    return user.is_active and _is_admin_role(user.role) and not administrators().exclude(pk=user.pk).exists()


def _locked_user(user: User) -> User:
    return User.objects.select_for_update(of=("self",)).select_related("role", "team").get(pk=user.pk)


# --- people ------------------------------------------------------------------------------------------------


def _label(obj: object | None) -> str:
    return str(obj) if obj is not None else ""


@workspace_write
def user_change(*, actor: User, user: User, role: Role, team: Team | None) -> User:
    """Give `user` another role and/or team. Refused (ValidationError on "role") for one's own role, for a
    role with rights the actor lacks, and for demoting the last administrator; PermissionDenied for a person
    whose rights exceed the actor's."""
    policy.require_permission(actor, Perm.MANAGE_USERS)
    _lock_administrators()
    user = _locked_user(user)
    changes: dict[str, list[str]] = {}
    if role.pk != user.role_id:
        if _is_last_administrator(user) and not _is_admin_role(role):
            raise ValidationError({"role": [_last_administrator_error()]})
        if user.pk == actor.pk:
            raise ValidationError({"role": [_("You cannot change your own role.")]})
    if user.pk != actor.pk and _role_exceeds(user.role, actor.role):
        raise PermissionDenied
    if role.pk != user.role_id:
        if _role_exceeds(role, actor.role):
            raise ValidationError({"role": [_("You cannot give a role with rights you do not hold yourself.")]})
        changes["role"] = [_label(user.role), role.name]
        user.role = role
    if (team.pk if team else None) != user.team_id:
        changes["team"] = [_label(user.team), _label(team)]
        user.team = team
    if not changes:
        return user
    user.full_clean(exclude=["password"])
    user.save(update_fields=["role", "team"])
    audit_record(actor=actor, action=AuditEvent.Action.USER_CHANGED, target=user, details=changes)
    _user_event(EventType.USER_ROLE_CHANGED, user, actor=actor, fields=changes)
    return user


@workspace_write
def user_deactivate(*, actor: User, user: User) -> User:
    """The person can no longer sign in nor use their API keys; their records stay and can be transferred."""
    policy.require_permission(actor, Perm.MANAGE_USERS)
    _lock_administrators()
    user = _locked_user(user)
    if not user.is_active:
        return user
    if _is_last_administrator(user):
        raise ValidationError(_last_administrator_error())
    if user.pk == actor.pk:
        raise ValidationError(_("You cannot deactivate yourself."))
    if _role_exceeds(user.role, actor.role):
        raise PermissionDenied
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, action=AuditEvent.Action.USER_DEACTIVATED, target=user)
    _user_event(EventType.USER_DEACTIVATED, user, actor=actor, fields=["is_active"])
    return user


@transaction.atomic
def user_two_factor_reset(*, actor: User, user: User) -> User:
    """Turn off the two-factor authentication of someone who lost both their authenticator and their recovery
    codes: they sign in with their password and set it up again (at once, where the workspace requires it)."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    policy.require_permission(actor, Perm.MANAGE_USERS)
    user = _locked_user(user)
    if user.pk == actor.pk:
        raise ValidationError(_("Turn your own two-factor authentication off on your profile."))
    if _role_exceeds(user.role, actor.role):
        raise PermissionDenied
    removed, _details = TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    if removed:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.TWO_FACTOR_DISABLED,
            target=user,
            details={"reset_by_administrator": True},
        )
    return user


@workspace_write
def user_reactivate(*, actor: User, user: User) -> User:
    policy.require_permission(actor, Perm.MANAGE_USERS)
    user = _locked_user(user)
    if _role_exceeds(user.role, actor.role):
        raise PermissionDenied
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, action=AuditEvent.Action.USER_REACTIVATED, target=user)
    _user_event(EventType.USER_ACTIVATED, user, actor=actor, fields=["is_active"])
    return user


@workspace_write
def records_transfer(*, actor: User, source: User, target: User) -> dict[str, int]:
    """Move every record `source` holds to `target`, all or nothing: for each kind that registers an owner
    transfer (kinds.py), the records it names (companies, contacts, leads and deals owned by `source`, the open
    activities assigned to them). Each record goes through its kind's own service, so history and search stay
    right.
    Refused (ValidationError on "target") for an inactive target or the source itself; PermissionDenied unless
    the actor may edit every record of the kinds that move."""
    policy.require_permission(actor, Perm.MANAGE_USERS)
    if target.pk == source.pk:
        raise ValidationError({"target": [_("Choose someone other than the person whose records move.")]})
    fresh = User.objects.filter(pk=target.pk, is_active=True).first() if target.pk else None
    if fresh is None:
        raise ValidationError({"target": [_("Records can only go to an active person.")]})
    target = fresh
    counts: dict[str, int] = {}
    for kind, transfer in kinds.transfers():
        ids = list(transfer.records(source).order_by("pk").values_list("pk", flat=True))
        # Records the actor could not edit would silently stay behind: refuse the whole transfer instead.
        if ids and policy.scope_of(actor, policy.Action.EDIT, kind.key) != Scope.ALL:
            raise PermissionDenied
        moved = 0
        for start in range(0, len(ids), transfer.batch):
            moved += transfer.assign(actor=actor, ids=ids[start : start + transfer.batch], owner=target)
        counts[transfer.plural] = moved
    audit_record(
        actor=actor,
        action=AuditEvent.Action.RECORDS_TRANSFERRED,
        target=source,
        details={"to": {"id": target.pk, "email": target.email}, **counts},
    )
    return counts


# --- invitations -------------------------------------------------------------------------------------------

INVITATION_LIFETIME = datetime.timedelta(hours=72)
_INVITATION_SALT = "kontor.accounts.invitation"


class InvitationInvalid(Exception):
    """The link cannot be used; `message` says why, for the person who followed it."""

    def __init__(self, message: str, *, gone: bool = True) -> None:
        super().__init__(message)
        self.message = message
        # Expired, used or withdrawn (410), as opposed to a link that never was one (404).
        self.status = 410 if gone else 404


def invitation_token_make(invitation: Invitation) -> str:
    # The schema is signed in too: invitation ids repeat from one workspace to the next.
    return signing.dumps({"i": invitation.pk, "s": current_schema()}, salt=_INVITATION_SALT)


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation of this workspace a link carries; raises InvitationInvalid for a tampered,
    foreign, expired, used or revoked one."""
    invalid = _("This invitation link is not valid. Ask your administrator to send a new one.")
    try:
        data = signing.loads(token, salt=_INVITATION_SALT, max_age=INVITATION_LIFETIME)
    except signing.SignatureExpired as exc:
        raise InvitationInvalid(_("This invitation has expired. Ask your administrator to send a new one.")) from exc
    except signing.BadSignature as exc:
        raise InvitationInvalid(invalid, gone=False) from exc
    if not isinstance(data, dict) or data.get("s") != current_schema() or not isinstance(data.get("i"), int):
        raise InvitationInvalid(invalid, gone=False)
    invitation = Invitation.objects.select_related("role", "team").filter(pk=data["i"]).first()
    if invitation is None:
        raise InvitationInvalid(invalid, gone=False)
    if invitation.accepted_at is not None:
        raise InvitationInvalid(_("This invitation has already been used. Sign in with your email and password."))
    if invitation.revoked_at is not None:
        raise InvitationInvalid(_("This invitation has been withdrawn."))
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid(_("This invitation has expired. Ask your administrator to send a new one."))
    return invitation


def invitation_email(invitation: Invitation, *, site_url: str, inviter: User | None) -> tuple[str, str]:
    """The subject and body of the mail that carries an invitation's link (on `site_url`)."""
    url = site_url.rstrip("/") + reverse("invitation:accept", args=[invitation_token_make(invitation)])
    tenant = getattr(connection, "tenant", None)
    context = {
        "invitation": invitation,
        "url": url,
        "inviter": inviter.get_full_name() if inviter is not None else "",
        "workspace_name": getattr(tenant, "name", "") or "Kontor",
        "hours": int(INVITATION_LIFETIME.total_seconds() // 3600),
    }
    # In the workspace's language: the invited person has chosen none yet.
    with translation.override(getattr(tenant, "language", None) or settings.LANGUAGE_CODE):
        subject = render_to_string("accounts/manage/invitation_subject.txt", context).strip()
        return subject, render_to_string("accounts/manage/invitation_email.txt", context)


@workspace_write
def invitation_create(
    *, actor: User, email: str, role: Role, team: Team | None = None, full_name: str = "", site_url: str
) -> Invitation:
    """Invite someone by email with a role and team; the signed link (on `site_url`, the workspace's address)
    is mailed once the invitation is committed. Field errors for a taken address or a role above the actor's."""
    policy.require_permission(actor, Perm.MANAGE_USERS)
    email = normalize_email(email)
    existing = User.objects.filter(email=email).first()
    errors: dict[str, list[str]] = {}
    if existing is not None:
        errors["email"] = [
            _("This person is already a member of the workspace.")
            if existing.is_active
            else _("This address belongs to a deactivated person: reactivate them instead.")
        ]
    elif Invitation.objects.filter(
        email=email, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).exists():
        errors["email"] = [_("An invitation to this address is already pending.")]
    if _role_exceeds(role, actor.role):
        errors["role"] = [_("You cannot give a role with rights you do not hold yourself.")]
    now = timezone.now()
    invitation = Invitation(
        email=email,
        full_name=full_name.strip(),
        role=role,
        team=team,
        invited_by=actor,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    try:
        invitation.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    invitation.save()
    # The invitation_email consumer mails the link once this commits.
    event_record(
        type=EventType.USER_INVITED,
        kind="invitation",
        record=invitation,
        actor=actor,
        snapshot={
            "email": invitation.email,
            "full_name": invitation.full_name,
            "role_id": role.pk,
            "team_id": team.pk if team else None,
            "expires_at": invitation.expires_at,
        },
        context={"site_url": site_url},
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.INVITATION_SENT,
        target=invitation,
        details={"role": role.name, "team": _label(team)},
    )
    return invitation


@workspace_write
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    """Withdraw an invitation: its link stops working. An accepted one cannot be withdrawn."""
    policy.require_permission(actor, Perm.MANAGE_USERS)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has already been accepted."))
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action=AuditEvent.Action.INVITATION_REVOKED, target=invitation)
    return invitation


@workspace_write
def invitation_accept(*, token: str, full_name: str, password: str) -> User:
    """Create the invited person's account with the invitation's role and team; the link dies with it.
    Raises InvitationInvalid for a link that cannot be used, ValidationError on a bad name or password."""
    invitation = invitation_for_token(token)
    # Two submissions of one link at once: the second waits here and then finds it used.
    Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    invitation = invitation_for_token(token)
    user = user_create(
        email=invitation.email, password=password, full_name=full_name, role=invitation.role, team=invitation.team
    )
    invitation.accepted_at = timezone.now()
    invitation.user = user
    invitation.save(update_fields=["accepted_at", "user"])
    _user_event(EventType.USER_ACTIVATED, user, actor=user)
    audit_record(
        actor=user,
        action=AuditEvent.Action.INVITATION_ACCEPTED,
        target=invitation,
        details={"user_id": user.pk, "role": str(user.role)},
    )
    return user


# --- roles -------------------------------------------------------------------------------------------------


def role_snapshot(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "description": role.description,
        "grants": role.grants,
        "permissions": list(role.permissions),
        "hidden_fields": role.hidden_fields,
    }


def hideable_fields(record_type: str | kinds.RecordKind) -> dict[str, str]:
    """What a role may hide on records of `record_type`: the kind's fields and its custom fields."""
    return kinds.hideable_fields(record_type)


def scopes_for(record_type: str | kinds.RecordKind) -> tuple[Scope, ...]:
    # Shared catalogs (products) belong to no one: own and team would mean all.
    return tuple(Scope) if kinds.get(record_type).owned else (Scope.NONE, Scope.ALL)


def _clean_rights(
    grants: Mapping[str, Mapping[str, str]], permissions: Iterable[str], hidden_fields: Mapping[str, Iterable[str]]
) -> tuple[dict[str, dict[str, str]], list[str], dict[str, list[str]]]:
    """Validated, canonical rights (scope none and empty lists left out); raises ValidationError keyed by
    grants / permissions / hidden_fields for an unknown record type, action, scope, permission or field."""
    errors: dict[str, list[str]] = {}
    types = {k.key: k for k in kinds.all_kinds()}
    clean_grants: dict[str, dict[str, str]] = {}
    for type_name, actions in grants.items():
        record_type = types.get(str(type_name))
        if record_type is None or not isinstance(actions, Mapping):
            errors.setdefault("grants", []).append(_("Unknown record type “%(name)s”.") % {"name": type_name})
            continue
        for action, scope in actions.items():
            if action not in ACTIONS:
                errors.setdefault("grants", []).append(_("Unknown action “%(name)s”.") % {"name": action})
            elif scope not in [str(s) for s in scopes_for(record_type)]:
                errors.setdefault("grants", []).append(
                    _("“%(scope)s” is not a scope %(type)s can have.") % {"scope": scope, "type": record_type.label}
                )
            elif scope != Scope.NONE:
                clean_grants.setdefault(str(record_type), {})[action] = str(scope)
    ordered_grants = {
        str(t): {a: clean_grants[str(t)][a] for a in ACTIONS if a in clean_grants[str(t)]}
        for t in kinds.all_kinds()
        if str(t) in clean_grants
    }
    permissions = list(dict.fromkeys(permissions))
    if unknown := [p for p in permissions if p not in PERMISSIONS]:
        errors["permissions"] = [_("Unknown permission “%(name)s”.") % {"name": p} for p in unknown]
    clean_hidden: dict[str, list[str]] = {}
    for type_name, fields in hidden_fields.items():
        record_type = types.get(str(type_name))
        if record_type is None:
            errors.setdefault("hidden_fields", []).append(_("Unknown record type “%(name)s”.") % {"name": type_name})
            continue
        allowed = hideable_fields(record_type)
        fields = list(dict.fromkeys(fields))
        for name in fields:
            if name not in allowed:
                errors.setdefault("hidden_fields", []).append(
                    _("%(type)s has no field “%(name)s” that can be hidden.")
                    % {"type": record_type.label, "name": name}
                )
        if fields:
            clean_hidden[str(record_type)] = sorted(f for f in fields if f in allowed)
    if errors:
        raise ValidationError(errors)
    return (
        ordered_grants,
        [p for p in PERMISSIONS if p in permissions],
        {str(t): clean_hidden[str(t)] for t in kinds.all_kinds() if clean_hidden.get(str(t))},
    )


def _apply_role(
    *,
    actor: User,
    role: Role,
    before: Role | None,
    name: str,
    description: str,
    grants: Mapping[str, Mapping[str, str]],
    permissions: Iterable[str],
    hidden_fields: Mapping[str, Iterable[str]],
) -> None:
    clean_grants, clean_permissions, clean_hidden = _clean_rights(grants, permissions, hidden_fields)
    errors = _beyond(
        grants=clean_grants,
        permissions=clean_permissions,
        hidden_fields=clean_hidden,
        actor_role=actor.role or Role(),
        before=before,
    )
    role.name = name.strip()
    role.description = description.strip()
    role.grants, role.permissions, role.hidden_fields = clean_grants, clean_permissions, clean_hidden
    try:
        role.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


@workspace_write
def role_create(
    *,
    actor: User,
    name: str,
    description: str = "",
    grants: Mapping[str, Mapping[str, str]],
    permissions: Iterable[str] = (),
    hidden_fields: Mapping[str, Iterable[str]] | None = None,
) -> Role:
    """A custom role. Nobody can grant a scope, a permission or a view of a field they lack themselves."""
    policy.require_permission(actor, Perm.MANAGE_ROLES)
    role = Role()
    _apply_role(
        actor=actor,
        role=role,
        before=None,
        name=name,
        description=description,
        grants=grants,
        permissions=permissions,
        hidden_fields=hidden_fields or {},
    )
    role.save()
    audit_record(
        actor=actor, action=AuditEvent.Action.ROLE_CREATED, target=role, details={"after": role_snapshot(role)}
    )
    return role


@workspace_write
def role_copy(*, actor: User, role: Role) -> Role:
    """An editable custom copy of a role (built-in ones are kept as shipped)."""
    name = _("Copy of %(name)s") % {"name": role.name}
    candidate, n = name, 2
    while Role.objects.filter(name=candidate).exists():
        candidate, n = f"{name} ({n})", n + 1
    return role_create(
        actor=actor,
        name=candidate[:100],
        description=role.description,
        grants=role.grants,
        permissions=role.permissions,
        hidden_fields=role.hidden_fields,
    )


def _editable_role(actor: User, role: Role) -> Role:
    policy.require_permission(actor, Perm.MANAGE_ROLES)
    # Built-in roles are kept as shipped; one's own role cannot be touched (nobody raises their own rights).
    if role.is_builtin or role.pk == actor.role_id:
        raise PermissionDenied
    return Role.objects.select_for_update().get(pk=role.pk)


@workspace_write
def role_update(
    *,
    actor: User,
    role: Role,
    name: str,
    description: str = "",
    grants: Mapping[str, Mapping[str, str]],
    permissions: Iterable[str] = (),
    hidden_fields: Mapping[str, Iterable[str]] | None = None,
) -> Role:
    """Change a custom role; its holders get the new rights on their next request. Refused if it would leave
    the workspace without an administrator."""
    _lock_administrators()
    role = _editable_role(actor, role)
    before = Role.objects.get(pk=role.pk)
    _apply_role(
        actor=actor,
        role=role,
        before=before,
        name=name,
        description=description,
        grants=grants,
        permissions=permissions,
        hidden_fields=hidden_fields or {},
    )
    if _is_admin_role(before) and not _is_admin_role(role) and not administrators().exclude(role=role).exists():
        raise ValidationError({"permissions": [_last_administrator_error()]})
    after, old = role_snapshot(role), role_snapshot(before)
    if after == old:
        return role
    role.updated_at = timezone.now()
    role.save()
    audit_record(
        actor=actor, action=AuditEvent.Action.ROLE_CHANGED, target=role, details={"before": old, "after": after}
    )
    return role


@workspace_write
def role_delete(*, actor: User, role: Role) -> None:
    """Delete a custom role nobody holds and no pending invitation carries; finished invitations that named
    it keep their rows, without the role."""
    _lock_administrators()
    role = _editable_role(actor, role)
    if User.objects.filter(role=role).exists():
        raise ValidationError(_("People hold this role: give them another one first."))
    pending = Invitation.objects.filter(role=role, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())
    if pending.exists():
        raise ValidationError(_("A pending invitation carries this role: withdraw it first."))
    audit_record(
        actor=actor, action=AuditEvent.Action.ROLE_DELETED, target=role, details={"before": role_snapshot(role)}
    )
    role.delete()


# --- teams -------------------------------------------------------------------------------------------------


def _team_check(team: Team, *, head: User | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if head is not None and not head.is_active:
        errors["head"] = [_("The head must be an active person.")]
    if team.pk is not None and team.parent_id is not None and team.parent_id in team_descendant_ids(team):
        errors["parent"] = [_("A team cannot sit below itself or one of its own sub-teams.")]
    try:
        team.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    return errors


def _team_snapshot(team: Team) -> dict[str, str]:
    return {"name": team.name, "parent": _label(team.parent), "head": team.head.email if team.head else ""}


@workspace_write
def team_create(*, actor: User, name: str, parent: Team | None = None, head: User | None = None) -> Team:
    policy.require_permission(actor, Perm.MANAGE_USERS)
    team = Team(name=name.strip(), parent=parent, head=head)
    if errors := _team_check(team, head=head):
        raise ValidationError(errors)
    team.save()
    audit_record(
        actor=actor, action=AuditEvent.Action.TEAM_CREATED, target=team, details={"after": _team_snapshot(team)}
    )
    return team


@workspace_write
def team_update(*, actor: User, team: Team, name: str, parent: Team | None, head: User | None) -> Team:
    policy.require_permission(actor, Perm.MANAGE_USERS)
    team = Team.objects.select_for_update(of=("self",)).select_related("parent", "head").get(pk=team.pk)
    before = _team_snapshot(team)
    team.name, team.parent, team.head = name.strip(), parent, head
    if errors := _team_check(team, head=head):
        raise ValidationError(errors)
    after = _team_snapshot(team)
    if after == before:
        return team
    team.save(update_fields=["name", "parent", "head"])
    audit_record(
        actor=actor, action=AuditEvent.Action.TEAM_CHANGED, target=team, details={"before": before, "after": after}
    )
    return team


@workspace_write
def team_delete(*, actor: User, team: Team) -> None:
    """Delete a team without active members or sub-teams (deactivated members simply lose it)."""
    policy.require_permission(actor, Perm.MANAGE_USERS)
    team = Team.objects.select_for_update(of=("self",)).select_related("parent", "head").get(pk=team.pk)
    if User.objects.filter(team=team, is_active=True).exists():
        raise ValidationError(_("The team still has members: move them to another team first."))
    if Team.objects.filter(parent=team).exists():
        raise ValidationError(_("The team has sub-teams: move or delete them first."))
    audit_record(
        actor=actor, action=AuditEvent.Action.TEAM_DELETED, target=team, details={"before": _team_snapshot(team)}
    )
    team.delete()


# --- audit log export --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditExport:
    filters: AuditFilters
    # The newest event the export covers: entries written while it streams (its own included) are not in it.
    upto_id: int
    rows: int


@transaction.atomic
def audit_log_export(*, actor: User, filters: AuditFilters) -> AuditExport:
    """Record that the actor exports the filtered log and fix what the export contains; the rows are read by
    selectors.audit_export_rows while the file streams."""
    policy.require_permission(actor, Perm.VIEW_AUDIT_LOG)
    upto_id = AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0
    rows = audit_events(filters).filter(id__lte=upto_id).count()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        target_type="audit_log",
        target_label=_("Audit log"),
        details={
            "what": "audit_log",
            "rows": rows,
            "filters": {
                "action": filters.action,
                "actor": filters.actor,
                "date_from": filters.date_from.isoformat() if filters.date_from else None,
                "date_to": filters.date_to.isoformat() if filters.date_to else None,
                "text": filters.text,
            },
        },
    )
    return AuditExport(filters=filters, upto_id=upto_id, rows=rows)
