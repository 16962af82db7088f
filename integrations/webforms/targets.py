"""Where a form field's value can go: a lead's field, a contact's field (used to find the contact, and put on the
lead when there is none) or a lead's custom field. Labels are the CRM's own field names."""

from __future__ import annotations

from dataclasses import dataclass

from crm.contacts.models import Contact
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_of
from crm.leads.models import Lead

CUSTOM = "custom."
LEAD_FIELDS = ("title", "contact_name", "company_name", "email", "phone", "message")
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone")
EMAIL_TARGETS = frozenset({"lead.email", "contact.email"})
PHONE_TARGETS = frozenset({"lead.phone", "contact.phone"})
NAME_TARGETS = frozenset({"lead.contact_name", "contact.first_name", "contact.last_name"})
# A form must map one of these: a lead or a task nobody can call or write back to is of no use.
IDENTIFYING = EMAIL_TARGETS | PHONE_TARGETS | NAME_TARGETS


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    # The longest value the field holds (None: the custom field's own rule).
    max_length: int | None


def _model_target(prefix: str, model: type[Lead] | type[Contact], name: str) -> Target:
    # A contact's emails and phones are lists: one value of the form is one of them, named as the lead's.
    field = Lead._meta.get_field(name) if name in ("email", "phone") else model._meta.get_field(name)
    # Emails and phones are held to their type's length; a lead's message is long text.
    limits = {"email": None, "phone": None, "message": 20000}
    max_length = limits[name] if name in limits else getattr(field, "max_length", None)
    return Target(
        key=f"{prefix}.{name}",
        label=f"{str(model._meta.verbose_name).capitalize()}: {getattr(field, 'verbose_name', name)}",
        max_length=max_length,
    )


def custom_fields() -> list[CustomField]:
    return list(custom_fields_of(RecordType.LEAD))


def model_targets() -> list[Target]:
    """The lead's and contact's fields (the same in every workspace; no query)."""
    return [_model_target("lead", Lead, name) for name in LEAD_FIELDS] + [
        _model_target("contact", Contact, name) for name in CONTACT_FIELDS
    ]


def targets() -> list[Target]:
    """Every target of this workspace, in the order the builder lists them."""
    found = model_targets()
    found += [
        Target(
            key=f"{CUSTOM}{field.key}",
            label=f"{str(Lead._meta.verbose_name).capitalize()}: {field.label}",
            max_length=None,
        )
        for field in custom_fields()
    ]
    return found
