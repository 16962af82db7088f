"""Working calendar (placeholder until the calendar lands)."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from crm.processes.models import WorkCalendar


def work_calendar() -> WorkCalendar:
    cal = WorkCalendar.objects.first()
    return cal if cal is not None else WorkCalendar.objects.create()


def calendar_zone(cal: WorkCalendar) -> ZoneInfo:
    return ZoneInfo(cal.time_zone or settings.TIME_ZONE)


def add_duration(
    start: datetime.datetime, duration: dict[str, Any], cal: WorkCalendar | None = None
) -> datetime.datetime:
    minutes = int(duration.get("minutes", 0)) + 60 * int(duration.get("hours", 0))
    days = int(duration.get("days", 0)) + 30 * int(duration.get("months", 0))
    return start + datetime.timedelta(days=days, minutes=minutes)


def next_occurrence(
    after: datetime.datetime,
    every: str,
    at: datetime.time,
    weekday: int | None = None,
    day: int | None = None,
    cal: WorkCalendar | None = None,
) -> datetime.datetime:
    moment = after.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    while moment <= after:
        moment += datetime.timedelta(days=1)
    return moment
