"""The billing banner on every workspace page: how long the trial lasts, that a payment failed, that the
workspace is read-only or cancelled, and the way out. From the tenant row the request has loaded: no query."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from billing.models import State
from tenants.accounts import policy

# The trial banner shows in its last days only; the others always.
_TRIAL_NOTICE_DAYS = 7


def notice(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    state = getattr(tenant, "billing_state", "")
    if not settings.BILLING_ENABLED or not state or user is None or not user.is_authenticated:
        return {"billing_enabled": settings.BILLING_ENABLED}
    until: datetime.datetime | None = tenant.billing_until  # type: ignore[union-attr]
    now = timezone.now()
    days = max((until - now).days + (1 if (until - now).seconds else 0), 0) if until else None
    if (state == State.TRIAL and (days is None or days > _TRIAL_NOTICE_DAYS)) or state in (State.ACTIVE, State.DELETED):
        return {"billing_enabled": True}
    return {
        "billing_enabled": True,
        "billing_notice": {
            "state": state,
            "until": until,
            "days": days,
            "can_pay": policy.has_permission(user, policy.WorkspacePermission.MANAGE_BILLING),
            "can_export": policy.has_permission(user, policy.WorkspacePermission.MANAGE_BACKUPS),
        },
    }
