"""The workspace's working calendar and the deadline arithmetic done in it.

Every "in working time" deadline of a process is counted here, in the calendar's time zone (its own, else the
workspace's default): a working day is one of `work_days` that is no holiday, or one of `extra_work_days`; its
working time runs from `day_start` to `day_end` local wall time. Intervals are half-open: 18:00 is no longer
working time, but a deadline may fall exactly at the end of a day. Minutes are real elapsed minutes, so a day
whose working hours contain a DST change is an hour shorter or longer; a wall time that does not exist that day
(in the spring gap) is read as the instant it would have been in the old offset.

The arithmetic walks day by day (a few microseconds a day) and never further than HORIZON_DAYS: a calendar
without any working day, or a deadline beyond the horizon, raises ValidationError (code "no_working_time"); the
service refuses to save a calendar without working days, so only a row broken in the database reaches that.
Results are aware datetimes in the calendar's zone.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.core.validation import refuse_bad_values
from crm.processes.models import WorkCalendar
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User
from tenants.context import current_schema
from tenants.generations import Generations
from tenants.locale import validate_time_zone

# How far any calendar arithmetic looks ahead (about 20 years): a bound on the work of a call.
HORIZON_DAYS = 7305
MAX_DATES = 366  # holidays, and extra working days, each
UNITS = ("minutes", "hours", "days", "months")
# The largest amount of each unit a duration may hold (each about 20 years).
MAX_AMOUNT = {"minutes": 10_512_000, "hours": 175_200, "days": 7300, "months": 240}
EVERY = ("day", "week", "month")
_UTC = datetime.UTC

# The row, per workspace schema, shared by every worker; calendar_update makes the entries stale everywhere.
_cached = Generations("work-calendar", entry_seconds=300)
_FIELDS = ("time_zone", "work_days", "day_start", "day_end", "holidays", "extra_work_days", "updated_at")


def work_calendar() -> WorkCalendar:
    """The workspace's calendar (created with the defaults the first time). A fresh instance each call, read from
    the shared cache when it can be: changing it changes nothing for other callers."""
    schema = current_schema()
    found, snapshot, generation = _cached.get(schema, "row")
    if found and isinstance(snapshot, dict):
        return WorkCalendar(**snapshot)
    cal = WorkCalendar.objects.order_by("pk").first()
    if cal is None:
        # Two first callers at once: get_or_create on the fixed key makes one row and gives both the same.
        cal, _created = WorkCalendar.objects.get_or_create(pk=1)
    _cached.put(schema, "row", generation, {"pk": cal.pk, **{name: getattr(cal, name) for name in _FIELDS}})
    return cal


def _workspace_time_zone() -> str:
    tenant = getattr(connection, "tenant", None)
    name = getattr(tenant, "time_zone", None)
    if name is None and tenant is not None:
        # schema_context() puts a stand-in on the connection: read the workspace's row.
        from tenants.models import Tenant

        name = Tenant.objects.filter(schema_name=current_schema()).values_list("time_zone", flat=True).first()
    return str(name or settings.TIME_ZONE)


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def calendar_zone(cal: WorkCalendar) -> zoneinfo.ZoneInfo:
    """The calendar's time zone: its own, else the workspace's default, else the server's."""
    return _zone(cal.time_zone or "") or _zone(_workspace_time_zone()) or zoneinfo.ZoneInfo(settings.TIME_ZONE or "UTC")


# --- arithmetic ---------------------------------------------------------------------------------------------


def _no_working_time() -> ValidationError:
    return ValidationError(
        ngettext(
            "The working calendar has no working time within %(years)s year.",
            "The working calendar has no working time within %(years)s years.",
            HORIZON_DAYS // 365,
        )
        % {"years": HORIZON_DAYS // 365},
        code="no_working_time",
    )


def _out_of_range() -> ValidationError:
    return ValidationError(_("The date is out of range."), code="out_of_range")


@dataclass(frozen=True)
class _Calendar:
    """A calendar read once for one computation: sets instead of lists, the zone resolved."""

    zone: zoneinfo.ZoneInfo
    work_days: frozenset[int]
    holidays: frozenset[datetime.date]
    extra: frozenset[datetime.date]
    start: datetime.time
    end: datetime.time

    @classmethod
    def of(cls, cal: WorkCalendar | None) -> _Calendar:
        cal = work_calendar() if cal is None else cal
        return cls(
            zone=calendar_zone(cal),
            work_days=frozenset(cal.work_days or ()),
            holidays=frozenset(cal.holidays or ()),
            extra=frozenset(cal.extra_work_days or ()),
            start=cal.day_start,
            end=cal.day_end,
        )

    def working_day(self, day: datetime.date) -> bool:
        if day in self.holidays:
            return False
        return day in self.extra or day.weekday() in self.work_days

    def at(self, day: datetime.date, wall: datetime.time) -> datetime.datetime:
        """The instant (UTC) of a local wall time on `day`."""
        return datetime.datetime.combine(day, wall.replace(tzinfo=None), tzinfo=self.zone).astimezone(_UTC)

    def hours(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime] | None:
        """The working interval of `day` in UTC (half-open), or None for a day off."""
        if not self.working_day(day):
            return None
        start, end = self.at(day, self.start), self.at(day, self.end)
        return (start, end) if end > start else None

    def local(self, moment: datetime.datetime) -> datetime.datetime:
        return moment.astimezone(self.zone)

    def days_from(self, day: datetime.date) -> Iterator[datetime.date]:
        """`day` and the days after it, up to the horizon (then ValidationError)."""
        try:
            for offset in range(HORIZON_DAYS + 1):
                yield day + datetime.timedelta(days=offset)
        except OverflowError:
            raise _out_of_range() from None
        raise _no_working_time()


P = ParamSpec("P")
R = TypeVar("R")


def _in_range(func: Callable[P, R]) -> Callable[P, R]:
    """A moment near the ends of the calendar (year 1 or 9999) is a ValidationError, not an OverflowError."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except OverflowError:
            raise _out_of_range() from None

    return wrapper


def _aware(moment: datetime.datetime) -> datetime.datetime:
    if not isinstance(moment, datetime.datetime) or timezone.is_naive(moment):
        raise ValueError("calendar arithmetic needs an aware datetime")
    return moment.astimezone(_UTC)


def is_working_day(day: datetime.date, cal: WorkCalendar | None = None) -> bool:
    return _Calendar.of(cal).working_day(day)


@_in_range
def is_working_time(at: datetime.datetime, cal: WorkCalendar | None = None) -> bool:
    c = _Calendar.of(cal)
    moment = _aware(at)
    hours = c.hours(c.local(moment).date())
    return hours is not None and hours[0] <= moment < hours[1]


def _next_working(c: _Calendar, moment: datetime.datetime) -> datetime.datetime:
    """The first working instant at or after `moment` (UTC in, UTC out)."""
    for day in c.days_from(c.local(moment).date()):
        hours = c.hours(day)
        if hours is not None and moment < hours[1]:
            return max(moment, hours[0])
    raise AssertionError("days_from ends by raising")  # pragma: no cover


@_in_range
def next_working_moment(at: datetime.datetime, cal: WorkCalendar | None = None) -> datetime.datetime:
    """`at` itself when it is working time, else the start of the next working time."""
    c = _Calendar.of(cal)
    return c.local(_next_working(c, _aware(at)))


def _add_working(c: _Calendar, start: datetime.datetime, minutes: int) -> datetime.datetime:
    moment, remaining = start, datetime.timedelta(minutes=minutes)
    for day in c.days_from(c.local(start).date()):
        hours = c.hours(day)
        if hours is None or hours[1] <= moment:
            continue
        moment = max(moment, hours[0])
        available = hours[1] - moment
        if remaining <= available:
            return moment + remaining
        remaining -= available
    raise AssertionError("days_from ends by raising")  # pragma: no cover


@_in_range
def add_working_time(start: datetime.datetime, minutes: int, cal: WorkCalendar | None = None) -> datetime.datetime:
    """`minutes` of working time after `start`, counted from the next working moment when `start` is outside
    working time. 0 minutes gives that next working moment. A deadline may end exactly at a day's end."""
    if minutes < 0:
        raise ValidationError(_("A working-time duration cannot be negative."), code="negative")
    c = _Calendar.of(cal)
    return c.local(_add_working(c, _aware(start), minutes))


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise _out_of_range()
    # The 31st of a shorter month is its last day (31 January + 1 month: 28 or 29 February).
    return datetime.date(year, month + 1, min(day.day, month_calendar.monthrange(year, month + 1)[1]))


def _working_days_later(c: _Calendar, day: datetime.date, count: int) -> datetime.date:
    """The `count`-th working day after `day` (`day` itself for 0)."""
    if count == 0:
        return day
    seen = 0
    for later in c.days_from(day + datetime.timedelta(days=1)):
        if c.working_day(later):
            seen += 1
            if seen == count:
                return later
    raise AssertionError("days_from ends by raising")  # pragma: no cover


def duration_parts(duration: Mapping[str, Any]) -> tuple[str, int, bool]:
    """(unit, amount, working) of a duration {"<unit>": n, "working": bool}; ValidationError when malformed."""
    if not isinstance(duration, Mapping):
        raise ValidationError(_("A duration must name an amount of minutes, hours, days or months."), code="invalid")
    units = [unit for unit in UNITS if unit in duration]
    unknown = set(duration) - {*UNITS, "working"}
    if len(units) != 1 or unknown:
        raise ValidationError(_("A duration must name an amount of minutes, hours, days or months."), code="invalid")
    unit = units[0]
    amount, working = duration[unit], duration.get("working", False)
    if isinstance(amount, bool) or not isinstance(amount, int) or not isinstance(working, bool):
        raise ValidationError(_("A duration must name an amount of minutes, hours, days or months."), code="invalid")
    if abs(amount) > MAX_AMOUNT[unit]:
        raise ValidationError(_("This duration is too long."), code="too_long")
    if working and amount < 0:
        raise ValidationError(_("A working-time duration cannot be negative."), code="negative")
    return unit, amount, working


@_in_range
def add_duration(
    start: datetime.datetime, duration: Mapping[str, Any], cal: WorkCalendar | None = None
) -> datetime.datetime:
    """`start` plus a duration {"minutes"|"hours"|"days"|"months": n, "working": bool}.

    Not working: minutes and hours are elapsed time; days and months keep the local wall time of `start` in the
    calendar's zone (a month from 31 January is 28/29 February); n may be negative.
    Working: minutes and hours are working time (add_working_time). n working days: when `start` is working
    time, the same time of day on the n-th working day after; otherwise the end of the n-th working day counted
    from the next working moment's day (it is the first) — in both cases n days' worth of working time.
    n working months: n calendar months, then the next working moment.
    """
    unit, amount, working = duration_parts(duration)
    c = _Calendar.of(cal)
    moment = _aware(start)
    if unit in ("minutes", "hours"):
        minutes = amount * 60 if unit == "hours" else amount
        if working:
            return c.local(_add_working(c, moment, minutes))
        return c.local(moment + datetime.timedelta(minutes=minutes))
    local = c.local(moment)
    if unit == "months":
        later = c.at(_add_months(local.date(), amount), local.time())
        return c.local(_next_working(c, later) if working else later)
    if not working:
        return c.local(c.at(local.date() + datetime.timedelta(days=amount), local.time()))
    if amount == 0:
        return c.local(_next_working(c, moment))
    hours = c.hours(local.date())
    if hours is not None and hours[0] <= moment < hours[1]:
        day = _working_days_later(c, local.date(), amount)
        # A wall time that this day's working hours skip (DST) ends up at the day's end at the latest.
        return c.local(min(max(c.at(day, local.time()), c.at(day, c.start)), c.at(day, c.end)))
    first = c.local(_next_working(c, moment)).date()
    return c.local(c.at(_working_days_later(c, first, amount - 1), c.end))


@_in_range
def next_occurrence(
    after: datetime.datetime,
    every: str,
    at: datetime.time | str,
    weekday: int | None = None,
    day: int | None = None,
    cal: WorkCalendar | None = None,
) -> datetime.datetime:
    """The first moment strictly after `after` of a schedule, at local wall time `at` in the calendar's zone.

    "day": every working day of the calendar (holidays skipped, extra working days included); "week": every
    `weekday` (0 = Monday; default Monday); "month": day `day` (1-28; default 1) of every month. A week's or a
    month's run is not moved off a day off: whoever chose the day chose it. A wall time the spring DST change
    skips runs an hour later; one the autumn change repeats runs once (the first)."""
    if every not in EVERY:
        raise ValidationError(_("Choose every day, every week or every month."), code="invalid")
    weekday = 0 if weekday is None else weekday
    day = 1 if day is None else day
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ValidationError(_("Choose a day of the week."), code="invalid")
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        raise ValidationError(_("Choose a day of the month from 1 to 28."), code="invalid")
    wall = _clean_time(at)
    c = _Calendar.of(cal)
    moment = _aware(after)
    for date in c.days_from(c.local(moment).date()):
        if every == "day":
            matches = c.working_day(date)
        elif every == "week":
            matches = date.weekday() == weekday
        else:
            matches = date.day == day
        if matches:
            candidate = c.at(date, wall)
            if candidate > moment:
                return c.local(candidate)
    raise AssertionError("days_from ends by raising")  # pragma: no cover


@_in_range
def working_days_ahead(start: datetime.date, count: int, cal: WorkCalendar | None = None) -> list[datetime.date]:
    """The first `count` working days from `start` on (`start` included)."""
    c = _Calendar.of(cal)
    found: list[datetime.date] = []
    if count <= 0:
        return found
    for day in c.days_from(start):
        if c.working_day(day):
            found.append(day)
            if len(found) == count:
                return found
    raise AssertionError("days_from ends by raising")  # pragma: no cover


# --- the service --------------------------------------------------------------------------------------------

EDITABLE = ("time_zone", "work_days", "day_start", "day_end", "holidays", "extra_work_days")


def _clean_time(value: Any) -> datetime.time:
    if isinstance(value, str):
        try:
            value = datetime.time.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(_("Enter a time such as 09:00."), code="invalid") from None
    if not isinstance(value, datetime.time) or value.tzinfo is not None:
        raise ValidationError(_("Enter a time such as 09:00."), code="invalid")
    return value


def _clean_work_days(value: Any) -> list[int]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | set | frozenset):
        raise ValidationError(_("Choose the working days of the week."), code="invalid")
    days: set[int] = set()
    for item in value:
        if isinstance(item, str) and item.strip().isdigit() and len(item.strip()) == 1:
            item = int(item.strip())
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 6:
            raise ValidationError(_("Choose the working days of the week."), code="invalid")
        days.add(item)
    if not days:
        raise ValidationError(_("Choose at least one working day."), code="required")
    return sorted(days)


def too_many_dates() -> ValidationError:
    return ValidationError(
        ngettext("At most %(count)s date.", "At most %(count)s dates.", MAX_DATES) % {"count": MAX_DATES},
        code="too_many",
    )


def _clean_dates(value: Any) -> list[datetime.date]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | set | frozenset):
        raise ValidationError(_("Enter a list of dates."), code="invalid")
    if len(value) > MAX_DATES * 4:  # before parsing anything: the count after duplicates go is checked below
        raise too_many_dates()
    dates: set[datetime.date] = set()
    for item in value:
        if isinstance(item, str):
            try:
                item = datetime.date.fromisoformat(item.strip())
            except ValueError:
                raise ValidationError(
                    _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": item[:40]}, code="invalid"
                ) from None
        if isinstance(item, datetime.datetime) or not isinstance(item, datetime.date):
            raise ValidationError(_("Enter a list of dates."), code="invalid")
        dates.add(item)
    if len(dates) > MAX_DATES:
        raise too_many_dates()
    return sorted(dates)


def _shown(value: Any) -> Any:
    """A value as the audit entry keeps it (JSON)."""
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, list):
        return [item.isoformat() if isinstance(item, datetime.date) else item for item in value]
    return value


@workspace_write
def calendar_update(*, actor: User, data: Mapping[str, Any]) -> WorkCalendar:
    """Change the working calendar (the keys given in `data`, of EDITABLE). Needs manage_processes (403);
    ValidationError per field, nothing saved. Entries cached by every worker are stale from then on."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PROCESSES)
    if unknown := set(data) - set(EDITABLE):
        raise ValidationError({str(name): [_("This field cannot be set.")] for name in sorted(map(str, unknown))})
    refuse_bad_values(data)
    cal = WorkCalendar.objects.select_for_update().order_by("pk").first()
    if cal is None:
        cal, _created = WorkCalendar.objects.get_or_create(pk=1)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    cleaners: dict[str, Any] = {
        "work_days": _clean_work_days,
        "day_start": _clean_time,
        "day_end": _clean_time,
        "holidays": _clean_dates,
        "extra_work_days": _clean_dates,
    }
    for name in EDITABLE:
        if name not in data:
            continue
        try:
            if name == "time_zone":
                zone = data[name] if data[name] is not None else ""
                if not isinstance(zone, str):
                    raise ValidationError(_("Choose a time zone."), code="invalid")
                if zone.strip():
                    validate_time_zone(zone.strip())
                values[name] = zone.strip()
            else:
                values[name] = cleaners[name](data[name])
        except ValidationError as exc:
            errors[name] = exc.messages
    start = values.get("day_start", cal.day_start)
    end = values.get("day_end", cal.day_end)
    if "day_start" not in errors and "day_end" not in errors and not start < end:
        errors["day_end"] = [_("The working day must end after it starts.")]
    holidays = values.get("holidays", cal.holidays)
    extra = values.get("extra_work_days", cal.extra_work_days)
    both = sorted(set(holidays) & set(extra)) if not {"holidays", "extra_work_days"} & set(errors) else []
    if both:
        errors["extra_work_days"] = [
            _("%(dates)s cannot be both a holiday and a working day.")
            % {"dates": ", ".join(d.isoformat() for d in both[:5])}
        ]
    if errors:
        raise ValidationError(errors)
    changed = {
        name: {"from": _shown(getattr(cal, name)), "to": _shown(value)}
        for name, value in values.items()
        if getattr(cal, name) != value
    }
    if not changed:
        return cal
    for name in changed:
        setattr(cal, name, values[name])
    cal.updated_at = timezone.now()
    cal.save(update_fields=[*changed, "updated_at"])
    _cached.invalidate(current_schema())
    audit_record(
        actor=actor,
        action=AuditEvent.Action.WORKSPACE_SETTINGS,
        target=cal,
        details={"what": str(WorkCalendar._meta.verbose_name), **changed},
    )
    return cal
