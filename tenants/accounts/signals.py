"""Sign-ins, sign-outs, failed logins and lockouts go to the workspace's audit log. These receivers only
write the entry; what is refused and why is decided by django.contrib.auth and django-axes."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from tenants.accounts.audit import audit_record
from tenants.accounts.lockout import STEP_TWO_FACTOR
from tenants.accounts.models import AuditEvent, User, normalize_email


def _user_with_email(email: str) -> User | None:
    return User.objects.filter(email=email).first() if email else None


def on_logged_in(sender: object, request: HttpRequest, user: User, **kwargs: Any) -> None:
    audit_record(actor=user, action=AuditEvent.Action.LOGIN, target=user)


def on_logged_out(sender: object, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None and user.is_authenticated:
        audit_record(actor=user, action=AuditEvent.Action.LOGOUT, target=user)


def on_login_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Only the address that was typed: Django has already masked the password, and it is never read here.
    email = normalize_email(str(credentials.get("username") or ""))
    details: dict[str, Any] = {"step": STEP_TWO_FACTOR if credentials.get("step") == STEP_TWO_FACTOR else "password"}
    # Refused without a look at the password: the account or address was locked out already. (A failure that
    # starts a lockout has its failure count set; a try refused as locked out has none.)
    if (
        request is not None
        and getattr(request, "axes_locked_out", False)
        and getattr(request, "axes_failures_since_start", None) is None
    ):
        details["while_locked_out"] = True
    audit_record(
        actor=None,
        actor_label=email,
        action=AuditEvent.Action.LOGIN_FAILED,
        target=_user_with_email(email),
        details=details,
    )


def on_locked_out(
    sender: object, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    # axes signals again on each try made while locked out; only the start of a lockout is an event.
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    email = normalize_email(username or "")
    audit_record(
        actor=None,
        actor_label=email,
        action=AuditEvent.Action.LOCKOUT,
        target=_user_with_email(email),
        details={"failures": request.axes_failures_since_start},  # type: ignore[attr-defined]
    )


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="accounts.audit.login")
    user_logged_out.connect(on_logged_out, dispatch_uid="accounts.audit.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="accounts.audit.login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="accounts.audit.locked_out")
