"""The guided start's buttons: add the sample data, remove it. Administrators only (see the services)."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from crm.web.onboarding.services import sample_data_add, sample_data_remove
from tenants.accounts.guards import guard
from tenants.accounts.models import User
from tenants.accounts.policy import WorkspacePermission


@login_required
@require_POST
def sample_add(request: HttpRequest) -> HttpResponse:
    try:
        made = sample_data_add(actor=cast(User, request.user))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            ngettext(
                "%(count)d sample record was added, tagged “sample”.",
                "%(count)d sample records were added, tagged “sample”.",
                made,
            )
            % {"count": made},
        )
    return redirect("home")


@login_required
@require_POST
def sample_remove(request: HttpRequest) -> HttpResponse:
    removed = sample_data_remove(actor=cast(User, request.user))
    messages.success(
        request,
        ngettext("%(count)d sample record was removed.", "%(count)d sample records were removed.", removed)
        % {"count": removed},
    )
    if not removed:
        messages.info(request, _("There was no sample data left."))
    return redirect("home")


_admin = WorkspacePermission.MANAGE_USERS
urlpatterns = [
    path("sample-data/", guard(sample_add, permission=_admin), name="sample_add"),
    path("sample-data/remove/", guard(sample_remove, permission=_admin), name="sample_remove"),
]
