"""The workspace's audit log: who did what, from where, to what.

`audit_record` is called by the services (in their transaction, so a refused change leaves no entry) and by
the login signal receivers. Where the request came from is taken from the request being served
(`AuditContextMiddleware`); work done outside a request (tasks, commands) has no IP.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from tenants.accounts.models import AuditEvent, User


@dataclass(frozen=True)
class RequestInfo:
    ip: str | None
    user_agent: str


_request_info: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("audit_request", default=None)


def request_info_of(request: HttpRequest) -> RequestInfo:
    ip = request.META.get("REMOTE_ADDR") or None
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        # The proxy in front of us appends the address it saw: the last entry is the one it vouches for.
        ip = forwarded.split(",")[-1].strip() or ip
    return RequestInfo(ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", "")[:512])


@contextmanager
def request_context(info: RequestInfo | None) -> Iterator[None]:
    token = _request_info.set(info)
    try:
        yield
    finally:
        _request_info.reset(token)


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_context(request_info_of(request)):
            return self.get_response(request)


def audit_record(
    *,
    actor: User | None,
    action: AuditEvent.Action,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: object = "",
    target_label: str = "",
    details: dict[str, Any] | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one entry. `target` fills type, id and label from a model instance; they can be given instead."""
    info = _request_info.get()
    if target is not None:
        target_type = target_type or target._meta.model_name or ""
        target_id = target_id or target.pk
        target_label = target_label or str(target)
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=(actor.email if actor is not None else actor_label)[:254],
        action=action,
        target_type=target_type[:32],
        target_id=str(target_id)[:64],
        target_label=target_label[:255],
        ip=info.ip if info else None,
        user_agent=info.user_agent if info else "",
        details=details or {},
    )


# --- reading an entry's details -----------------------------------------------------------------------------

_DETAIL_LABELS: dict[str, Any] = {
    "role": _("Role"),
    "team": _("Team"),
    "head": _("Head"),
    "parent": _("Part of"),
    "prefix": _("Key prefix"),
    "to": _("To"),
    "reset_by_administrator": _("Reset by an administrator"),
    "user_id": _("Person"),
    "before": _("Before"),
    "after": _("After"),
    "what": _("What"),
    "rows": _("Rows"),
    "filters": _("Filters"),
    "name": _("Name"),
    "email": _("Email"),
    "description": _("Description"),
    "grants": _("Rights"),
    "permissions": _("Permissions"),
    "hidden_fields": _("Hidden fields"),
    "reason": _("Reason"),
    "count": _("Count"),
}
DETAIL_LINES_CAP = 12
DETAIL_TEXT_CAP = 300


def _detail_label(key: object) -> str:
    known = _DETAIL_LABELS.get(str(key))
    return str(known) if known is not None else str(key).replace("_", " ").capitalize()


def _detail_text(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list | tuple):
        return ", ".join(_detail_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{_detail_label(k)}: {_detail_text(v)}" for k, v in value.items())
    return str(value)


def audit_detail_lines(details: Any) -> list[tuple[str, str]]:
    """An entry's details as (label, text) lines a person reads, instead of the stored dictionary: one line per
    key, a nested dictionary (before/after, a target) one line per inner key."""
    if details in (None, "", {}, []):
        return []
    if not isinstance(details, dict):
        return [("", _detail_text(details)[:DETAIL_TEXT_CAP])]
    lines: list[tuple[str, str]] = []
    for key, value in details.items():
        if isinstance(value, dict) and value:
            lines += [(f"{_detail_label(key)} › {_detail_label(k)}", _detail_text(v)) for k, v in value.items()]
        else:
            lines.append((_detail_label(key), _detail_text(value)))
    return [(label, text[:DETAIL_TEXT_CAP]) for label, text in lines[:DETAIL_LINES_CAP]]
