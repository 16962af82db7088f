"""The working calendar's settings page (/settings/processes/calendar/): people with manage_processes read and
change it; everyone else gets a 403, reads included. The service checks again."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm.processes.calendar import (
    add_working_time,
    calendar_update,
    calendar_zone,
    work_calendar,
    working_days_ahead,
)
from crm.processes.calendar_forms import WorkCalendarForm
from crm.processes.models import WorkCalendar
from tenants.accounts import policy
from tenants.accounts.manage.forms import add_service_errors
from tenants.accounts.models import User

PREVIEW_MINUTES = 15
PREVIEW_DAYS = 5


def _initial(cal: WorkCalendar) -> dict[str, Any]:
    return {
        "work_days": [str(day) for day in cal.work_days],
        "day_start": cal.day_start,
        "day_end": cal.day_end,
        "time_zone": cal.time_zone,
        "holidays": "\n".join(day.isoformat() for day in cal.holidays),
        "extra_work_days": "\n".join(day.isoformat() for day in cal.extra_work_days),
    }


def _preview(cal: WorkCalendar) -> dict[str, Any]:
    """When a deadline of a few working minutes set now falls, and the next working days (none for a calendar
    the arithmetic cannot use)."""
    zone = calendar_zone(cal)
    now = timezone.now()
    try:
        deadline: datetime.datetime | None = add_working_time(now, PREVIEW_MINUTES, cal)
        days = working_days_ahead(now.astimezone(zone).date(), PREVIEW_DAYS, cal)
    except ValidationError:
        deadline, days = None, []
    return {"zone": zone.key, "minutes": PREVIEW_MINUTES, "deadline": deadline, "days": days}


@login_required
@require_http_methods(["GET", "POST"])
def calendar_page(request: HttpRequest) -> HttpResponse:
    actor = cast(User, request.user)
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PROCESSES)
    cal = work_calendar()
    form = WorkCalendarForm(
        request.POST if request.method == "POST" else None,
        initial=_initial(cal),
        workspace_time_zone=request.tenant.time_zone,  # type: ignore[attr-defined]
    )
    if request.method == "POST" and form.is_valid():
        try:
            calendar_update(actor=actor, data=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The working calendar is saved."))
            return redirect("processes_calendar:page")
    context = {"form": form, "preview": _preview(cal)}
    return render(request, "processes/calendar.html", context, status=422 if form.errors else 200)
