"""A read-only workspace answers every request that would write with a clear refusal, before any view runs:
pages and forms get a page that says why and the way out, the API a 402 with a machine-readable body. Signing
in and out, one's own profile, password and two-factor, a list's columns, the billing page (the way out) and
exports stay open. The write
services refuse too (tenants.access), for what does not come through a request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from tenants.access import WorkspaceReadOnly

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# What stays writable in a read-only workspace, by URL namespace or "namespace:name".
_OPEN_NAMESPACES = frozenset({"billing"})
_OPEN_VIEWS = frozenset(
    {
        "accounts:login",
        "accounts:login_two_factor",
        "accounts:logout",
        "accounts:password",
        "accounts:profile",
        "accounts:two_factor",
        "accounts:password_reset",
        "accounts:password_reset_confirm",
        "accounts:api_keys",
        "accounts:api_key_revoke",
        "backups:export",
        "manage:audit_export",
        "manage:user_two_factor_reset",
        "manage:user_unlock",
    }
)


def _open(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True  # a 404 changes nothing
    # A list's columns are the person's own view of it, not the workspace's data.
    return match.namespace in _OPEN_NAMESPACES or match.view_name in _OPEN_VIEWS or match.url_name == "columns"


class WorkspaceReadOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or not tenant.read_only or request.method in _SAFE_METHODS or _open(request):
            return self.get_response(request)
        return refusal(request, WorkspaceReadOnly())


def refusal(request: HttpRequest, exc: WorkspaceReadOnly) -> HttpResponse:
    """402: the workspace must be paid for before it can change again."""
    tenant = getattr(request, "tenant", None)
    state = getattr(tenant, "billing_state", "")
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": str(exc.args[0]), "code": exc.code, "state": state}, status=402)
    if request.path_info.startswith("/integrations/in/"):
        # Another system calling in (a website form, a PBX, 1C) reads the integrations' error shape.
        return JsonResponse({"error": {"code": exc.code, "message": str(exc.args[0]), "state": state}}, status=402)
    if request.headers.get("HX-Request") == "true":
        # The page's htmx error note shows this text next to what was sent (platform_core/htmx-errors.js).
        return HttpResponse(str(exc.args[0]), status=402, content_type="text/plain; charset=utf-8")
    return render(request, "billing/read_only.html", {"message": exc.args[0], "state": state}, status=402)
