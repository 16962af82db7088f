"""The working calendar: its arithmetic (working time, durations, schedules; time zones and DST), the service
that changes it (validation, permission, audit, the shared cache), and its settings page."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django_tenants.utils import schema_context

from crm.processes import calendar
from crm.processes.calendar import (
    add_duration,
    add_working_time,
    calendar_update,
    is_working_day,
    is_working_time,
    next_occurrence,
    next_working_moment,
    work_calendar,
)
from crm.processes.models import WorkCalendar
from tenants.accounts.models import AuditEvent, User
from tenants.accounts.roles import SALES_HEAD, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD, Workspace
from tests.web.records_support import inside

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
VLADIVOSTOK = zoneinfo.ZoneInfo("Asia/Vladivostok")
UTC = datetime.UTC
PAGE = "/settings/processes/calendar/"


def cal(**overrides: Any) -> WorkCalendar:
    """A calendar that is never saved: the arithmetic reads only its fields (a zone given: no database)."""
    values: dict[str, Any] = {
        "time_zone": "Europe/Paris",
        "work_days": [0, 1, 2, 3, 4],
        "day_start": datetime.time(9),
        "day_end": datetime.time(18),
        "holidays": [],
        "extra_work_days": [],
    }
    return WorkCalendar(**{**values, **overrides})


def paris(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=PARIS)


def brute_force(start: datetime.datetime, minutes: int, c: WorkCalendar) -> datetime.datetime:
    """The reference: walk minute by minute in UTC, counting the minutes that start in working time."""
    moment = next_working_moment(start, c).astimezone(UTC)
    while minutes:
        if is_working_time(moment, c):
            minutes -= 1
            moment += datetime.timedelta(minutes=1)
        else:
            moment = next_working_moment(moment, c).astimezone(UTC)
    return moment


# --- working time -------------------------------------------------------------------------------------------

# 2025-06-02 is a Monday.


@pytest.mark.parametrize(
    ("start", "minutes", "expected", "overrides"),
    [
        # inside hours
        (paris(2025, 6, 2, 10, 0), 15, paris(2025, 6, 2, 10, 15), {}),
        # crossing the end of the day
        (paris(2025, 6, 2, 17, 50), 15, paris(2025, 6, 3, 9, 5), {}),
        # ending exactly at the end of the day stays on that day
        (paris(2025, 6, 2, 17, 45), 15, paris(2025, 6, 2, 18, 0), {}),
        # crossing a weekend
        (paris(2025, 6, 6, 17, 30), 60, paris(2025, 6, 9, 9, 30), {}),
        # a holiday on the Monday
        (paris(2025, 6, 6, 17, 30), 60, paris(2025, 6, 10, 9, 30), {"holidays": [datetime.date(2025, 6, 9)]}),
        # a Saturday worked
        (paris(2025, 6, 6, 17, 30), 60, paris(2025, 6, 7, 9, 30), {"extra_work_days": [datetime.date(2025, 6, 7)]}),
        # starting outside working hours: a Saturday, early on a Monday, late on a Monday
        (paris(2025, 6, 7, 12, 0), 15, paris(2025, 6, 9, 9, 15), {}),
        (paris(2025, 6, 9, 6, 0), 15, paris(2025, 6, 9, 9, 15), {}),
        (paris(2025, 6, 9, 19, 0), 15, paris(2025, 6, 10, 9, 15), {}),
        # nothing to add: the next working moment
        (paris(2025, 6, 7, 12, 0), 0, paris(2025, 6, 9, 9, 0), {}),
        # a full day's worth from its start
        (paris(2025, 6, 2, 9, 0), 540, paris(2025, 6, 2, 18, 0), {}),
        (paris(2025, 6, 2, 9, 0), 541, paris(2025, 6, 3, 9, 1), {}),
        # other hours
        (paris(2025, 6, 2, 8, 0), 90, paris(2025, 6, 2, 9, 30), {"day_start": datetime.time(8, 0)}),
    ],
)
def test_working_minutes(start, minutes, expected, overrides) -> None:
    c = cal(**overrides)
    result = add_working_time(start, minutes, c)
    assert result == expected
    assert result.tzinfo == PARIS
    assert result == brute_force(start, minutes, c)


def test_dst_spring_forward_keeps_the_wall_time_of_working_hours() -> None:
    # Friday 17:00 CET; the clocks go forward on Sunday 30 March 2025: Monday's 10:00 is CEST (UTC 08:00).
    result = add_working_time(paris(2025, 3, 28, 17, 0), 120, cal())
    assert result == paris(2025, 3, 31, 10, 0)
    assert result.utcoffset() == datetime.timedelta(hours=2)
    assert result.astimezone(UTC) == datetime.datetime(2025, 3, 31, 8, 0, tzinfo=UTC)


def test_dst_autumn_back_keeps_the_wall_time_of_working_hours() -> None:
    result = add_working_time(paris(2025, 10, 24, 17, 0), 120, cal())
    assert result == paris(2025, 10, 27, 10, 0)
    assert result.astimezone(UTC) == datetime.datetime(2025, 10, 27, 9, 0, tzinfo=UTC)


def test_a_working_day_with_a_dst_change_inside_its_hours_counts_real_minutes() -> None:
    # Every day 01:00-05:00; on 30 March 2025 02:00-03:00 does not exist: that day has 180 working minutes.
    c = cal(work_days=list(range(7)), day_start=datetime.time(1), day_end=datetime.time(5))
    start = paris(2025, 3, 30, 1, 0)
    assert add_working_time(start, 180, c) == paris(2025, 3, 30, 5, 0)
    assert add_working_time(start, 200, c) == paris(2025, 3, 31, 1, 20)
    # 26 October 2025: 02:00-03:00 happens twice, that day has 300 working minutes.
    autumn = paris(2025, 10, 26, 1, 0)
    assert add_working_time(autumn, 300, c) == paris(2025, 10, 26, 5, 0)
    assert add_working_time(autumn, 301, c) == paris(2025, 10, 27, 1, 1)
    for begin, minutes in ((start, 200), (autumn, 301), (paris(2025, 3, 29, 4, 30), 250)):
        assert add_working_time(begin, minutes, c) == brute_force(begin, minutes, c)


def test_the_day_is_the_calendar_zones_not_utcs() -> None:
    c = cal(time_zone="Asia/Vladivostok")  # UTC+10 all year
    # Monday 23:30 UTC is Tuesday 09:30 in Vladivostok.
    start = datetime.datetime(2025, 6, 2, 23, 30, tzinfo=UTC)
    assert add_working_time(start, 60, c) == datetime.datetime(2025, 6, 3, 10, 30, tzinfo=VLADIVOSTOK)
    # Friday 08:30 UTC is Friday 18:30 there, after hours: Monday 09:15 there, still Sunday in UTC.
    friday = datetime.datetime(2025, 6, 6, 8, 30, tzinfo=UTC)
    result = add_working_time(friday, 15, c)
    assert result == datetime.datetime(2025, 6, 9, 9, 15, tzinfo=VLADIVOSTOK)
    assert result.astimezone(UTC) == datetime.datetime(2025, 6, 8, 23, 15, tzinfo=UTC)
    assert result.tzinfo == VLADIVOSTOK
    # The same instant in Paris is within working hours.
    assert add_working_time(friday, 15, cal()) == paris(2025, 6, 6, 10, 45)


def test_large_values_are_counted_without_walking_minutes() -> None:
    # 100,000 minutes of 540-minute days: 185 full days (37 weeks) and 100 minutes.
    start = paris(2025, 1, 6, 9, 0)
    assert add_working_time(start, 100_000, cal()) == paris(2025, 9, 22, 10, 40)
    # About ten years of working time still answers (the walk is by days, up to the horizon).
    far = add_working_time(start, 540 * 2600, cal())
    assert far.year == 2034


def test_a_calendar_without_working_days_raises_instead_of_looping() -> None:
    empty = cal(work_days=[])
    for call in (
        lambda: add_working_time(paris(2025, 6, 2, 10, 0), 15, empty),
        lambda: next_working_moment(paris(2025, 6, 2, 10, 0), empty),
        lambda: add_duration(paris(2025, 6, 2, 10, 0), {"days": 1, "working": True}, empty),
        lambda: next_occurrence(paris(2025, 6, 2, 10, 0), "day", datetime.time(9), cal=empty),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.code == "no_working_time"
    # Only extra working days: those are worked.
    some = cal(work_days=[], extra_work_days=[datetime.date(2025, 6, 14)])
    assert add_working_time(paris(2025, 6, 2, 10, 0), 15, some) == paris(2025, 6, 14, 9, 15)


def test_the_ends_of_the_calendar_and_bad_input_are_refused() -> None:
    with pytest.raises(ValidationError):
        add_duration(datetime.datetime(9999, 12, 1, tzinfo=UTC), {"months": 1}, cal())
    with pytest.raises(ValidationError):
        add_working_time(datetime.datetime(9999, 12, 30, tzinfo=UTC), 60 * 24 * 10, cal())
    with pytest.raises(ValidationError):
        add_working_time(paris(2025, 6, 2, 10, 0), -5, cal())
    with pytest.raises(ValueError, match="aware"):
        add_working_time(datetime.datetime(2025, 6, 2, 10, 0), 5, cal())


def test_working_day_and_time() -> None:
    c = cal(holidays=[datetime.date(2025, 6, 9)], extra_work_days=[datetime.date(2025, 6, 7)])
    assert is_working_day(datetime.date(2025, 6, 6), c)
    assert not is_working_day(datetime.date(2025, 6, 8), c)  # Sunday
    assert not is_working_day(datetime.date(2025, 6, 9), c)  # holiday Monday
    assert is_working_day(datetime.date(2025, 6, 7), c)  # worked Saturday
    assert is_working_time(paris(2025, 6, 6, 9, 0), c)
    assert is_working_time(paris(2025, 6, 6, 17, 59), c)
    assert not is_working_time(paris(2025, 6, 6, 18, 0), c)
    assert not is_working_time(paris(2025, 6, 6, 8, 59), c)
    assert not is_working_time(paris(2025, 6, 9, 12, 0), c)
    # Friday 16:30 UTC is Saturday 02:30 in Vladivostok, no working time there.
    assert not is_working_time(datetime.datetime(2025, 6, 6, 16, 30, tzinfo=UTC), cal(time_zone="Asia/Vladivostok"))
    assert next_working_moment(paris(2025, 6, 6, 12, 0), c) == paris(2025, 6, 6, 12, 0)
    assert next_working_moment(paris(2025, 6, 6, 18, 0), c) == paris(2025, 6, 7, 9, 0)
    assert next_working_moment(paris(2025, 6, 7, 18, 0), c) == paris(2025, 6, 10, 9, 0)


# --- durations ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # calendar time
        (paris(2025, 6, 6, 17, 0), {"minutes": 90}, paris(2025, 6, 6, 18, 30)),
        (paris(2025, 3, 29, 10, 0), {"hours": 24}, paris(2025, 3, 30, 11, 0)),  # 24 h over the DST change
        (paris(2025, 3, 29, 10, 0), {"days": 1}, paris(2025, 3, 30, 10, 0)),  # a day keeps the wall time
        (paris(2025, 3, 31, 10, 0), {"days": -2}, paris(2025, 3, 29, 10, 0)),
        (paris(2025, 1, 31, 10, 0), {"months": 1}, paris(2025, 2, 28, 10, 0)),
        (paris(2024, 1, 31, 10, 0), {"months": 1}, paris(2024, 2, 29, 10, 0)),
        (paris(2025, 3, 31, 10, 0), {"months": 1, "working": False}, paris(2025, 4, 30, 10, 0)),
        (paris(2025, 3, 15, 10, 0), {"months": 1}, paris(2025, 4, 15, 10, 0)),  # CET to CEST
        (paris(2025, 12, 31, 10, 0), {"months": 2}, paris(2026, 2, 28, 10, 0)),
        (paris(2025, 3, 31, 10, 0), {"months": -1}, paris(2025, 2, 28, 10, 0)),
        (paris(2025, 12, 31, 10, 0), {"months": 11}, paris(2026, 11, 30, 10, 0)),
        # working time
        (paris(2025, 6, 6, 17, 0), {"minutes": 90, "working": True}, paris(2025, 6, 9, 9, 30)),
        (paris(2025, 6, 6, 17, 0), {"hours": 2, "working": True}, paris(2025, 6, 9, 10, 0)),
        # working days from inside hours: the same time on the n-th working day after
        (paris(2025, 6, 5, 11, 0), {"days": 2, "working": True}, paris(2025, 6, 9, 11, 0)),
        (paris(2025, 6, 6, 11, 0), {"days": 1, "working": True}, paris(2025, 6, 9, 11, 0)),
        # from outside: the end of the n-th working day, the next working moment's day being the first
        (paris(2025, 6, 6, 20, 0), {"days": 1, "working": True}, paris(2025, 6, 9, 18, 0)),
        (paris(2025, 6, 9, 7, 0), {"days": 1, "working": True}, paris(2025, 6, 9, 18, 0)),
        (paris(2025, 6, 7, 12, 0), {"days": 3, "working": True}, paris(2025, 6, 11, 18, 0)),
        (paris(2025, 6, 7, 12, 0), {"days": 0, "working": True}, paris(2025, 6, 9, 9, 0)),
        # working months: the months, then the next working moment (5 July 2025 is a Saturday)
        (paris(2025, 6, 5, 10, 0), {"months": 1, "working": True}, paris(2025, 7, 7, 9, 0)),
        (paris(2025, 6, 4, 10, 0), {"months": 1, "working": True}, paris(2025, 7, 4, 10, 0)),
        (paris(2025, 1, 31, 19, 0), {"months": 1, "working": True}, paris(2025, 3, 3, 9, 0)),
    ],
)
def test_durations(start, duration, expected) -> None:
    result = add_duration(start, duration, cal())
    assert result == expected
    assert result.utcoffset() == expected.utcoffset()


def test_working_days_skip_holidays_and_count_extra_days() -> None:
    c = cal(holidays=[datetime.date(2025, 6, 6)], extra_work_days=[datetime.date(2025, 6, 7)])
    assert add_duration(paris(2025, 6, 5, 11, 0), {"days": 2, "working": True}, c) == paris(2025, 6, 9, 11, 0)
    c = cal(holidays=[datetime.date(2025, 6, 6)])
    assert add_duration(paris(2025, 6, 5, 11, 0), {"days": 2, "working": True}, c) == paris(2025, 6, 10, 11, 0)


@pytest.mark.parametrize(
    "duration",
    [
        {},
        {"minutes": 1, "hours": 1},
        {"weeks": 1},
        {"minutes": "15"},
        {"minutes": 1.5},
        {"minutes": True},
        {"minutes": 15, "working": "yes"},
        {"minutes": 15, "extra": 1},
        {"days": -1, "working": True},
        {"minutes": 10**12},
        {"months": 10**6},
        ["minutes", 15],
    ],
)
def test_malformed_durations_are_refused(duration) -> None:
    with pytest.raises(ValidationError):
        add_duration(paris(2025, 6, 2, 10, 0), duration, cal())


# --- schedules ----------------------------------------------------------------------------------------------


def test_next_occurrence() -> None:
    c = cal(holidays=[datetime.date(2025, 6, 9)])
    nine = datetime.time(9)
    # every working day: Friday after nine is followed by Tuesday (Monday is a holiday)
    assert next_occurrence(paris(2025, 6, 6, 10, 0), "day", nine, cal=c) == paris(2025, 6, 10, 9, 0)
    assert next_occurrence(paris(2025, 6, 5, 8, 0), "day", nine, cal=c) == paris(2025, 6, 5, 9, 0)
    # strictly after: at nine sharp, the next one
    assert next_occurrence(paris(2025, 6, 5, 9, 0), "day", "09:00", cal=c) == paris(2025, 6, 6, 9, 0)
    # every Wednesday
    assert next_occurrence(paris(2025, 6, 4, 9, 0), "week", nine, weekday=2, cal=c) == paris(2025, 6, 11, 9, 0)
    assert next_occurrence(paris(2025, 6, 2, 9, 0), "week", nine, weekday=2, cal=c) == paris(2025, 6, 4, 9, 0)
    # every 15th, and the first by default
    assert next_occurrence(paris(2025, 6, 15, 9, 30), "month", nine, day=15, cal=c) == paris(2025, 7, 15, 9, 0)
    assert next_occurrence(paris(2025, 12, 20, 9, 0), "month", nine, cal=c) == paris(2026, 1, 1, 9, 0)
    # a wall time the spring change skips: an hour later; in another zone, that zone's nine
    sunday = next_occurrence(paris(2025, 3, 29, 12, 0), "week", datetime.time(2, 30), weekday=6, cal=c)
    assert sunday.astimezone(UTC) == datetime.datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    far_east = next_occurrence(paris(2025, 6, 5, 12, 0), "day", nine, cal=cal(time_zone="Asia/Vladivostok"))
    assert far_east == datetime.datetime(2025, 6, 6, 9, 0, tzinfo=VLADIVOSTOK)
    for bad in (
        {"every": "year"},
        {"every": "week", "weekday": 7},
        {"every": "month", "day": 31},
        {"every": "month", "day": True},
        {"every": "day", "at": "25:00"},
    ):
        arguments = {"after": paris(2025, 6, 5, 12, 0), "at": nine, "cal": c, **bad}
        with pytest.raises(ValidationError):
            next_occurrence(**arguments)


# --- the row, the service -----------------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


def _row(workspace: Workspace) -> tuple[Any, ...]:
    with inside(workspace):
        row = WorkCalendar.objects.get()
        return (row.time_zone, row.work_days, row.day_start, row.day_end, row.holidays, row.extra_work_days)


def _audits(workspace: Workspace) -> int:
    with inside(workspace):
        return AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_SETTINGS).count()


def _manager(workspace: Workspace, role: str | None = None) -> User:
    with inside(workspace):
        return user_create(
            email=f"{role or 'manager'}@example.com",
            password=PASSWORD,
            role=builtin_role(role) if role else None,
        )


@pytestmark_db
def test_the_row_is_made_once_with_the_defaults(in_workspace) -> None:
    WorkCalendar.objects.all().delete()
    first = work_calendar()
    second = work_calendar()
    assert WorkCalendar.objects.count() == 1
    assert first.pk == second.pk
    assert (first.work_days, first.day_start, first.day_end) == ([0, 1, 2, 3, 4], datetime.time(9), datetime.time(18))
    # Each call gives its own instance: changing one changes nothing for the next caller.
    first.work_days.append(5)
    assert work_calendar().work_days == [0, 1, 2, 3, 4]


@pytestmark_db
def test_a_blank_time_zone_is_the_workspaces(workspace) -> None:
    workspace.tenant.time_zone = "Asia/Vladivostok"
    workspace.tenant.save(update_fields=["time_zone"])
    with inside(workspace):
        assert calendar.calendar_zone(work_calendar()) == VLADIVOSTOK
        start = datetime.datetime(2025, 6, 2, 23, 30, tzinfo=UTC)
        assert add_working_time(start, 60) == datetime.datetime(2025, 6, 3, 10, 30, tzinfo=VLADIVOSTOK)
        # An unknown stored name falls back to the workspace's.
        assert calendar.calendar_zone(cal(time_zone="Nowhere/Land")) == VLADIVOSTOK
    connection.set_schema_to_public()
    with schema_context(workspace.schema):
        assert connection.tenant.__class__.__name__ == "FakeTenant"
        assert calendar.calendar_zone(work_calendar()) == VLADIVOSTOK


@pytestmark_db
def test_the_administrator_changes_the_calendar_and_it_is_audited(workspace) -> None:
    with inside(workspace):
        before = work_calendar()
        assert before.time_zone == ""
        saved = calendar_update(
            actor=workspace.owner,
            data={
                "time_zone": "Asia/Vladivostok",
                "work_days": ["0", "1", "2", "3", "4", "5"],
                "day_start": "08:00",
                "day_end": datetime.time(17, 0),
                "holidays": ["2025-06-09", datetime.date(2025, 6, 9), datetime.date(2025, 1, 1)],
                "extra_work_days": [datetime.date(2025, 6, 8)],
            },
        )
        assert saved.work_days == [0, 1, 2, 3, 4, 5]
        assert saved.holidays == [datetime.date(2025, 1, 1), datetime.date(2025, 6, 9)]
        # The cached row is stale at once.
        now = work_calendar()
        assert (now.time_zone, now.day_start) == ("Asia/Vladivostok", datetime.time(8))
        entry = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_SETTINGS)
        assert entry.actor == workspace.owner
        assert entry.details["time_zone"] == {"from": "", "to": "Asia/Vladivostok"}
        assert entry.details["day_start"] == {"from": "09:00", "to": "08:00"}
        assert "day_end" in entry.details and "holidays" in entry.details
        # Saving the same again changes nothing and writes no entry.
        calendar_update(actor=workspace.owner, data={"day_start": "08:00"})
        assert AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_SETTINGS).count() == 1
        # Partial: only the keys given change.
        calendar_update(actor=workspace.owner, data={"time_zone": ""})
        assert WorkCalendar.objects.get().day_start == datetime.time(8)
        assert WorkCalendar.objects.get().time_zone == ""


@pytestmark_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"work_days": []}, "work_days"),
        ({"work_days": [7]}, "work_days"),
        ({"work_days": [-1]}, "work_days"),
        ({"work_days": "01234"}, "work_days"),
        ({"work_days": [True]}, "work_days"),
        ({"work_days": ["99999999999999999999"]}, "work_days"),
        ({"day_start": "18:00", "day_end": "09:00"}, "day_end"),
        ({"day_start": "09:00", "day_end": "09:00"}, "day_end"),
        ({"day_start": "19:00"}, "day_end"),  # after the stored end
        ({"day_start": "9 o'clock"}, "day_start"),
        ({"day_end": "24:00"}, "day_end"),
        ({"day_end": 18}, "day_end"),
        ({"day_start": datetime.time(9, tzinfo=UTC)}, "day_start"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "Europe/Paris\x00"}, "time_zone"),
        ({"time_zone": 5}, "time_zone"),
        ({"holidays": ["2025-13-01"]}, "holidays"),
        ({"holidays": "2025-01-01"}, "holidays"),
        ({"holidays": [datetime.datetime(2025, 1, 1, tzinfo=UTC)]}, "holidays"),
        ({"holidays": ["2025-01-01\x00"]}, "holidays"),
        ({"holidays": [datetime.date(2025, 1, 1) + datetime.timedelta(days=n) for n in range(367)]}, "holidays"),
        ({"extra_work_days": ["x"] * 100_000}, "extra_work_days"),
        ({"holidays": ["2025-06-07"], "extra_work_days": ["2025-06-07"]}, "extra_work_days"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_each_invalid_value_is_a_field_error_and_nothing_is_saved(workspace, data, field) -> None:
    with inside(workspace):
        work_calendar()
    before = _row(workspace)
    with inside(workspace):
        with pytest.raises(ValidationError) as caught:
            calendar_update(actor=workspace.owner, data=data)
        assert field in caught.value.message_dict
    assert _row(workspace) == before
    assert _audits(workspace) == 0


@pytestmark_db
def test_366_dates_are_accepted(workspace) -> None:
    dates = [datetime.date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(366)]
    with inside(workspace):
        calendar_update(actor=workspace.owner, data={"holidays": dates, "work_days": [0]})
        assert len(WorkCalendar.objects.get().holidays) == 366


@pytestmark_db
def test_without_the_permission_nothing_changes(workspace) -> None:
    manager = _manager(workspace)
    with inside(workspace):
        work_calendar()
    before = _row(workspace)
    with inside(workspace), pytest.raises(PermissionDenied):
        calendar_update(actor=manager, data={"work_days": [0]})
    assert _row(workspace) == before
    assert _audits(workspace) == 0
    # A sales head has the permission.
    head = _manager(workspace, SALES_HEAD)
    with inside(workspace):
        calendar_update(actor=head, data={"work_days": [0]})
    assert _row(workspace)[1] == [0]


@pytestmark_db
def test_read_only_workspace_refuses(workspace) -> None:
    workspace.tenant.read_only = True
    workspace.tenant.save(update_fields=["read_only"])
    with inside(workspace):
        work_calendar()
        with pytest.raises(PermissionDenied):
            calendar_update(actor=workspace.owner, data={"work_days": [0]})
        assert WorkCalendar.objects.get().work_days == [0, 1, 2, 3, 4]


@pytestmark_db
def test_each_workspace_has_its_own_calendar_and_cache(workspace, other_workspace) -> None:
    start = datetime.datetime(2025, 6, 6, 15, 0, tzinfo=UTC)  # Friday 17:00 in Paris, 01:00 Saturday in Vladivostok
    with inside(workspace):
        calendar_update(actor=workspace.owner, data={"time_zone": "Europe/Paris"})
        # Read (and cached) before the other workspace changes its own.
        paris_result = add_working_time(start, 120)
    with inside(other_workspace):
        other = work_calendar()
        assert other.time_zone == ""
        calendar_update(
            actor=other_workspace.owner,
            data={"time_zone": "Asia/Vladivostok", "work_days": [0, 1, 2, 3, 4, 5], "day_start": "10:00"},
        )
        far_east = add_working_time(start, 120)
    with inside(workspace):
        assert add_working_time(start, 120) == paris_result == paris(2025, 6, 9, 10, 0)
        assert work_calendar().time_zone == "Europe/Paris"
        assert work_calendar().work_days == [0, 1, 2, 3, 4]
    assert far_east == datetime.datetime(2025, 6, 7, 12, 0, tzinfo=VLADIVOSTOK)
    assert far_east != paris_result
    # The first workspace's change did not reach the second.
    with inside(other_workspace):
        assert work_calendar().time_zone == "Asia/Vladivostok"
        assert AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_SETTINGS).count() == 1


# --- the page -----------------------------------------------------------------------------------------------


def _post(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "work_days": ["0", "1", "2", "3"],
        "day_start": "08:30",
        "day_end": "17:30",
        "time_zone": "Europe/Paris",
        "holidays": "2025-12-25\n\n 2026-01-01 \n",
        "extra_work_days": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytestmark_db
def test_the_page_shows_the_calendar_and_its_preview(workspace, owner_client) -> None:
    response = owner_client.get(PAGE)
    assert response.status_code == 200
    form = response.context["form"]
    assert form["day_start"].value() == datetime.time(9)
    preview = response.context["preview"]
    assert preview["deadline"] is not None and len(preview["days"]) == 5
    assert all(is_working_day(day, cal(work_days=[0, 1, 2, 3, 4])) for day in preview["days"])
    page = response.content.decode()
    assert 'data-testid="preview-deadline"' in page and 'name="work_days"' in page


@pytestmark_db
def test_the_page_saves(workspace, owner_client) -> None:
    # English reads month/day/year besides ISO.
    response = owner_client.post(PAGE, _post(extra_work_days="06/13/2026"))
    assert response.status_code == 302, response.context and response.context["form"].errors
    assert _row(workspace) == (
        "Europe/Paris",
        [0, 1, 2, 3],
        datetime.time(8, 30),
        datetime.time(17, 30),
        [datetime.date(2025, 12, 25), datetime.date(2026, 1, 1)],
        [datetime.date(2026, 6, 13)],
    )
    assert _audits(workspace) == 1
    page = owner_client.get(PAGE)
    assert "2025-12-25" in page.content.decode()
    assert page.context["preview"]["days"][0].weekday() in (0, 1, 2, 3)


@pytestmark_db
def test_dates_in_the_languages_format_are_read(workspace) -> None:
    workspace.owner.language = "ru"
    with inside(workspace):
        User.objects.filter(pk=workspace.owner.pk).update(language="ru")
    client = workspace.client(logged_in_as=workspace.owner)
    response = client.post(PAGE, _post(holidays="31.12.2025\n2026-01-02"))
    assert response.status_code == 302
    assert _row(workspace)[4] == [datetime.date(2025, 12, 31), datetime.date(2026, 1, 2)]


@pytestmark_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"work_days": None}, "work_days"),
        ({"work_days": ["9"]}, "work_days"),
        ({"work_days": ["99999999999999999999999999"]}, "work_days"),
        ({"work_days": ["0\x00"]}, "work_days"),
        ({"day_start": "18:00", "day_end": "09:00"}, "day_end"),
        ({"day_start": "99:99"}, "day_start"),
        ({"day_start": "\x00"}, "day_start"),
        ({"day_end": "9" * 5000}, "day_end"),
        ({"time_zone": "Atlantis/Capital"}, "time_zone"),
        ({"time_zone": "Europe/Paris\x00"}, "time_zone"),
        ({"holidays": "2025-02-30"}, "holidays"),
        ({"holidays": "2025-01-01\x00"}, "holidays"),
        ({"holidays": "99999999999999999999"}, "holidays"),
        ({"extra_work_days": "2025-12-25"}, "extra_work_days"),  # also a holiday
        ({"holidays": "\n".join(f"2025-01-{n:02d}" for n in range(1, 32)) + "\n2025-01-x"}, "holidays"),
    ],
)
def test_the_page_shows_errors_and_saves_nothing(workspace, owner_client, overrides, field) -> None:
    owner_client.get(PAGE)
    before = _row(workspace)
    response = owner_client.post(PAGE, _post(**overrides))
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert _row(workspace) == before
    assert _audits(workspace) == 0


@pytestmark_db
def test_bad_lines_are_named_with_their_number(workspace, owner_client) -> None:
    owner_client.get(PAGE)
    before = _row(workspace)
    lines = [f"2025-01-{n:02d}" if n % 2 else f"garbage {n}" for n in range(1, 32)]
    response = owner_client.post(PAGE, _post(holidays="\n".join(lines)))
    assert response.status_code == 422
    errors = [str(e) for e in response.context["form"].errors["holidays"]]
    assert errors[0] == "Line 2: “garbage 2” is not a date."
    assert errors[9] == "Line 20: “garbage 20” is not a date."
    assert errors[10] == "5 more lines are not dates."
    assert len(errors) == 11
    assert _row(workspace) == before
    # A NUL byte is named as such, not quoted back in a line's error.
    response = owner_client.post(PAGE, _post(holidays="2025-01-01\ngar\x00bage"))
    assert [str(e) for e in response.context["form"].errors["holidays"]] == ["Null characters are not allowed."]
    # Far too many lines: refused before any is read.
    response = owner_client.post(PAGE, _post(holidays="2025-01-01\n" * 5000))
    assert response.status_code == 422 and "holidays" in response.context["form"].errors
    assert _row(workspace) == before


@pytestmark_db
def test_people_without_the_permission_get_403_and_change_nothing(workspace) -> None:
    manager = _manager(workspace)
    with inside(workspace):
        work_calendar()
    before = _row(workspace)
    client = workspace.client(logged_in_as=manager)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, _post()).status_code == 403
    assert _row(workspace) == before
    assert _audits(workspace) == 0
    # Signed out: to the login page.
    anonymous = workspace.client()
    assert anonymous.post(PAGE, _post()).status_code == 302
    assert _row(workspace) == before
    assert anonymous.put(PAGE).status_code in (302, 405)


@pytestmark_db
def test_another_workspaces_admin_changes_only_their_own(workspace, other_workspace) -> None:
    with inside(workspace):
        work_calendar()
    before = _row(workspace)
    other = other_workspace.client(logged_in_as=other_workspace.owner)
    assert other.post(PAGE, _post(work_days=["5"])).status_code == 302
    assert _row(other_workspace)[1] == [5]
    assert _row(workspace) == before
    assert _audits(workspace) == 0
    # Their session does not open this workspace's page.
    other.defaults["HTTP_HOST"] = workspace.domain
    assert other.get(PAGE).status_code == 302
    assert other.post(PAGE, _post(work_days=["6"])).status_code == 302
    assert _row(workspace) == before
