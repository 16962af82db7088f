"""Languages, time zones and currencies a workspace and its people choose, and the defaults guessed for them.

The lowest layer holds these so that the workspace row (public schema), the people (tenant schemas), the public
signup and the CRM's formatting all share one list.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# The currencies a B2B workspace in our markets deals in (ISO 4217); extend as customers ask.
CURRENCIES = (
    "RUB",
    "USD",
    "EUR",
    "GBP",
    "CNY",
    "KZT",
    "BYN",
    "UAH",
    "UZS",
    "AMD",
    "GEL",
    "AZN",
    "KGS",
    "TRY",
    "AED",
    "CHF",
    "PLN",
    "CZK",
    "SEK",
    "NOK",
    "DKK",
    "JPY",
    "INR",
    "CAD",
    "AUD",
)

# What a new workspace gets when the visitor's browser speaks this language and tells no time zone.
LANGUAGE_DEFAULTS: dict[str, tuple[str, str]] = {
    "en": ("USD", "UTC"),
    "ru": ("RUB", "Europe/Moscow"),
    "fr": ("EUR", "Europe/Paris"),
}


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def language_choices() -> list[tuple[str, str]]:
    """The interface languages, each named in its own language (as a person looking for theirs reads it)."""
    return list(settings.LANGUAGES)


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC"))


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in time_zone_names()]


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in CURRENCIES]


def validate_language(value: str) -> None:
    if value not in language_codes():
        raise ValidationError(_("Choose one of the offered languages."), code="invalid_language")


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value}, code="invalid_tz")


def validate_currency(value: str) -> None:
    if value not in CURRENCIES:
        raise ValidationError(
            _("%(value)s is not a supported ISO 4217 currency code."), params={"value": value}, code="invalid_currency"
        )


def defaults_for_language(language: str) -> tuple[str, str]:
    """(currency, time zone) for a new workspace whose creator speaks `language`."""
    return LANGUAGE_DEFAULTS.get(language.split("-")[0].lower(), LANGUAGE_DEFAULTS["en"])
