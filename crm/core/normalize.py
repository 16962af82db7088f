"""Input normalizers shared by the record services: phones to E.164, emails, tags, websites."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from crm.core.phones import normalize_phone, normalize_phones


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (part.strip() for part in value.replace(";", ",").replace("\n", ",").split(",")) if v]
    return [str(v).strip() for v in value if str(v).strip()]


def clean_emails(value: Any) -> list[str]:
    result: dict[str, None] = {}
    bad: list[str] = []
    for email in _as_list(value):
        email = email.lower()
        try:
            validate_email(email)
        except ValidationError:
            bad.append(email)
            continue
        result[email] = None
    if bad:
        raise ValidationError(_("Not an email address: %(value)s"), params={"value": ", ".join(bad)})
    return list(result)


def clean_tags(value: Any) -> list[str]:
    """Lower-cased, at most 50 characters each, without repeats, in the order given (linear time)."""
    return list(dict.fromkeys(tag.lower()[:50] for tag in _as_list(value)))


def normalize_contact_fields(data: dict[str, Any], *, single: bool = False) -> dict[str, Any]:
    """Normalize phones/emails/tags present in `data`; errors are collected per field."""
    errors: dict[str, list[str]] = {}
    out = dict(data)
    for name, cleaner in (("phones", normalize_phones), ("emails", clean_emails), ("tags", clean_tags)):
        if name in out:
            try:
                out[name] = cleaner(_as_list(out[name]) if name == "phones" else out[name])
            except ValidationError as exc:
                errors[name] = list(exc.messages)
    if single:
        if out.get("phone"):
            try:
                out["phone"] = normalize_phone(str(out["phone"]))
            except ValidationError as exc:
                errors["phone"] = list(exc.messages)
        if out.get("email"):
            try:
                emails = clean_emails(out["email"])
            except ValidationError as exc:
                errors["email"] = list(exc.messages)
            else:
                if emails:
                    out["email"] = emails[0]
                else:
                    errors["email"] = [_("Enter an email address.")]
    if out.get("website") and "://" not in str(out["website"]):
        out["website"] = f"https://{str(out['website']).strip()}"
    for name in ("tax_id", "registration_id"):
        if name in out and out[name] is not None:
            out[name] = "".join(str(out[name]).split())
    if errors:
        raise ValidationError(errors)
    return out
