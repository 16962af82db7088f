"""Account security of a workspace user: two-factor authentication (TOTP plus single-use recovery codes),
password and profile changes, the workspace-wide two-factor requirement and login lockouts.

Writes are typed, keyword-only and atomic, and each leaves an entry in the workspace's audit log.
"""

from __future__ import annotations

from base64 import b32encode

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.accounts import identity, policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User, WorkspaceSecurity, normalize_email
from tenants.models import Tenant

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


class TwoFactorThrottled(Exception):
    """Too many wrong codes in a row: the device refuses to check another one for a few seconds."""


# --- selectors ---------------------------------------------------------------------------------------------


def workspace_security() -> WorkspaceSecurity:
    """The workspace's security settings (the defaults, unsaved, until an administrator changes them)."""
    return WorkspaceSecurity.objects.order_by("pk").first() or WorkspaceSecurity()


def workspace_requires_two_factor(user: User | None = None) -> bool:
    # Read on every signed-in request: from the cache, which a change of the setting invalidates at once (with
    # the signed-in `user`, in the same round trip as them).
    return identity.two_factor_required(user)


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def users_without_two_factor_count() -> int:
    """Active members who have not turned two-factor authentication on (the security page warns of them)."""
    with_device = TOTPDevice.objects.filter(confirmed=True).values("user_id")
    return User.objects.filter(is_active=True).exclude(pk__in=with_device).count()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def is_locked_out(user: User) -> bool:
    """Whether logins to this account are refused right now after too many failures (a lockout of the
    address someone logs in from is not the account's)."""
    return bool(locked_out_emails([user.email]))


def locked_out_emails(emails: list[str]) -> set[str]:
    """Which of these accounts are locked out right now, in one query (for lists of users)."""
    attempts = AccessAttempt.objects.filter(username__in=[normalize_email(email) for email in emails])
    cool_off = get_cool_off()
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    totals = attempts.values("username").annotate(n=Sum("failures_since_start"))
    return {row["username"] for row in totals if row["n"] >= settings.AXES_FAILURE_LIMIT}


def totp_secret(device: TOTPDevice) -> str:
    """The device's key as authenticator apps take it when typed in (base32)."""
    return b32encode(device.bin_key).decode()


# --- two-factor authentication -----------------------------------------------------------------------------


def _require_member(actor: User) -> None:
    if not (actor.is_authenticated and actor.is_active):
        raise PermissionDenied


def _issue_recovery_codes(user: User) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def _normalized_recovery_code(token: str) -> str:
    # Shown as "abcd-efgh"; accepted with or without the dash, in any case, with stray spaces.
    return "".join(ch for ch in token.lower() if ch.isalnum())


@transaction.atomic
def two_factor_enrol_start(*, actor: User) -> TOTPDevice:
    """The authenticator being set up for `actor`: a new secret, or the one of an enrolment not yet confirmed
    (so reloading the page keeps the QR code already scanned). Audited when confirmed, not here."""
    _require_member(actor)
    if has_two_factor(actor):
        raise ValidationError(_("Two-factor authentication is already on."))
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice(user=actor, name=TOTP_DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


@transaction.atomic
def two_factor_enrol_confirm(*, actor: User, token: str) -> tuple[TOTPDevice, list[str]]:
    """Turn two-factor authentication on once the app shows a right code; returns the device and the
    recovery codes, which the user sees this once. Raises ValidationError on a wrong code."""
    _require_member(actor)
    if has_two_factor(actor):
        raise ValidationError(_("Two-factor authentication is already on."))
    device = TOTPDevice.objects.select_for_update().filter(user=actor, confirmed=False).order_by("-id").first()
    if device is None:
        raise ValidationError(_("Start the set-up again: no authenticator is waiting for a code."))
    if not device.verify_is_allowed()[0]:
        raise ValidationError(_("Too many wrong codes: wait a few seconds and try again."))
    if not device.verify_token(token.strip().replace(" ", "")):
        raise ValidationError({"token": [_("That code is not right. Check the time on your phone and try again.")]})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
    codes = _issue_recovery_codes(actor)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.TWO_FACTOR_ENABLED,
        target=actor,
        details={"recovery_codes": len(codes)},
    )
    return device, codes


@transaction.atomic
def two_factor_disable(*, actor: User, password: str) -> None:
    """Turn two-factor authentication off (the current password confirms it is the user asking)."""
    _require_member(actor)
    if not actor.check_password(password):
        raise ValidationError({"password": [_("Your password was entered incorrectly.")]})
    removed, _details = TOTPDevice.objects.filter(user=actor).delete()
    StaticDevice.objects.filter(user=actor).delete()
    if removed:
        audit_record(actor=actor, action=AuditEvent.Action.TWO_FACTOR_DISABLED, target=actor)


@transaction.atomic
def recovery_codes_regenerate(*, actor: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    _require_member(actor)
    if not has_two_factor(actor):
        raise ValidationError(_("Turn on two-factor authentication first."))
    codes = _issue_recovery_codes(actor)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.RECOVERY_CODES_ISSUED,
        target=actor,
        details={"recovery_codes": len(codes)},
    )
    return codes


@transaction.atomic
def two_factor_verify(*, user: User, token: str) -> Device | None:
    """The second login step: the device that accepts `token` (a code from the app, or one of the recovery
    codes, which is used up), or None. Raises TwoFactorThrottled while the devices refuse to check codes."""
    token = token.strip().replace(" ", "")
    if not token:
        return None
    if token.isdigit() and len(token) == 6:
        devices: list[Device] = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
    else:
        devices = list(StaticDevice.objects.select_for_update().filter(user=user, confirmed=True))
        token = _normalized_recovery_code(token)
    if devices and not any(device.verify_is_allowed()[0] for device in devices):
        raise TwoFactorThrottled
    for device in devices:
        if device.verify_token(token):
            if isinstance(device, StaticDevice):
                audit_record(
                    actor=user,
                    action=AuditEvent.Action.RECOVERY_CODE_USED,
                    target=user,
                    details={"recovery_codes_left": device.token_set.count()},
                )
            return device
    return None


# --- password and profile ----------------------------------------------------------------------------------


@transaction.atomic
def password_change(*, actor: User, old_password: str, new_password: str) -> None:
    """Change the actor's own password; raises ValidationError on a wrong old or a weak new password."""
    _require_member(actor)
    if not actor.check_password(old_password):
        raise ValidationError({"old_password": [_("Your old password was entered incorrectly.")]})
    try:
        validate_password(new_password, user=actor)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    actor.set_password(new_password)
    actor.save(update_fields=["password"])
    audit_record(actor=actor, action=AuditEvent.Action.PASSWORD_CHANGED, target=actor)


@transaction.atomic
def profile_update(*, actor: User, full_name: str, language: str | None = None, time_zone: str | None = None) -> User:
    """The actor's own name, and their language and time zone (blank: the workspace's; None: unchanged);
    raises ValidationError for a name too long or a language or time zone not offered."""
    _require_member(actor)
    old = {"full_name": actor.full_name, "language": actor.language, "time_zone": actor.time_zone}
    actor.full_name = full_name.strip()
    if language is not None:
        actor.language = language
    if time_zone is not None:
        actor.time_zone = time_zone
    actor.full_clean(exclude=["password", "email"])
    changed = {
        name: {"from": before, "to": getattr(actor, name)}
        for name, before in old.items()
        if getattr(actor, name) != before
    }
    if changed:
        actor.save(update_fields=list(changed))
        audit_record(actor=actor, action=AuditEvent.Action.PROFILE_CHANGED, target=actor, details=changed)
    return actor


# --- workspace settings and lockouts -----------------------------------------------------------------------


@transaction.atomic
def workspace_two_factor_require(*, actor: User, required: bool) -> WorkspaceSecurity:
    """Require two-factor authentication of everyone in the workspace (or stop requiring it). Members without
    it are sent to set it up before anything else; API keys keep working."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_USERS)
    security = WorkspaceSecurity.objects.select_for_update().order_by("pk").first() or WorkspaceSecurity()
    changed = security.pk is None or security.require_two_factor != required
    security.require_two_factor = required
    security.updated_at = timezone.now()
    security.full_clean()
    security.save()
    if changed:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.TWO_FACTOR_REQUIREMENT,
            target_type="workspace",
            target_label=str(_("Two-factor authentication")),
            details={"required": required},
        )
    return security


@transaction.atomic
def workspace_locale_update(*, actor: User, tenant: Tenant, language: str, currency: str, time_zone: str) -> Tenant:
    """The workspace's default language (of people who chose none, and of invitations), currency (of new deals
    and products) and time zone (of people who chose none). Administrators only; ValidationError per field."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_USERS)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    old = {"language": tenant.language, "currency": tenant.currency, "time_zone": tenant.time_zone}
    tenant.language, tenant.currency, tenant.time_zone = language, currency.upper(), time_zone
    tenant.full_clean(exclude=[f.name for f in Tenant._meta.fields if f.name not in old])
    changed = {name: {"from": before, "to": getattr(tenant, name)} for name, before in old.items()}
    changed = {name: change for name, change in changed.items() if change["from"] != change["to"]}
    if changed:
        tenant.save(update_fields=list(changed))
        audit_record(
            actor=actor,
            action=AuditEvent.Action.WORKSPACE_SETTINGS,
            target_type="workspace",
            target_label=tenant.name,
            details=changed,
        )
    return tenant


@transaction.atomic
def account_unlock(*, actor: User, user: User) -> int:
    """Lift a lockout of `user`'s account before its cool-off ends; returns how many failure records went."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_USERS)
    cleared, _details = AccessAttempt.objects.filter(username=normalize_email(user.email)).delete()
    audit_record(actor=actor, action=AuditEvent.Action.UNLOCK, target=user, details={"failure_records": cleared})
    return cleared
