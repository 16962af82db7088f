"""Grandfather-father-son retention over synthetic backup dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from infra.backups.retention import backups_to_keep


def at(day: date, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_a_year_of_daily_backups() -> None:
    backups = [(day, at(day)) for day in days(date(2025, 1, 1), date(2025, 12, 31))]
    kept = backups_to_keep(backups, daily=7, weekly=4, monthly=12)
    # 7 days: Dec 25-31 (Dec 31 is a Wednesday, in ISO week 2026-W01).
    daily = set(days(date(2025, 12, 25), date(2025, 12, 31)))
    # 4 ISO weeks, the newest of each: W01 -> Dec 31 and W52 -> Dec 28 (already kept), W51 -> Dec 21, W50 -> Dec 14.
    weekly = {date(2025, 12, 31), date(2025, 12, 28), date(2025, 12, 21), date(2025, 12, 14)}
    # 12 months, the last day of each (December's is Dec 31, already kept).
    monthly = {
        date(2025, month + 1, 1) - timedelta(days=1) if month < 12 else date(2025, 12, 31) for month in range(1, 13)
    }
    assert kept == daily | weekly | monthly
    assert len(kept) == 7 + 2 + 11


def test_defaults_over_two_years_keep_no_more_than_the_tiers() -> None:
    backups = [(day, at(day)) for day in days(date(2024, 1, 1), date(2025, 12, 31))]
    kept = backups_to_keep(backups, daily=7, weekly=4, monthly=12)
    assert len(kept) == 20
    assert min(kept) == date(2025, 1, 31)  # nothing older than the 12th month back


def test_gaps_count_days_and_weeks_that_have_a_backup() -> None:
    """A week without backups (the server was down) does not use up a tier's slots."""
    dates = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 20), date(2026, 4, 15), date(2026, 4, 16)]
    backups = [(day, at(day)) for day in dates]
    assert backups_to_keep(backups, daily=3, weekly=0, monthly=0) == {
        date(2026, 4, 16),
        date(2026, 4, 15),
        date(2026, 3, 20),
    }
    # Weeks: W16 (Apr 15-16) -> Apr 16, W12 (Mar 20), W10 (Mar 2-3) -> Mar 3.
    assert backups_to_keep(backups, daily=0, weekly=3, monthly=0) == {
        date(2026, 4, 16),
        date(2026, 3, 20),
        date(2026, 3, 3),
    }
    assert backups_to_keep(backups, daily=0, weekly=0, monthly=5) == {date(2026, 4, 16), date(2026, 3, 20)}


def test_several_backups_a_day_keep_the_newest_of_the_day() -> None:
    day = date(2026, 12, 1)
    backups = [
        ("morning", at(day, 2)),
        ("before-restore", at(day, 14, 30)),
        ("manual", at(day, 9)),
        ("yesterday-late", at(day - timedelta(days=1), 23, 59)),
        ("yesterday-early", at(day - timedelta(days=1), 0, 1)),
    ]
    assert backups_to_keep(backups, daily=2, weekly=0, monthly=0) == {"before-restore", "yesterday-late"}
    assert backups_to_keep(backups, daily=1, weekly=1, monthly=1) == {"before-restore"}


def test_equal_times_keep_one() -> None:
    moment = at(date(2026, 12, 1))
    assert backups_to_keep([("a", moment), ("b", moment)], daily=7, weekly=4, monthly=12) == {"b"}


def test_empty_input() -> None:
    assert backups_to_keep([], daily=7, weekly=4, monthly=12) == set()


def test_all_tiers_off_keep_only_the_newest() -> None:
    backups = [(n, at(date(2026, 1, 1) + timedelta(days=n))) for n in range(100)]
    assert backups_to_keep(backups, daily=0, weekly=0, monthly=0) == {99}
    assert backups_to_keep(backups[:1], daily=0, weekly=0, monthly=0) == {0}


def test_the_newest_is_kept_whatever_the_order() -> None:
    backups = [(n, at(date(2026, 1, 1) + timedelta(days=n))) for n in range(30)]
    kept = backups_to_keep(list(reversed(backups)), daily=3, weekly=0, monthly=0)
    assert kept == {29, 28, 27}


def test_days_are_calendar_days_of_the_given_timezone() -> None:
    """23:30 UTC on Dec 1 is already Dec 2 in Moscow: with one daily slot there, the two are the same day."""
    backups = [("dec1-evening-utc", datetime(2026, 12, 1, 23, 30, tzinfo=UTC)), ("dec2-morning", at(date(2026, 12, 2)))]
    assert backups_to_keep(backups, daily=2, weekly=0, monthly=0) == {"dec1-evening-utc", "dec2-morning"}
    moscow = ZoneInfo("Europe/Moscow")
    assert backups_to_keep(backups, daily=2, weekly=0, monthly=0, tz=moscow) == {"dec2-morning"}


def test_naive_times_and_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        backups_to_keep([("a", datetime(2026, 12, 1))], daily=7, weekly=4, monthly=12)
    with pytest.raises(ValueError, match="negative"):
        backups_to_keep([("a", at(date(2026, 12, 1)))], daily=-1, weekly=4, monthly=12)
