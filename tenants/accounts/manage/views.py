"""The workspace administrators' pages: people and invitations, roles, teams, the audit log.

Each page is refused outright (403) without its workspace permission, reads included; the services check
again. Views parse input, call one service or selector and render.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_tenants.utils import schema_context

from tenants.accounts import policy, selectors, services
from tenants.accounts.forms import WorkspaceLocaleForm
from tenants.accounts.manage.forms import (
    ACTION_LABELS,
    PERMISSION_LABELS,
    AcceptInvitationForm,
    AuditFilterForm,
    InviteForm,
    RoleForm,
    TeamForm,
    TransferForm,
    UserChangeForm,
    add_service_errors,
)
from tenants.accounts.models import User
from tenants.accounts.roles import ACTIONS
from tenants.accounts.security import (
    account_unlock,
    has_two_factor,
    is_locked_out,
    locked_out_emails,
    workspace_locale_update,
)
from tenants.context import current_schema

View = Callable[..., HttpResponseBase]
Perm = policy.WorkspacePermission


def requires(permission: Perm) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            policy.require_permission(cast(User, request.user), permission)
            return view(request, *args, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _error_message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _act(request: HttpRequest, run: Callable[[], object], *, done: str, then: str, refused: str = "") -> HttpResponse:
    """A one-button action: run the service, say what happened, go to `then` (or `refused` when the service
    refuses it with a reason)."""
    try:
        run()
    except ValidationError as exc:
        messages.error(request, _error_message(exc))
        return redirect(refused or then)
    messages.success(request, done)
    return redirect(then)


# --- people and invitations --------------------------------------------------------------------------------


@requires(Perm.MANAGE_USERS)
@require_GET
def users(request: HttpRequest) -> HttpResponse:
    people = list(selectors.users_for_admin())
    locked = locked_out_emails([person.email for person in people if person.is_active])
    rows = [(person, person.email in locked) for person in people]
    context = {
        "rows": rows,
        "invitations": selectors.invitations_pending(),
        "active_count": selectors.active_user_count(),
    }
    return render(request, "accounts/manage/users.html", context)


@requires(Perm.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                actor=_actor(request), site_url=request.build_absolute_uri("/"), **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("An invitation is on its way to %(email)s.") % {"email": invitation.email})
            return redirect("manage:users")
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/manage/invite.html", {"form": form}, status=status)


@requires(Perm.MANAGE_USERS)
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = selectors.invitation_get(pk)
    return _act(
        request,
        lambda: services.invitation_revoke(actor=_actor(request), invitation=invitation),
        done=_("The invitation to %(email)s is withdrawn.") % {"email": invitation.email},
        then=reverse("manage:users"),
    )


def _user_page(
    request: HttpRequest,
    person: User,
    *,
    form: UserChangeForm | None = None,
    transfer: TransferForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "person": person,
        "form": form or UserChangeForm(initial={"role": person.role_id, "team": person.team_id}),
        "transfer": transfer or TransferForm(source=person),
        "owned": selectors.records_owned_by(person),
        "is_self": person.pk == request.user.pk,
        "person_has_two_factor": has_two_factor(person),
        "person_locked_out": person.is_active and is_locked_out(person),
    }
    return render(request, "accounts/manage/user.html", context, status=status)


@requires(Perm.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def user(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.user_get_for_admin(pk)
    if request.method == "GET":
        return _user_page(request, person)
    form = UserChangeForm(request.POST)
    if form.is_valid():
        try:
            services.user_change(actor=_actor(request), user=person, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("manage:user", pk=person.pk)
    return _user_page(request, selectors.user_get_for_admin(pk), form=form, status=422)


@requires(Perm.MANAGE_USERS)
@require_POST
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.user_get_for_admin(pk)
    return _act(
        request,
        lambda: services.user_deactivate(actor=_actor(request), user=person),
        done=_("%(name)s is deactivated.") % {"name": person.get_full_name()},
        then=reverse("manage:user", args=[person.pk]),
    )


@requires(Perm.MANAGE_USERS)
@require_POST
def user_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.user_get_for_admin(pk)
    return _act(
        request,
        lambda: account_unlock(actor=_actor(request), user=person),
        done=_("%(name)s can sign in again.") % {"name": person.get_full_name()},
        then=reverse("manage:user", args=[person.pk]),
    )


@requires(Perm.MANAGE_USERS)
@require_POST
def user_two_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.user_get_for_admin(pk)
    return _act(
        request,
        lambda: services.user_two_factor_reset(actor=_actor(request), user=person),
        done=_("%(name)s signs in with their password now and sets two-factor authentication up again.")
        % {"name": person.get_full_name()},
        then=reverse("manage:user", args=[person.pk]),
    )


@requires(Perm.MANAGE_USERS)
@require_POST
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.user_get_for_admin(pk)
    return _act(
        request,
        lambda: services.user_reactivate(actor=_actor(request), user=person),
        done=_("%(name)s is active again.") % {"name": person.get_full_name()},
        then=reverse("manage:user", args=[person.pk]),
    )


@requires(Perm.MANAGE_USERS)
@require_POST
def user_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.user_get_for_admin(pk)
    transfer = TransferForm(request.POST, source=person)
    if transfer.is_valid():
        try:
            counts = services.records_transfer(
                actor=_actor(request), source=person, target=transfer.cleaned_data["target"]
            )
        except ValidationError as exc:
            add_service_errors(transfer, exc)
        else:
            messages.success(
                request,
                _(
                    "Moved to %(name)s: %(companies)d companies, %(contacts)d contacts, %(leads)d leads, "
                    "%(deals)d deals and %(activities)d open activities."
                )
                % {"name": transfer.cleaned_data["target"].get_full_name(), **counts},
            )
            return redirect("manage:user", pk=person.pk)
    return _user_page(request, person, transfer=transfer, status=422)


# --- the invitation link (anonymous) -----------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationInvalid as exc:
        return render(request, "accounts/manage/invitation_invalid.html", {"reason": exc.message}, status=exc.status)
    initial = {"full_name": invitation.full_name}
    form = AcceptInvitationForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.invitation_accept(
                token=token, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
            )
        except services.InvitationInvalid as exc:
            return render(
                request, "accounts/manage/invitation_invalid.html", {"reason": exc.message}, status=exc.status
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                add_service_errors(form, exc)
            else:
                # Django's password validators speak in plain lists.
                form.add_error("password1", exc)
        else:
            login(request, person, backend=settings.PASSWORD_BACKEND)
            return redirect("home")
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "invitation": invitation}
    return render(request, "accounts/manage/invitation_accept.html", context, status=status)


# --- roles -------------------------------------------------------------------------------------------------


@requires(Perm.MANAGE_ROLES)
@require_GET
def roles(request: HttpRequest) -> HttpResponse:
    rows = [(r, [PERMISSION_LABELS.get(p, p) for p in r.permissions]) for r in selectors.roles_with_holders()]
    return render(request, "accounts/manage/roles.html", {"rows": rows})


def _role_page(request: HttpRequest, form: RoleForm, *, role: Any = None, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "role": role,
        "actions": [ACTION_LABELS[a] for a in ACTIONS],
        "read_only": role is not None and (role.is_builtin or role.pk == request.user.role_id),  # type: ignore[union-attr]
        "holders": selectors.role_holder_count(role) if role is not None else 0,
    }
    return render(request, "accounts/manage/role.html", context, status=status)


@requires(Perm.MANAGE_ROLES)
@require_http_methods(["GET", "POST"])
def role_new(request: HttpRequest) -> HttpResponse:
    form = RoleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            role = services.role_create(
                actor=_actor(request),
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                grants=form.grants(),
                permissions=form.cleaned_data["permissions"],
                hidden_fields=form.hidden(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Role “%(name)s” created.") % {"name": role.name})
            return redirect("manage:roles")
    return _role_page(request, form, status=422 if request.method == "POST" else 200)


@requires(Perm.MANAGE_ROLES)
@require_http_methods(["GET", "POST"])
def role(request: HttpRequest, pk: int) -> HttpResponse:
    current = selectors.role_get(pk)
    form = RoleForm(request.POST if request.method == "POST" else None, role=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.role_update(
                actor=_actor(request),
                role=current,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                grants=form.grants(),
                permissions=form.cleaned_data["permissions"],
                hidden_fields=form.hidden(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Role “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
            return redirect("manage:roles")
    status = 422 if request.method == "POST" else 200
    return _role_page(request, form, role=selectors.role_get(pk), status=status)


@requires(Perm.MANAGE_ROLES)
@require_POST
def role_copy(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        copy = services.role_copy(actor=_actor(request), role=selectors.role_get(pk))
    except ValidationError as exc:
        messages.error(request, _error_message(exc))
        return redirect("manage:roles")
    messages.success(request, _("Role “%(name)s” created: adapt it below.") % {"name": copy.name})
    return redirect("manage:role", pk=copy.pk)


@requires(Perm.MANAGE_ROLES)
@require_POST
def role_delete(request: HttpRequest, pk: int) -> HttpResponse:
    current = selectors.role_get(pk)
    return _act(
        request,
        lambda: services.role_delete(actor=_actor(request), role=current),
        done=_("Role “%(name)s” deleted.") % {"name": current.name},
        then=reverse("manage:roles"),
        refused=reverse("manage:role", args=[current.pk]),
    )


# --- teams -------------------------------------------------------------------------------------------------


@requires(Perm.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(actor=_actor(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Team “%(name)s” created.") % {"name": team.name})
            return redirect("manage:teams")
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/manage/teams.html", {"form": form, "tree": selectors.teams_tree()}, status=status)


@requires(Perm.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest, pk: int) -> HttpResponse:
    current = selectors.team_get(pk)
    form = TeamForm(request.POST if request.method == "POST" else None, team=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.team_update(actor=_actor(request), team=current, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Team “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
            return redirect("manage:teams")
    status = 422 if request.method == "POST" else 200
    members = selectors.active_users().filter(team=current)
    context = {"form": form, "team": selectors.team_get(pk), "members": members}
    return render(request, "accounts/manage/team.html", context, status=status)


@requires(Perm.MANAGE_USERS)
@require_POST
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    current = selectors.team_get(pk)
    return _act(
        request,
        lambda: services.team_delete(actor=_actor(request), team=current),
        done=_("Team “%(name)s” deleted.") % {"name": current.name},
        then=reverse("manage:teams"),
        refused=reverse("manage:team", args=[current.pk]),
    )


# --- workspace defaults ------------------------------------------------------------------------------------


@requires(Perm.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def workspace(request: HttpRequest) -> HttpResponse:
    """The workspace's default language, currency and time zone."""
    tenant = request.tenant  # type: ignore[attr-defined]
    form = WorkspaceLocaleForm(
        request.POST if request.method == "POST" else None,
        initial={"language": tenant.language, "currency": tenant.currency, "time_zone": tenant.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        try:
            workspace_locale_update(actor=_actor(request), tenant=tenant, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Workspace settings are saved."))
            return redirect("manage:workspace")
    return render(request, "accounts/manage/workspace.html", {"form": form}, status=422 if form.errors else 200)


# --- audit log ---------------------------------------------------------------------------------------------


@requires(Perm.VIEW_AUDIT_LOG)
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    try:
        before = int(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        before = None
    page = selectors.audit_page(form.filters(), before=before)
    query = request.GET.copy()
    query.pop("before", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "accounts/manage/audit.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A label typed by a user must not run as a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(export: services.AuditExport, schema: str) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        [
            _("time"),
            _("actor"),
            _("action"),
            _("target type"),
            _("target id"),
            _("target"),
            _("IP address"),
            _("user agent"),
            _("details"),
        ]
    )
    # The file streams after the view returned: read in the workspace's schema whatever the connection holds.
    with schema_context(schema):
        for event in selectors.audit_export_rows(export.filters, upto_id=export.upto_id):
            yield writer.writerow(
                [
                    timezone.localtime(event.at).isoformat(),
                    _cell(event.actor_label),
                    event.action,
                    _cell(event.target_type),
                    _cell(event.target_id),
                    _cell(event.target_label),
                    event.ip or "",
                    _cell(event.user_agent),
                    json.dumps(event.details, ensure_ascii=False, sort_keys=True, default=str),
                ]
            )


@requires(Perm.VIEW_AUDIT_LOG)
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    export = services.audit_log_export(actor=_actor(request), filters=AuditFilterForm(request.GET).filters())
    response = StreamingHttpResponse(_csv_rows(export, current_schema()), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
