"""Login lockout (django-axes) fitted to Kontor.

Failed logins are counted per account and, separately, per client address, in the schema of the workspace
being logged into (axes' tables are tenant tables), so a lockout in one workspace never touches another. A
wrong two-factor code counts like a wrong password. Settings: LOGIN_FAILURE_LIMIT, LOGIN_COOLOFF_MINUTES.
"""

from __future__ import annotations

import math
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tenants.accounts.audit import request_info_of
from tenants.accounts.models import normalize_email

# `step` in the credentials of a failed login tells the audit log which step failed.
STEP_TWO_FACTOR = "two_factor"


def attempted_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The account a login attempt was for, in the form emails are stored in, so "Ann@X" and "ann@x" count
    as one account."""
    if credentials:
        value = credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    elif request is not None:
        value = request.POST.get(settings.AXES_USERNAME_FORM_FIELD)
    else:
        value = None
    return normalize_email(str(value)) if value else None


def client_ip(request: HttpRequest) -> str | None:
    # The same address the audit log records (X-Forwarded-For only behind a trusted proxy).
    return request_info_of(request).ip


class AccountLockoutHandler(AxesDatabaseHandler):
    """axes' database handler, except that a successful login clears the failures of that account only: a
    member logging in must not wipe what was recorded from the same address against other accounts."""

    def reset_user_attempts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def login_allowed(request: HttpRequest, email: str) -> bool:
    """False while the account or the client's address is locked out."""
    return bool(AxesProxyHandler.is_allowed(request, {settings.AXES_USERNAME_FORM_FIELD: email}))


def login_failed(request: HttpRequest, email: str, *, step: str) -> bool:
    """Count a failed login step that did not go through `authenticate()` (a wrong two-factor code); returns
    whether the attempt is refused as locked out (then the lockout page replaces the response)."""
    credentials = {settings.AXES_USERNAME_FORM_FIELD: email, "step": step}
    if not login_allowed(request, email):
        request.axes_locked_out = True  # type: ignore[attr-defined]
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    return bool(getattr(request, "axes_locked_out", False))


def lockout_minutes_left(request: HttpRequest, credentials: dict[str, Any] | None) -> int | None:
    """Whole minutes until the lockout lifts by itself; None when only an administrator can lift it."""
    cool_off = get_cool_off(request)
    if not cool_off:
        return None
    handler = AxesProxyHandler.get_implementation()
    latest = None
    for attempts in handler.get_user_attempts(request, credentials):
        at = attempts.aggregate(at=Max("attempt_time"))["at"]
        if at is not None and (latest is None or at > latest):
            latest = at
    if latest is None:
        return max(1, math.ceil(cool_off.total_seconds() / 60))
    seconds = (latest + cool_off - timezone.now()).total_seconds()
    return max(1, math.ceil(seconds / 60))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The page shown instead of the login form while locked out (429): how long, and who can unlock."""
    context = {"minutes": lockout_minutes_left(request, credentials), "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "accounts/locked_out.html", context, status=429)
