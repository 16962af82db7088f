"""Reading dates and times that Python cannot represent.

PostgreSQL stores timestamps from 4713 BC to 294276 AD; Python's `datetime` covers years 1 to 9999 only. A
value such as `0001-01-01T00:00:00+14:00` is valid ISO and fits in the database, but once in UTC it falls in
year 0, and psycopg refuses to load it: every query that reads such a row raised, and one stored record took
down every page that shows it. The loaders below read such values as the earliest or latest moment Python can
hold instead (with a day of margin, so converting them to any time zone or formatting them still works), and
`-infinity`/`infinity` likewise. They are registered on every new database connection (`install()`, called
from the platform's AppConfig).
"""

from __future__ import annotations

import datetime
from typing import Any

import psycopg
from django.db.backends.signals import connection_created
from psycopg import errors
from psycopg.pq import Format
from psycopg.types.datetime import DateBinaryLoader, DateLoader, TimestamptzBinaryLoader

# A day of margin: in any time zone (offsets are at most 14 hours) these and their dates stay in range.
EARLIEST = datetime.datetime(1, 1, 2, tzinfo=datetime.UTC)
LATEST = datetime.datetime(9999, 12, 30, tzinfo=datetime.UTC)
EARLIEST_DATE = datetime.date.min + datetime.timedelta(days=1)
LATEST_DATE = datetime.date.max - datetime.timedelta(days=1)


def _too_small(error: errors.DataError) -> bool | None:
    """True for a value before year 1, False for one after 9999, None for any other error."""
    message = str(error)
    if "too small" in message:
        return True
    if "too large" in message:
        return False
    return None


# psycopg's loaders of the C extension (psycopg[binary]): several times faster than the Python ones that
# Django's and our subclasses are built on (C classes cannot be subclassed), so those delegate to them.
_TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid
_DATE_OID = psycopg.adapters.types["date"].oid
_FAST_TIMESTAMPTZ = psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
_FAST_DATE = psycopg.adapters.get_loader(_DATE_OID, Format.TEXT)


def _clamped_timestamptz(base: type[Any], fast: type[Any] | None = None) -> type[Any]:
    """`base`, reading out-of-range values as EARLIEST/LATEST; the text format through `fast` when given."""

    class Clamped(base):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._fast = fast(oid, context) if fast is not None else None

        def load(self, data: Any) -> Any:
            try:
                if self._fast is None:
                    return super().load(data)
                value = self._fast.load(data)
                # What Django's loader does after parsing: its own time zone, or naive when it is None.
                return value.replace(tzinfo=self.timezone) if hasattr(self, "timezone") else value
            except errors.DataError as error:
                small = _too_small(error)
                if small is None:
                    raise
                value = EARLIEST if small else LATEST
                if hasattr(self, "timezone"):  # Django's loader: its time zone, or naive when it is None
                    tz = self.timezone
                    return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)
                return value.astimezone(getattr(self, "_timezone", None) or datetime.UTC)

    Clamped.__name__ = f"Clamped{base.__name__}"
    return Clamped


def _clamped_date(base: type[Any], fast: type[Any] | None = None) -> type[Any]:
    class Clamped(base):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._fast = fast(oid, context) if fast is not None else None

        def load(self, data: Any) -> Any:
            try:
                return super().load(data) if self._fast is None else self._fast.load(data)
            except errors.DataError as error:
                small = _too_small(error)
                if small is None:
                    raise
                return EARLIEST_DATE if small else LATEST_DATE

    Clamped.__name__ = f"Clamped{base.__name__}"
    return Clamped


ClampedDateLoader = _clamped_date(DateLoader, _FAST_DATE)
ClampedDateBinaryLoader = _clamped_date(DateBinaryLoader)
ClampedTimestamptzBinaryLoader = _clamped_timestamptz(TimestamptzBinaryLoader)


def register(wrapper: Any) -> None:
    """Register the tolerant loaders on the psycopg connection of Django's `wrapper`."""
    adapters = wrapper.connection.adapters
    # Django's own text loader for timestamptz carries the connection's time zone (and is replaced per cursor
    # when that changes): wrap whichever is registered, keeping its `timezone` so Django sees no disagreement.
    text_loader = adapters.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)
    if text_loader is not None and not getattr(text_loader, "_kontor_clamped", False):
        clamped = _clamped_timestamptz(text_loader, _FAST_TIMESTAMPTZ)
        clamped._kontor_clamped = True
        adapters.register_loader("timestamptz", clamped)
    adapters.register_loader("timestamptz", ClampedTimestamptzBinaryLoader)
    adapters.register_loader("date", ClampedDateLoader)
    adapters.register_loader("date", ClampedDateBinaryLoader)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "postgresql" and connection.connection is not None:
        register(connection)


def install() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="kontor-tolerant-dates")
