"""The workspace-wide two-factor requirement, enforced on every request of a signed-in member."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from tenants.accounts.models import User
from tenants.accounts.security import has_two_factor, workspace_requires_two_factor
from tenants.context import current_schema

API_PREFIX = "/api/"


class TwoFactorRequiredMiddleware:
    """In a workspace that requires two-factor authentication, a signed-in member without it can only set it
    up or log out: pages redirect to the set-up page, the session API answers 403. Requests with an API key
    are not affected (the key is the credential). A member who has it but whose session was not verified
    with a code (opened before it was turned on) is logged out and asked for the code on the next login."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._refusal(request) or self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        if current_schema() == settings.PUBLIC_SCHEMA_NAME or request.path.startswith(settings.STATIC_URL):
            return None
        is_api = request.path.startswith(API_PREFIX)
        if is_api and request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        enrol_url = reverse("accounts:two_factor")
        required = workspace_requires_two_factor(cast(User, user))
        if request.path in (enrol_url, reverse("accounts:logout")) or not required:
            return None
        if has_two_factor(cast(User, user)):
            # OTPMiddleware (earlier in the chain) says whether this session was verified with a code.
            if getattr(user, "is_verified", lambda: False)():
                return None
            logout(request)
            if is_api:
                return JsonResponse({"detail": _("Log in again with your two-factor code.")}, status=403)
            return HttpResponseRedirect(reverse("accounts:login"))
        if is_api:
            detail = _("This workspace requires two-factor authentication: turn it on in your profile first.")
            return JsonResponse({"detail": detail}, status=403)
        return HttpResponseRedirect(enrol_url)
