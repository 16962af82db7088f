"""Workspace sign-in (with the two-factor step), sign-out, password reset, the signup hand-off, the user's
profile, password, two-factor authentication and API keys, and the workspace's security settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from tenants.accounts import policy
from tenants.accounts.forms import (
    EmailAuthenticationForm,
    PasswordConfirmForm,
    ProfileForm,
    TwoFactorCodeForm,
    WorkspaceSecurityForm,
)
from tenants.accounts.lockout import STEP_TWO_FACTOR, login_allowed, login_failed
from tenants.accounts.models import User
from tenants.accounts.security import (
    TwoFactorThrottled,
    has_two_factor,
    password_change,
    profile_update,
    recovery_codes_left,
    recovery_codes_regenerate,
    totp_secret,
    two_factor_disable,
    two_factor_enrol_confirm,
    two_factor_enrol_start,
    two_factor_verify,
    users_without_two_factor_count,
    workspace_requires_two_factor,
    workspace_security,
    workspace_two_factor_require,
)
from tenants.accounts.selectors import api_key_get, api_keys_of
from tenants.accounts.services import IssuedApiKey, api_key_create, api_key_revoke
from tenants.accounts.tokens import handoff_user
from tenants.context import current_schema

# Between a right password and the two-factor code, the person is remembered in the session (signed, and
# only for a few minutes); they are not logged in until the code is right.
_PENDING_KEY = "accounts.pending_login"
_PENDING_SALT = "tenants.accounts.pending_login"
PENDING_LOGIN_SECONDS = 5 * 60


@dataclass(frozen=True)
class _PendingLogin:
    user: User
    backend: str
    next_url: str


def _pending_start(request: HttpRequest, user: User, *, backend: str, next_url: str) -> None:
    data = {
        "user": user.pk,
        "backend": backend,
        "next": next_url,
        "schema": current_schema(),
        # A password changed meanwhile voids the pending login.
        "hash": user.get_session_auth_hash(),
    }
    request.session[_PENDING_KEY] = signing.dumps(data, salt=_PENDING_SALT)


def _pending_clear(request: HttpRequest) -> None:
    request.session.pop(_PENDING_KEY, None)


def _pending_login(request: HttpRequest) -> _PendingLogin | None:
    value = request.session.get(_PENDING_KEY)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=_PENDING_SALT, max_age=PENDING_LOGIN_SECONDS)
    except signing.BadSignature:
        _pending_clear(request)
        return None
    user = User.objects.filter(pk=data.get("user"), is_active=True).first()
    if (
        user is None
        or data.get("schema") != current_schema()
        or not constant_time_compare(user.get_session_auth_hash(), str(data.get("hash", "")))
    ):
        _pending_clear(request)
        return None
    return _PendingLogin(user=user, backend=str(data["backend"]), next_url=str(data["next"]))


def _add_errors(form: Form, exc: ValidationError, *, default_field: str | None = None) -> None:
    """Put a service's ValidationError on the form: on the field it names when the form has it."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else default_field, errors)
    else:
        form.add_error(default_field, exc.messages)


class WorkspaceLoginView(auth_views.LoginView):
    """Email and password; a person with two-factor authentication is then asked for a code before they are
    logged in. django-axes refuses the attempt (and shows the lockout page) while the account or the
    address is locked out."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = cast(User, form.get_user())
        if not has_two_factor(user):
            return super().form_valid(form)
        _pending_start(self.request, user, backend=user.backend, next_url=self.get_success_url())
        return HttpResponseRedirect(reverse("accounts:login_two_factor"))


@never_cache
@csrf_protect
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def login_two_factor(request: HttpRequest) -> HttpResponse:
    """The second login step: a code from the authenticator app or one recovery code. A wrong code counts
    toward the lockout like a wrong password."""
    pending = _pending_login(request)
    if pending is None:
        messages.info(request, _("Please log in again."))
        return HttpResponseRedirect(reverse("accounts:login"))
    form = TwoFactorCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email = pending.user.email
        if login_allowed(request, email):
            try:
                device = two_factor_verify(user=pending.user, token=form.cleaned_data["token"])
            except TwoFactorThrottled:
                form.add_error("token", _("Too many wrong codes in a row: wait a few seconds and try again."))
                return render(request, "accounts/login_two_factor.html", {"form": form})
            if device is not None:
                _pending_clear(request)
                login(request, pending.user, backend=pending.backend)
                otp_login(request, device)
                return HttpResponseRedirect(pending.next_url)
        if login_failed(request, email, step=STEP_TWO_FACTOR):
            _pending_clear(request)  # the lockout page replaces this response
        form.add_error("token", _("That code is not right."))
    return render(request, "accounts/login_two_factor.html", {"form": form})


@require_GET
def welcome(request: HttpRequest) -> HttpResponse:
    """Land a new owner in their workspace, logged in, from the signup page's one-time link."""
    user = handoff_user(token=request.GET.get("token", ""), schema_name=current_schema())
    if user is None:
        return HttpResponseRedirect(reverse("accounts:login"))
    login(request, user, backend=settings.PASSWORD_BACKEND)
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
            ProhibitNullCharactersValidator()(name)
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


# --- profile ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    tenant = request.tenant  # type: ignore[attr-defined]
    form = ProfileForm(
        request.POST if request.method == "POST" else None,
        initial={"full_name": user.full_name, "language": user.language, "time_zone": user.time_zone},
        workspace_language=tenant.language,
        workspace_time_zone=tenant.time_zone,
    )
    if request.method == "POST" and form.is_valid():
        try:
            profile_update(
                actor=user,
                full_name=form.cleaned_data["full_name"],
                language=form.cleaned_data["language"],
                time_zone=form.cleaned_data["time_zone"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            # The message is in the language just chosen.
            translation.activate(user.language or tenant.language)
            messages.success(request, _("Your profile is saved."))
            return HttpResponseRedirect(reverse("accounts:profile"))
    context = {"form": form, "two_factor_on": has_two_factor(user)}
    return render(request, "accounts/profile.html", context, status=422 if form.errors else 200)


@login_required
@never_cache
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    """Change the password; this session stays signed in, the user's other sessions end."""
    user = cast(User, request.user)
    form = PasswordChangeForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            password_change(
                actor=user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except ValidationError as exc:
            _add_errors(form, exc, default_field="new_password2")
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password is changed."))
            return HttpResponseRedirect(reverse("accounts:profile"))
    return render(request, "accounts/password.html", {"form": form}, status=422 if form.errors else 200)


def _qr_svg(text: str) -> str:
    # segno writes only the SVG of the QR code for our own otpauth:// URL, nothing from user input unescaped.
    return mark_safe(segno.make(text, error="m").svg_inline(scale=4, border=2))  # noqa: S308


def _shown_codes(codes: list[str]) -> list[str]:
    return [f"{code[:4]}-{code[4:]}" for code in codes]


@login_required
@never_cache
@sensitive_post_parameters("password", "token")
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up two-factor authentication (secret, QR code, confirm with a code), turn it off (with the
    password), or get new recovery codes. Recovery codes are shown on the response that made them, only."""
    user = cast(User, request.user)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    confirm_form = TwoFactorCodeForm(request.POST if action == "confirm" else None)
    disable_form = PasswordConfirmForm(request.POST if action == "disable" else None)
    codes: list[str] = []
    if action == "confirm" and confirm_form.is_valid():
        try:
            device, codes = two_factor_enrol_confirm(actor=user, token=confirm_form.cleaned_data["token"])
        except ValidationError as exc:
            _add_errors(confirm_form, exc, default_field="token")
        else:
            otp_login(request, device)  # this session was just verified with a code
            messages.success(request, _("Two-factor authentication is on."))
    elif action == "disable" and disable_form.is_valid():
        try:
            two_factor_disable(actor=user, password=disable_form.cleaned_data["password"])
        except ValidationError as exc:
            _add_errors(disable_form, exc, default_field="password")
        else:
            messages.success(request, _("Two-factor authentication is off."))
            return HttpResponseRedirect(reverse("accounts:two_factor"))
    elif action == "regenerate":
        try:
            codes = recovery_codes_regenerate(actor=user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    enabled = has_two_factor(user)
    context: dict[str, Any] = {
        "enabled": enabled,
        "required": workspace_requires_two_factor(),
        "codes": _shown_codes(codes),
        "codes_left": recovery_codes_left(user) if enabled else 0,
        "confirm_form": confirm_form,
        "disable_form": disable_form,
    }
    if not enabled:
        device = two_factor_enrol_start(actor=user)
        context.update(secret=totp_secret(device), qr_svg=_qr_svg(device.config_url))
    failed = confirm_form.errors or disable_form.errors
    return render(request, "accounts/two_factor.html", context, status=422 if failed else 200)


@login_required
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """The workspace's security settings: whether everyone must use two-factor authentication."""
    user = cast(User, request.user)
    policy.require_permission(user, policy.WorkspacePermission.MANAGE_USERS)
    current = workspace_security()
    form = WorkspaceSecurityForm(
        request.POST if request.method == "POST" else None, initial={"require_two_factor": current.require_two_factor}
    )
    if request.method == "POST" and form.is_valid():
        workspace_two_factor_require(actor=user, required=form.cleaned_data["require_two_factor"])
        messages.success(request, _("Security settings are saved."))
        return HttpResponseRedirect(reverse("accounts:security"))
    context = {"form": form, "security": current, "without_two_factor": users_without_two_factor_count()}
    return render(request, "accounts/security.html", context)
