"""Merge fields in email templates: Django's template language on a context of plain values chosen here, never
on models, so a template cannot reach anything but these fields. Only {% if %} and the built-in filters; no
{% load %}, {% include %}, {% debug %}, and a missing field renders as nothing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.utils.translation import gettext as _

from crm.contacts.models import Contact
from tenants.accounts.models import User


class _MergeEngine(Engine):
    # Instead of Django's default tags ({% load %}, {% include %}, {% debug %}...): the filters and {% if %}.
    default_builtins = ["django.template.defaultfilters", "integrations.email.merge_tags"]


_ENGINE = _MergeEngine(dirs=[], app_dirs=False, autoescape=False, libraries={}, string_if_invalid="")
TEMPLATE_MAX = 50_000

# What a template may name, as documented on the templates page.
FIELDS = (
    "contact.first_name",
    "contact.last_name",
    "contact.full_name",
    "contact.position",
    "contact.email",
    "company.name",
    "user.full_name",
    "user.first_name",
    "user.email",
    "mailbox.address",
)


def merge_context(*, contact: Contact | None, user: User | None, address: str = "", to: str = "") -> dict[str, Any]:
    company = contact.company if contact is not None and contact.company_id else None
    return {
        "contact": {
            "first_name": contact.first_name if contact else "",
            "last_name": contact.last_name if contact else "",
            "full_name": contact.full_name if contact else "",
            "position": contact.position if contact else "",
            "email": to or (contact.emails[0] if contact and contact.emails else ""),
        },
        "company": {"name": company.name if company is not None else ""},
        "user": {
            "full_name": user.get_full_name() if user else "",
            "first_name": user.get_short_name() if user else "",
            "email": user.email if user else "",
        },
        "mailbox": {"address": address},
    }


def template_check(text: str) -> None:
    """ValidationError unless `text` is a template this module renders."""
    if len(text) > TEMPLATE_MAX:
        raise ValidationError(_("The text is too long."))
    try:
        _ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        raise ValidationError(_("The merge fields cannot be read: %(error)s") % {"error": exc}) from exc


def render(text: str, context: dict[str, Any]) -> str:
    template_check(text)
    return _ENGINE.from_string(text).render(Context(context, autoescape=False))
