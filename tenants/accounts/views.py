"""Workspace sign-in, sign-out, password reset, the signup hand-off, the home page and the user's API keys."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from platform_core.db import current_schema
from tenants.accounts.models import User
from tenants.accounts.selectors import api_key_get, api_keys_of
from tenants.accounts.services import IssuedApiKey, api_key_create, api_key_revoke
from tenants.accounts.tokens import handoff_user


@require_GET
def welcome(request: HttpRequest) -> HttpResponse:
    """Land a new owner in their workspace, logged in, from the signup page's one-time link."""
    user = handoff_user(token=request.GET.get("token", ""), schema_name=current_schema())
    if user is None:
        return HttpResponseRedirect(reverse("accounts:login"))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(reverse("home"))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """The user's API keys; a key made here is shown in full on this one response and never again."""
    user = cast(User, request.user)
    issued: IssuedApiKey | None = None
    errors: list[str] = []
    name = ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            issued = api_key_create(actor=user, name=name)
        except ValidationError as exc:
            errors = exc.messages
    context = {"keys": api_keys_of(user), "issued": issued, "errors": errors, "name": "" if issued else name}
    return render(request, "accounts/api_keys.html", context, status=422 if errors else 200)


@login_required
@require_POST
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = cast(User, request.user)
    key = api_key_revoke(actor=user, key=api_key_get(user, pk))
    messages.success(request, _("The key “%(name)s” is revoked.") % {"name": key.name})
    return HttpResponseRedirect(reverse("accounts:api_keys"))
