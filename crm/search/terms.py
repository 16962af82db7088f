"""How records and queries become search terms. Pure functions: used by the index, the search and seeding."""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from django.conf import settings

MAX_TERM = 100
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall((text or "").lower()) if w]


# A phone's digits reversed, behind this mark, so a prefix scan finds a number by its last digits ('1234567',
# '45-67'). Words, emails and ids never start with it: only a phone query probes these terms.
REVERSED = "~"


def phone_terms(e164: str) -> set[str]:
    """Digits with the country code and the national number alone, so both '+7 916...' and '916...' match, and
    the digits reversed (REVERSED), so the last digits match too."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    terms = {digits, REVERSED + digits[::-1]} if digits else set()
    try:
        number = phonenumbers.parse(e164)
        terms.add(str(number.national_number))
    except phonenumbers.NumberParseException:
        pass
    return terms


def email_terms(email: str) -> set[str]:
    # Prefix search on the whole address finds it by its local part as it is typed ("anna.p" ...).
    email = (email or "").strip().lower()
    return {email} if email else set()


def record_terms(
    *, texts: Iterable[str] = (), emails: Iterable[str] = (), phones: Iterable[str] = (), ids: Iterable[str] = ()
) -> set[str]:
    terms: set[str] = set()
    for text in texts:
        terms.update(words(text))
    for email in emails:
        terms.update(email_terms(email))
    for phone in phones:
        terms.update(phone_terms(phone))
    for value in ids:
        compact = "".join(ch for ch in (value or "").lower() if ch.isalnum())
        if compact:
            terms.add(compact)
    return {t[:MAX_TERM] for t in terms if len(t) >= 2}


def query_readings(query: str) -> tuple[list[str], list[str]]:
    """(word prefixes, phone prefixes) of what a user typed in the search box: a record matches when its terms
    start with every word, or with any one of the phone prefixes (the same digits read several ways)."""
    query = (query or "").strip()
    digits = "".join(ch for ch in query if ch.isdigit())
    looks_like_phone = len(digits) >= 5 and not any(ch.isalpha() for ch in query)
    if looks_like_phone:
        return [], phone_prefixes(query, digits)
    if "@" in query:
        return [query.lower()[:MAX_TERM]], []
    return [w[:MAX_TERM] for w in words(query) if w], []


def phone_prefixes(query: str, digits: str) -> list[str]:
    """The ways the digits typed can begin a phone's terms, most exact first: a full number in any format is
    found by its national part; otherwise the digits as typed ('+7916', '916123'), without the trunk prefix
    of the default region ('8 916 123' -> '916123', '06 12' -> '612' in France) and as the last digits of a
    number ('1234567', '45-67')."""
    region = settings.DEFAULT_PHONE_REGION
    try:
        number = phonenumbers.parse(query, region)
        # A full number typed in a national format ('8 916 ...') is found by its national part.
        if phonenumbers.is_valid_number(number):
            return [str(number.national_number)]
    except phonenumbers.NumberParseException:
        pass
    digits = digits[:MAX_TERM]
    prefixes = [digits]
    if not query.startswith("+"):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        trunk = (metadata.national_prefix if metadata else None) or ""
        if trunk and digits.startswith(trunk) and len(digits) - len(trunk) >= 2:
            prefixes.append(digits[len(trunk) :])
        # An international number ('+7...') begins where it begins; anything else may be a number's end.
        prefixes.append((REVERSED + digits[::-1])[:MAX_TERM])
    return prefixes


# --- terms per record, tagged with the field they come from ----------------------------------------------------
# A role can hide some fields (contact phones, a lead's email...); the search must not find a record through
# them for that role, so each term remembers its field: the model field's name, or "" for what no role hides
# (names and titles).

FieldTerms = set[tuple[str, str]]


def _tagged(field: str, terms: set[str]) -> FieldTerms:
    return {(field, t) for t in terms}


def company_terms(
    *, name: str, legal_name: str, emails: Iterable[str], phones: Iterable[str], tax_id: str, registration_id: str
) -> FieldTerms:
    return (
        _tagged("", record_terms(texts=[name, legal_name]))
        | _tagged("emails", record_terms(emails=emails))
        | _tagged("phones", record_terms(phones=phones))
        | _tagged("tax_id", record_terms(ids=[tax_id]))
        | _tagged("registration_id", record_terms(ids=[registration_id]))
    )


def contact_terms(*, names: Iterable[str], emails: Iterable[str], phones: Iterable[str]) -> FieldTerms:
    return (
        _tagged("", record_terms(texts=names))
        | _tagged("emails", record_terms(emails=emails))
        | _tagged("phones", record_terms(phones=phones))
    )


def lead_terms(*, texts: Iterable[str], email: str, phone: str) -> FieldTerms:
    return (
        _tagged("", record_terms(texts=texts))
        | _tagged("email", record_terms(emails=[email]))
        | _tagged("phone", record_terms(phones=[phone] if phone else []))
    )


def deal_terms(*, title: str) -> FieldTerms:
    return _tagged("", record_terms(texts=[title]))
