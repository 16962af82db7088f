"""Money, numbers and phones as people read and type them in their language.

One place decides how an amount looks (`money`), how a number is read from what someone typed
(`parse_decimal`) and how a phone is shown (`phone`); the template filters in `crm.web.templatetags.kontor`
and the form fields in `crm.web.fields` use these and nothing else.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, get_decimal_symbol, get_group_symbol
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

# Spaces people (and spreadsheets, and Babel for fr/ru) put between groups of digits.
_SPACES = "\u0020\u00a0\u202f\u2009\u2007"
_MINUS = "-\u2212"
_CODE_BEFORE = re.compile(r"^(-?[A-Za-z]{2,})(\d)")
_CODE_AFTER = re.compile(r"(\d)([A-Za-z]{2,})$")
_GROUPED = re.compile(r"^\d{1,3}(?:X\d{3})+$")


def locale_name(language: str | None = None) -> str:
    """The Babel locale of a Django language code ("ru", "fr", "en", "pt-br" -> "pt_BR")."""
    return _locale_name(language or translation.get_language() or settings.LANGUAGE_CODE)


# Formatting is a pure function of its arguments and the locale; a page formats many values in one locale, and
# Babel and phonenumbers parse their data on every call. Results are memoized, bounded.
_MEMO = 8192


@lru_cache(maxsize=64)
def _locale_name(language: str) -> str:
    try:
        return str(Locale.parse(language.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return "en"


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def money(amount: Any, currency: str = "", language: str | None = None) -> str:
    """`amount` in `currency` the way the reader's locale writes money: ru "1 500 000,50 ₽",
    fr "1 500 000,50 €", en "RUB 1,500,000.50". Always two decimals: amounts are stored to the cent."""
    number = _as_decimal(amount)
    if number is None:
        return ""
    # Keyed by the digits as written: 1500.0 and 1500.00 are equal Decimals but may read differently.
    return _money(str(number), currency, locale_name(language))


@lru_cache(maxsize=_MEMO)
def _money(digits: str, currency: str, loc: str) -> str:
    number = Decimal(digits)
    if not currency:
        return format_decimal(number, format="#,##0.00", locale=loc)
    text = format_currency(number, currency, locale=loc, currency_digits=False)
    # CLDR puts a space between a currency code and the digits ("RUB 1,500.00", not "RUB1,500.00").
    return _CODE_BEFORE.sub("\\1\u00a0\\2", _CODE_AFTER.sub("\\1\u00a0\\2", text))


def number(value: Any, language: str | None = None, *, decimals: int | None = None) -> str:
    """A plain number in the reader's locale: "1 500,5" (ru), "1,500.5" (en). `decimals` fixes the decimals."""
    parsed = _as_decimal(value)
    if parsed is None:
        return "" if value is None else str(value)
    return _number(str(parsed), locale_name(language), decimals)


@lru_cache(maxsize=_MEMO)
def _number(digits: str, loc: str, decimals: int | None) -> str:
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "" if decimals == 0 else ".###")
    return format_decimal(Decimal(digits), format=pattern, locale=loc, decimal_quantization=False)


def input_number(value: Any, language: str | None = None, *, decimals: int | None = None) -> str:
    """A number as an input shows it, in the reader's locale and read back by `parse_decimal` as the same."""
    parsed = _as_decimal(value)
    if parsed is None:
        return "" if value is None else str(value)
    if decimals is None:
        parsed = parsed.normalize() if parsed == parsed.to_integral_value() else parsed
        text = format(parsed, "f")
        decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return number(parsed, language, decimals=decimals)


def parse_decimal(text: str, language: str | None = None) -> Decimal:
    """Read a number typed in the reader's locale, or raise ValidationError; never misread it.

    Understands "1 500 000,50", "1500000,50", "1,500,000.50", "1500000.50", "1.500.000,50" (any kind of space
    between groups). A lone "," or "." followed by exactly three digits ("1,500") is a thousands separator
    only where the locale groups digits with it (en "1,500" is 1500); elsewhere it could as well be the
    decimal mark (ru "1,500": 1.5 or 1500?) and the value is refused with a message saying how to write it.
    """
    loc = locale_name(language)
    raw = str(text).strip()
    sign = ""
    if raw[:1] in _MINUS or raw[:1] == "+":
        sign, raw = ("-" if raw[:1] in _MINUS else ""), raw[1:].lstrip(_SPACES)
    has_spaces = any(c in raw for c in _SPACES)
    for c in _SPACES:
        raw = raw.replace(c, "X")
    if not raw or not re.fullmatch(r"[\dX.,]+", raw) or not raw[0].isdigit() or not raw[-1].isdigit():
        raise ValidationError(_("Enter a number."), code="invalid")
    if has_spaces and re.search(r"X[.,]|[.,]X", raw):
        raise ValidationError(_("Enter a number."), code="invalid")
    marks = [c for c in raw if c in ".,"]
    integer, fraction = raw, ""
    if "," in marks and "." in marks:
        decimal_mark = raw[max(raw.rfind(","), raw.rfind("."))]
        group_mark = "." if decimal_mark == "," else ","
        if marks.count(decimal_mark) > 1 or has_spaces:
            raise ValidationError(_("Enter a number."), code="invalid")
        integer, fraction = raw.rsplit(decimal_mark, 1)
        integer = integer.replace(group_mark, "X")
    elif len(marks) > 1:
        integer = raw.replace(marks[0], "X")  # "1,500,000" / "1.500.000": only groups of thousands
    elif len(marks) == 1:
        mark = marks[0]
        head, tail = raw.split(mark)
        could_group = not has_spaces and len(tail) == 3 and _GROUPED.fullmatch(f"{head}X{tail}") is not None
        could_group = could_group and not head.startswith("0")
        if not could_group:
            integer, fraction = head, tail
        elif get_group_symbol(loc) == mark and get_decimal_symbol(loc) != mark:
            integer = f"{head}X{tail}"
        else:
            raise ValidationError(
                _("“%(value)s” could be %(decimal)s or %(thousands)s: type %(plain)s or %(decimal)s."),
                params={
                    "value": text.strip(),
                    "decimal": format_decimal(Decimal(f"{head}.{tail}"), locale=loc),
                    "thousands": format_decimal(Decimal(head + tail), locale=loc),
                    "plain": head + tail,
                },
                code="ambiguous",
            )
    if "X" in integer and not _GROUPED.fullmatch(integer):
        raise ValidationError(_("Enter a number: digits are grouped by three."), code="invalid")
    digits = integer.replace("X", "")
    try:
        result = Decimal(f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}")
    except InvalidOperation as exc:
        raise ValidationError(_("Enter a number."), code="invalid") from exc
    return result


def phone(value: Any, region: str | None = None) -> str:
    """A stored phone (E.164, "+79161234567") as people read it: "+7 916 123-45-67". Anything that is not a
    valid number is shown as it was stored."""
    text = "" if value is None else str(value)
    if not text:
        return ""
    return _phone(text, region or settings.DEFAULT_PHONE_REGION)


@lru_cache(maxsize=_MEMO)
def _phone(text: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
