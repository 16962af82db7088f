"""The calendar: a day or a week of tasks, calls and meetings of the user or a colleague."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from crm.activities.models import Activity
from crm.core.types import RecordType
from crm.web.access import conceal_related
from crm.web.board.selectors import CALENDAR_LIMIT, calendar_activities, workspace_members
from tenants.accounts.models import User

# The ends of what the calendar can show (a day of margin keeps every time zone in range).
EARLIEST = datetime.datetime(1, 1, 2, tzinfo=datetime.UTC)
LATEST = datetime.datetime(9999, 12, 30, tzinfo=datetime.UTC)


@dataclass
class Day:
    date: datetime.date
    activities: list[Activity]
    is_today: bool


def _parse_date(raw: str) -> datetime.date:
    if not raw:
        return timezone.localdate()
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise Http404 from exc


def _start_of(day: datetime.date) -> datetime.datetime:
    """Midnight of `day` in the current time zone; at the ends of the calendar, the earliest or latest moment."""
    try:
        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        start.astimezone(datetime.UTC)  # the database compares in UTC: it must exist there too
        return start
    except OverflowError:
        return EARLIEST if day.year < 5000 else LATEST


def _shift(day: datetime.date, days: int) -> datetime.date | None:
    """`day` moved by `days`, or None beyond the calendar's ends (no link there)."""
    try:
        return day + datetime.timedelta(days=days)
    except OverflowError:
        return None


def _calendar(request: HttpRequest, *, view: str) -> HttpResponse:
    user = cast(User, request.user)
    day = _parse_date(request.GET.get("date", ""))
    first = (_shift(day, -day.weekday()) or day) if view == "week" else day
    # The last week of year 9999 ends with the calendar.
    length = min(7 if view == "week" else 1, (datetime.date.max - first).days + 1)
    members = list(workspace_members())
    raw_user = request.GET.get("user", "")
    if raw_user in ("", "me"):
        assignee = user
    else:
        assignee = next((m for m in members if str(m.pk) == raw_user), None)  # type: ignore[assignment]
        if assignee is None:
            raise Http404
    activities = list(
        calendar_activities(
            user,
            assignee=assignee,
            start=_start_of(first),
            end=_start_of(next_day) if (next_day := _shift(first, length)) else LATEST,
        )
    )
    conceal_related(user, activities, {"company": RecordType.COMPANY, "deal": RecordType.DEAL})
    today = timezone.localdate()
    days = [
        Day(first + datetime.timedelta(days=i), [], first + datetime.timedelta(days=i) == today) for i in range(length)
    ]
    for activity in activities:
        assert activity.due_at is not None
        index = (timezone.localtime(activity.due_at).date() - first).days
        if 0 <= index < length:
            days[index].activities.append(activity)
    step = 7 if view == "week" else 1
    context = {
        "view": view,
        "days": days,
        "first": first,
        "last": first + datetime.timedelta(days=length - 1),
        "previous": _shift(first, -step),
        "next": _shift(first, step),
        "today": today,
        "members": members,
        "assignee": assignee,
        "user_value": "me" if assignee.pk == user.pk else str(assignee.pk),
        "truncated": len(activities) >= CALENDAR_LIMIT,
    }
    return render(request, "crm/board/calendar.html", context)


@login_required
@require_GET
def week(request: HttpRequest) -> HttpResponse:
    return _calendar(request, view="week")


@login_required
@require_GET
def day(request: HttpRequest) -> HttpResponse:
    return _calendar(request, view="day")
