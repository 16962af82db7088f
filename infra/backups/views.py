"""The Backups page of a workspace's administrators: its backups, and a full export of its data.

Every view needs the MANAGE_BACKUPS permission (403 without it) and reads only the rows of the workspace the
request is for. A download link is signed for one export of one workspace and expires."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from infra.backups import exports, selectors
from infra.backups.models import Export
from tenants.accounts import policy
from tenants.accounts.models import User
from tenants.models import Tenant

View = Callable[..., HttpResponseBase]


def _requires_backups(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        policy.require_permission(cast(User, request.user), policy.WorkspacePermission.MANAGE_BACKUPS)
        return view(request, *args, **kwargs)

    return wrapper


def _tenant(request: HttpRequest) -> Tenant:
    return cast(Tenant, request.tenant)  # type: ignore[attr-defined]


def _export_rows(tenant: Tenant) -> list[dict[str, Any]]:
    rows = []
    for export in selectors.exports_of(tenant):
        link = ""
        if export.status == Export.Status.DONE and not _expired(export):
            link = exports.download_token(export)
        rows.append({"export": export, "token": link})
    return rows


def _expired(export: Export) -> bool:
    return export.expires_at is not None and export.expires_at <= timezone.now()


def _export_context(request: HttpRequest) -> dict[str, Any]:
    tenant = _tenant(request)
    if not exports.may_export_all(cast(User, request.user)):
        return {"may_export": False}
    return {"may_export": True, "active": selectors.export_active(tenant), "exports": _export_rows(tenant)}


@_requires_backups
@require_GET
@never_cache
def page(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    context = {"backups": selectors.backups_of(tenant), **_export_context(request)}
    return render(request, "backups/page.html", context)


@_requires_backups
@require_GET
@never_cache
def export_status(request: HttpRequest) -> HttpResponse:
    """The export section alone: polled by the page every 2 s while an export is being built."""
    return render(request, "backups/_exports.html", _export_context(request))


@_requires_backups
@require_POST
def export_create(request: HttpRequest) -> HttpResponse:
    try:
        exports.export_request(actor=cast(User, request.user), tenant=_tenant(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The export is being built. It appears below when ready; you can leave this page."))
    return redirect("backups:page")


@_requires_backups
@require_GET
def export_download(request: HttpRequest, export_id: str, token: str) -> HttpResponseBase:
    tenant = _tenant(request)
    if not exports.may_export_all(cast(User, request.user)):
        raise PermissionDenied
    try:
        export = selectors.export_for_download(tenant=tenant, export_id=export_id, token=token)
    except selectors.ExportGone:
        return render(request, "backups/link_expired.html", status=410)
    try:
        handle = exports.export_path(export).open("rb")
    except OSError:  # removed by the cleanup since the check
        return render(request, "backups/link_expired.html", status=410)
    exports.export_download(actor=cast(User, request.user), export=export)
    response = FileResponse(
        handle, as_attachment=True, filename=exports.download_name(export), content_type="application/zip"
    )
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
