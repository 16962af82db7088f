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
