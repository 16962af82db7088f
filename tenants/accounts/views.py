"""Workspace sign-in, sign-out, password reset, the signup hand-off and the home page."""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from platform_core.db import current_schema
from tenants.accounts.tokens import handoff_user


@require_GET
def welcome(request: HttpRequest) -> HttpResponse:
    """Land a new owner in their workspace, logged in, from the signup page's one-time link."""
    user = handoff_user(token=request.GET.get("token", ""), schema_name=current_schema())
    if user is None:
        return HttpResponseRedirect(reverse("accounts:login"))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(reverse("home"))
