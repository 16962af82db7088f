"""Which backups the retention keeps: grandfather-father-son over days, ISO weeks and months."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import TypeVar

__all__ = ["backups_to_keep"]

K = TypeVar("K", bound=Hashable)


def _day(moment: date) -> tuple[int, ...]:
    return (moment.year, moment.month, moment.day)


def _iso_week(moment: date) -> tuple[int, ...]:
    year, week, _weekday = moment.isocalendar()
    return (year, week)


def _month(moment: date) -> tuple[int, ...]:
    return (moment.year, moment.month)


def backups_to_keep(
    backups: Sequence[tuple[K, datetime]], *, daily: int, weekly: int, monthly: int, tz: tzinfo = UTC
) -> set[K]:
    """The keys of the backups to keep: the newest backup of each of the `daily` most recent calendar days that
    have a backup, of each of the `weekly` most recent ISO weeks and of each of the `monthly` most recent months
    (days, weeks and months as seen in `tz`). One backup may count for several tiers; 0 turns a tier off; the
    newest backup overall is always kept. Times must be timezone-aware."""
    if min(daily, weekly, monthly) < 0:
        raise ValueError("backups_to_keep: the counts cannot be negative")
    if any(when.tzinfo is None or when.utcoffset() is None for _key, when in backups):
        raise ValueError("backups_to_keep: the backup times must be timezone-aware")
    if not backups:
        return set()
    # Newest first; among equal times the later one in the input counts as newer.
    newest_first = [
        (key, when.astimezone(tz).date())
        for _index, (key, when) in sorted(enumerate(backups), key=lambda item: (item[1][1], item[0]), reverse=True)
    ]
    keep = {newest_first[0][0]}
    tiers: tuple[tuple[int, Callable[[date], tuple[int, ...]]], ...] = (
        (daily, _day),
        (weekly, _iso_week),
        (monthly, _month),
    )
    for count, period_of in tiers:
        seen: set[tuple[int, ...]] = set()
        for key, day in newest_first:
            if len(seen) >= count:
                break
            period = period_of(day)
            if period not in seen:
                seen.add(period)
                keep.add(key)
    return keep
