"""Values no record may hold, whatever path they come by (API, web forms, imports): text PostgreSQL cannot store
(a NUL character) or that is not Unicode at all (a lone surrogate), and moments that cannot be shown in every
time zone. The API's schema types and the write services both use these checks, so the rule lives once."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# A lone surrogate (U+D800-U+DFFF) cannot be encoded in UTF-8; NUL cannot be stored in a PostgreSQL text column.
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")

# The widest time-zone offset in use (Kiribati, UTC+14); PostgreSQL refuses wider ones.
MAX_OFFSET = datetime.timedelta(hours=14)
# A moment is kept a day away from the ends of the calendar, so that it can be shown in any time zone.
EARLIEST = datetime.datetime(1, 1, 2, tzinfo=datetime.UTC)
LATEST = datetime.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=datetime.UTC)

# For the OpenAPI document: text without NUL; a date-time whose year-month is not 0000/0001-01/9999-12 (the
# server's range, with room for every offset) and whose offset is at most 14 hours.
TEXT_PATTERN = "^[^\\u0000]*$"
# A name holds at least one character that str.strip() keeps (spelt out: regex engines differ on \s).
_BLANK = "\\u0000-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NAME_PATTERN = f"^[^\\u0000]*[^{_BLANK}][^\\u0000]*$"
DATETIME_PATTERN = "^(?!0000|0001-01|9999-12).*(Z|z|[+-](0\\d|1[0-3]):[0-5]\\d|[+-]14:00)$"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    found = _BAD_CHARACTERS.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return _("Null characters are not allowed.")
    return _("This text is not valid Unicode.")


def datetime_problem(value: datetime.datetime) -> str | None:
    """Why the moment `value` cannot be stored, or None (a naive value is read in the current time zone later)."""
    offset = value.utcoffset()
    if offset is None:
        if not (EARLIEST.replace(tzinfo=None) <= value <= LATEST.replace(tzinfo=None)):
            return _("Enter a date between the years 1 and 9999.")
        return None
    if abs(offset) > MAX_OFFSET:
        return _("The time-zone offset must be between -14:00 and +14:00.")
    try:
        in_utc = value.astimezone(datetime.UTC)
    except OverflowError:
        return _("Enter a date between the years 1 and 9999.")
    if not (EARLIEST <= in_utc <= LATEST):
        return _("Enter a date between the years 1 and 9999.")
    return None


def value_problem(value: Any) -> str | None:
    """The first problem of a value or of anything inside it (lists, dictionaries, their keys)."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, datetime.datetime):
        return datetime_problem(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if problem := value_problem(key) or value_problem(item):
                return problem
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            if problem := value_problem(item):
                return problem
    return None


def value_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Errors per field of `data` whose value cannot be stored."""
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        if problem := value_problem(value):
            errors[str(name)] = [problem]
    return errors


def refuse_bad_values(data: Mapping[str, Any]) -> None:
    """Raise a ValidationError naming each field of `data` whose value cannot be stored."""
    if errors := value_errors(data):
        raise ValidationError(errors)
