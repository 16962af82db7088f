"""Possible duplicates of a company or contact being created: same email, phone or tax id, or a very
similar name. Shown as a warning; the user decides."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to
from crm.contacts.models import Contact
from crm.contacts.selectors import contacts_visible_to
from crm.core.phones import normalize_phone
from crm.core.types import RecordType
from crm.search.models import SearchTerm
from crm.search.terms import words
from tenants.accounts import policy
from tenants.accounts.models import User

# Legal forms say nothing about which company it is.
_LEGAL_FORMS = {
    "ооо",
    "оао",
    "зао",
    "пао",
    "ао",
    "ип",
    "llc",
    "ltd",
    "inc",
    "gmbh",
    "sarl",
    "sas",
    "sa",
    "plc",
    "co",
    "corp",
    "company",
    "limited",
    "ag",
    "oy",
    "ab",
    "bv",
    "nv",
    "llp",
}


def _phones(values: Iterable[str]) -> list[str]:
    result = []
    for value in values:
        try:
            result.append(normalize_phone(value))
        except ValidationError:  # a bad number is the form's error to report, not ours
            continue
    return result


def _name_words(name: str) -> list[str]:
    return [w for w in words(name) if w not in _LEGAL_FORMS]


def company_duplicates(
    user: User,
    *,
    name: str = "",
    tax_id: str = "",
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    exclude_id: int | None = None,
    limit: int = 5,
) -> QuerySet[Company]:
    # A match through a field the user's role hides would tell them its value: those fields are not compared.
    hidden = policy.hidden_fields(user, RecordType.COMPANY)
    match = Q()
    if "tax_id" not in hidden and (tax := "".join(tax_id.split())):
        match |= Q(tax_id=tax)
    if "emails" not in hidden and (emails := [e.strip().lower() for e in emails if e.strip()]):
        match |= Q(emails__overlap=emails)
    if "phones" not in hidden and (phones := _phones(phones)):
        match |= Q(phones__overlap=phones)
    if significant := _name_words(name):
        # Same significant words in the name, whatever the legal form, case or punctuation (via the index).
        ids = SearchTerm.objects.filter(record_type=RecordType.COMPANY, field="", term=significant[0])
        for word in significant[1:]:
            ids = ids.filter(
                Exists(
                    SearchTerm.objects.filter(
                        record_type=RecordType.COMPANY, record_id=OuterRef("record_id"), field="", term=word
                    )
                )
            )
        match |= Q(pk__in=ids.values("record_id")[:50])
    if not match:
        return Company.objects.none()
    qs = companies_visible_to(user).filter(match)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.order_by("name")[:limit]


def contact_duplicates(
    user: User,
    *,
    first_name: str = "",
    last_name: str = "",
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    company_id: int | None = None,
    exclude_id: int | None = None,
    limit: int = 5,
) -> QuerySet[Contact]:
    hidden = policy.hidden_fields(user, RecordType.CONTACT)
    match = Q()
    if "emails" not in hidden and (emails := [e.strip().lower() for e in emails if e.strip()]):
        match |= Q(emails__overlap=emails)
    if "phones" not in hidden and (phones := _phones(phones)):
        match |= Q(phones__overlap=phones)
    if last_name.strip() and first_name.strip() and company_id:
        match |= Q(last_name__iexact=last_name.strip(), first_name__iexact=first_name.strip(), company_id=company_id)
    if not match:
        return Contact.objects.none()
    qs = contacts_visible_to(user).filter(match)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.select_related("company").order_by("last_name")[:limit]
