"""Conditions on a record's fields: our own small evaluator (never eval), its validation and its sentence.

A condition is JSON an administrator built in the editor:
    leaf:   {"field": "amount" | "cf:<key>" | "discount_percent", "op": OP, "value": V}
    groups: {"all": [C, ...]}, {"any": [C, ...]}, {"not": C}
None or {} is always true. `evaluate` never raises on odd data: a comparison that cannot be made is false.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.core.validation import text_problem
from crm.processes.fields import DATE_TYPES, NUMERIC_TYPES, FieldInfo, field_map, parse_bool, parse_decimal

OPS: dict[str, Promise] = {
    "eq": _("is"),
    "ne": _("is not"),
    "gt": _("greater than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
    "contains": _("contains"),
    "not_contains": _("does not contain"),
    "empty": _("is empty"),
    "not_empty": _("is not empty"),
    "in": _("is one of"),
    "changed": _("changed"),
}
# Ops that take no value.
VALUELESS_OPS = ("empty", "not_empty", "changed")
MAX_DEPTH = 5
MAX_LEAVES = 50
MAX_TEXT = 1000
MAX_LIST = 100
# The key of the values mapping that carries the names of the fields the event changed.
CHANGED_KEY = "__changed__"


# --- evaluation -------------------------------------------------------------------------------------------


def fields_of(condition: Any) -> set[str]:
    """The field names a condition reads (what the values given to `evaluate` must hold)."""
    if not isinstance(condition, Mapping):
        return set()
    if isinstance(condition.get("field"), str):
        return {condition["field"]}
    names: set[str] = set()
    for key in ("all", "any"):
        for part in condition.get(key) or []:
            names |= fields_of(part)
    if "not" in condition:
        names |= fields_of(condition["not"])
    return names


def evaluate(condition: Mapping[str, Any] | None, values: Mapping[str, Any]) -> bool:
    """Whether `values` (record_values(), plus "__changed__") satisfy `condition`."""
    if not condition:
        return True
    try:
        return _eval(condition, values, 0)
    except _TooDeep:
        return False


class _TooDeep(Exception):
    pass


def _eval(condition: Any, values: Mapping[str, Any], depth: int) -> bool:
    # Validated conditions are shallow; a hand-made deep one is false as a whole rather than a RecursionError.
    if depth > MAX_DEPTH * 4:
        raise _TooDeep
    if not isinstance(condition, Mapping):
        return False
    if "all" in condition:
        items = condition["all"]
        return isinstance(items, list) and all(_eval(c, values, depth + 1) for c in items)
    if "any" in condition:
        items = condition["any"]
        return isinstance(items, list) and any(_eval(c, values, depth + 1) for c in items)
    if "not" in condition:
        inner = condition["not"]
        return not (_eval(inner, values, depth + 1) if inner else True)
    return _leaf(condition, values)


def _leaf(condition: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    name = condition.get("field")
    op = condition.get("op")
    expected = condition.get("value")
    if not isinstance(name, str) or op not in OPS:
        return False
    if op == "changed":
        changed = values.get(CHANGED_KEY) or ()
        changed = set(changed) if isinstance(changed, Iterable) and not isinstance(changed, str) else set()
        # record_update's events name custom fields only as "custom_fields".
        return name in changed or (name.startswith("cf:") and "custom_fields" in changed)
    actual = values.get(name)
    try:
        return _compare(op, actual, expected)
    except (ArithmeticError, TypeError, ValueError, OverflowError):
        return False


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset | dict):
        return not value
    return False


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "empty":
        return _is_empty(actual)
    if op == "not_empty":
        return not _is_empty(actual)
    if op == "ne":
        return not _compare("eq", actual, expected)
    if op == "not_contains":
        return not _compare("contains", actual, expected)
    if op == "in":
        options = expected if isinstance(expected, list) else [expected]
        if isinstance(actual, list | tuple | set):
            return any(_equal(item, option) for item in actual for option in options)
        return any(_equal(actual, option) for option in options)
    if op == "eq":
        if isinstance(actual, list | tuple | set):
            wanted = expected if isinstance(expected, list) else [expected]
            return {_text(i) for i in actual} == {_text(w) for w in wanted if not _is_empty(w)}
        return _equal(actual, expected)
    if op == "contains":
        if isinstance(actual, list | tuple | set):
            wanted = expected if isinstance(expected, list) else [expected]
            return bool(wanted) and all(any(_equal(item, w) for item in actual) for w in wanted)
        if actual is None or isinstance(expected, list | dict) or expected is None:
            return False
        return _text(expected) in _text(actual)
    # gt gte lt lte
    pair = _ordered_pair(actual, expected)
    if pair is None:
        return False
    left, right = pair
    if op == "gt":
        return bool(left > right)
    if op == "gte":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    if op == "lte":
        return bool(left <= right)
    return False


def _text(value: Any) -> str:
    return str(value).strip().casefold()


def _equal(actual: Any, expected: Any) -> bool:
    """Equality by the field value's type; text is compared without case."""
    if _is_empty(actual):
        return _is_empty(expected)
    if expected is None or isinstance(expected, list | dict):
        return False
    if isinstance(actual, bool):
        return parse_bool(expected) is actual
    if isinstance(actual, int | float | Decimal):
        number = parse_decimal(expected)
        return number is not None and Decimal(str(actual)) == number
    if isinstance(actual, datetime.datetime | datetime.date):
        pair = _ordered_pair(actual, expected)
        return pair is not None and pair[0] == pair[1]
    return _text(actual) == _text(expected)


def _parse_moment(value: Any) -> datetime.date | datetime.datetime | None:
    if isinstance(value, datetime.datetime | datetime.date):
        return value
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.date.fromisoformat(text)
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _ordered_pair(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """The two values in one comparable type, or None when they cannot be compared."""
    if actual is None or expected is None or isinstance(actual, bool) or isinstance(expected, list | dict):
        return None
    if isinstance(actual, int | float | Decimal):
        number = parse_decimal(expected)
        return None if number is None else (Decimal(str(actual)), number)
    if isinstance(actual, datetime.datetime):
        other = _parse_moment(expected)
        if other is None:
            return None
        if isinstance(other, datetime.datetime):
            return (actual if timezone.is_aware(actual) else timezone.make_aware(actual)), other
        # A date against a moment: the moment's day in the workspace's time zone.
        return (timezone.localdate(actual) if timezone.is_aware(actual) else actual.date()), other
    if isinstance(actual, datetime.date):
        other = _parse_moment(expected)
        if other is None:
            return None
        if isinstance(other, datetime.datetime):
            other = timezone.localdate(other)
        return actual, other
    if isinstance(actual, str):
        # Text holding a number or a date (an imported value) compares as one; other text alphabetically.
        left_number, right_number = parse_decimal(actual), parse_decimal(expected)
        if left_number is not None and right_number is not None:
            return left_number, right_number
        left_moment, right_moment = _parse_moment(actual), _parse_moment(expected)
        if left_moment is not None and right_moment is not None:
            return _ordered_pair(left_moment, right_moment)
        if isinstance(expected, str):
            return _text(actual), _text(expected)
    return None


# --- validation -------------------------------------------------------------------------------------------


def condition_errors(
    condition: Any, record_type: str | None, *, fields: Mapping[str, FieldInfo] | None = None
) -> list[str]:
    """What is wrong with `condition` for records of `record_type` (empty: nothing). `fields` is the catalog by
    name, when the caller already has it."""
    if condition is None or condition == {}:
        return []
    if record_type is None:
        return [gettext("This process has no record to check a condition on.")]
    catalog = field_map(record_type) if fields is None else fields
    errors: list[str] = []
    leaves = [0]
    _check(condition, catalog, 1, leaves, errors)
    if leaves[0] > MAX_LEAVES:
        errors.append(gettext("Use at most %(n)d comparisons in a condition.") % {"n": MAX_LEAVES})
    return list(dict.fromkeys(errors))


def _check(node: Any, catalog: Mapping[str, FieldInfo], depth: int, leaves: list[int], errors: list[str]) -> None:
    if depth > MAX_DEPTH:
        errors.append(gettext("Nest conditions at most %(n)d levels deep.") % {"n": MAX_DEPTH})
        return
    if not isinstance(node, dict):
        errors.append(gettext("A condition must be a comparison or a group."))
        return
    groups = [k for k in ("all", "any", "not") if k in node]
    if groups:
        if len(node) != 1:
            errors.append(gettext("A group holds one of “all”, “any” or “not” and nothing else."))
            return
        key = groups[0]
        if key == "not":
            if not isinstance(node["not"], dict) or not node["not"]:
                errors.append(gettext("“Not” needs a condition."))
                return
            _check(node["not"], catalog, depth + 1, leaves, errors)
            return
        items = node[key]
        if not isinstance(items, list) or not items:
            errors.append(gettext("A group needs a list of at least one condition."))
            return
        if len(items) > MAX_LEAVES:
            errors.append(gettext("Use at most %(n)d comparisons in a condition.") % {"n": MAX_LEAVES})
            return
        for item in items:
            _check(item, catalog, depth + 1, leaves, errors)
            if leaves[0] > MAX_LEAVES:
                return
        return
    leaves[0] += 1
    _check_leaf(node, catalog, errors)


def _check_leaf(node: dict[str, Any], catalog: Mapping[str, FieldInfo], errors: list[str]) -> None:
    if unknown := set(node) - {"field", "op", "value"}:
        errors.append(
            gettext("Unknown condition settings: %(names)s.") % {"names": ", ".join(sorted(map(str, unknown)))}
        )
        return
    name, op = node.get("field"), node.get("op")
    info = catalog.get(name) if isinstance(name, str) else None
    if info is None:
        errors.append(gettext("There is no field “%(name)s” on these records.") % {"name": str(name)[:60]})
        return
    if op not in OPS:
        errors.append(gettext("%(field)s: unknown comparison “%(op)s”.") % {"field": info.label, "op": str(op)[:20]})
        return
    if op in VALUELESS_OPS:
        return
    if "value" not in node:
        errors.append(gettext("%(field)s: give a value to compare with.") % {"field": info.label})
        return
    if problem := _value_problem(info, op, node["value"]):
        errors.append(f"{info.label}: {problem}")


def _json_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if value == value and value not in (float("inf"), float("-inf")) else gettext("Enter a number.")
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return gettext("Use at most %(n)d characters.") % {"n": MAX_TEXT}
        return text_problem(value)
    return gettext("Enter a text, a number or yes / no.")


def _value_problem(info: FieldInfo, op: str, value: Any) -> str | None:
    items: list[Any]
    if op == "in" or (isinstance(value, list) and op in ("eq", "contains") and info.type in ("tags", "multi_choice")):
        if not isinstance(value, list) or not value:
            return gettext("give a list of values.")
        if len(value) > MAX_LIST:
            return gettext("Use at most %(n)d values.") % {"n": MAX_LIST}
        items = value
    else:
        items = [value]
    for item in items:
        if problem := _json_problem(item):
            return problem
        if isinstance(item, list):
            return gettext("give a single value.")
        if item is None or item == "":
            if op in ("gt", "gte", "lt", "lte", "contains", "not_contains"):
                return gettext("give a value to compare with.")
            continue
        if info.type in NUMERIC_TYPES and parse_decimal(item) is None:
            return gettext("“%(value)s” is not a number.") % {"value": str(item)[:40]}
        if info.type in DATE_TYPES and _parse_moment(item) is None:
            return gettext("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": str(item)[:40]}
        if info.type == "boolean":
            if parse_bool(item) is None:
                return gettext("“%(value)s” is not yes or no.") % {"value": str(item)[:40]}
            if op not in ("eq", "ne", "in"):
                return gettext("yes / no fields compare only with “is” or “is not”.")
        if info.type in ("user", "stage", "pipeline", "company") and parse_decimal(item) is None:
            return gettext("“%(value)s” is not an id.") % {"value": str(item)[:40]}
    if info.type in ("boolean",) and op in ("gt", "gte", "lt", "lte"):
        return gettext("yes / no fields compare only with “is” or “is not”.")
    return None


# --- description ------------------------------------------------------------------------------------------


def describe(condition: Any, record_type: str | None, *, fields: Mapping[str, FieldInfo] | None = None) -> str:
    """The condition as a sentence in the active language: "Discount, % greater than 15 and Source is Website"."""
    if not condition:
        return gettext("always")
    catalog = (field_map(record_type) if record_type else {}) if fields is None else fields
    return _sentence(condition, catalog, top=True)


def _sentence(node: Any, catalog: Mapping[str, FieldInfo], *, top: bool = False) -> str:
    if not isinstance(node, dict):
        return "?"
    for key, joiner in (("all", gettext(" and ")), ("any", gettext(" or "))):
        if key in node:
            items = node[key] if isinstance(node[key], list) else []
            text = joiner.join(_sentence(item, catalog) for item in items)
            return text if top or len(items) < 2 else f"({text})"
    if "not" in node:
        return gettext("not %(condition)s") % {"condition": _sentence(node["not"], catalog)}
    name = node.get("field")
    info = catalog.get(name) if isinstance(name, str) else None
    label = str(info.label) if info is not None else str(name)
    op = node.get("op")
    op_label = str(OPS.get(op, op)) if isinstance(op, str) else "?"
    if op in VALUELESS_OPS:
        return f"{label} {op_label}"
    return f"{label} {op_label} {_value_text(info, node.get('value'))}"


def _value_text(info: FieldInfo | None, value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value_text(info, item) for item in value)
    if value is None or value == "":
        return gettext("(empty)")
    if info is not None:
        if info.choices:
            labels = {str(v): label for v, label in info.choices}
            if str(value) in labels:
                return str(labels[str(value)])
        if info.type == "boolean":
            flag = parse_bool(value)
            if flag is not None:
                return gettext("yes") if flag else gettext("no")
        if info.type in NUMERIC_TYPES:
            number = parse_decimal(value)
            if number is not None:
                return formats.number_format(number, use_l10n=True)
        if info.type in DATE_TYPES:
            moment = _parse_moment(value)
            if isinstance(moment, datetime.datetime):
                return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
            if moment is not None:
                return formats.date_format(moment, "SHORT_DATE_FORMAT")
    return str(value)
