from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.core.models import CrmRecord


class Contact(CrmRecord):
    """A person, usually at a company."""

    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    position = models.CharField(_("position"), max_length=150, blank=True)
    company = models.ForeignKey(
        "companies.Company",
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        db_index=False,  # contact_company (company, last_name) serves every lookup by company
    )
    # E.164, normalized by the services.
    phones = ArrayField(models.CharField(max_length=20), verbose_name=_("phones"), default=list, blank=True)
    emails = ArrayField(models.CharField(max_length=254), verbose_name=_("emails"), default=list, blank=True)
    consent_to_contact = models.BooleanField(_("consents to be contacted"), default=False)
    consent_at = models.DateTimeField(_("consent given"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            # The contact list sorted by name (its default).
            models.Index(Lower("last_name"), Lower("first_name"), "id", name="contact_lower_name"),
            # The client card's contacts and merge_counts (company = X ordered by name); a company's delete and
            # merge (SET NULL / move by company_id).
            models.Index(fields=["company", "last_name"], name="contact_company"),
            # The contact list by name for people who see only their own or their team's.
            models.Index(fields=["owner", "last_name"], name="contact_owner"),
            # policy._owned_by's subquery "contacts of these people" (index only), and newest first for them.
            models.Index(fields=["owner", "id"], name="contact_owner_id"),
            # The contact list sorted by creation, newest first.
            models.Index(fields=["-created_at"], name="contact_created"),
            # contact_duplicates: phones && [...] and emails && [...].
            GinIndex(fields=["phones"], name="contact_phones"),
            GinIndex(fields=["emails"], name="contact_emails"),
            # Filters on custom field values (lists and API: custom_fields @> {...}).
            GinIndex(fields=["custom_fields"], name="contact_custom_fields", opclasses=["jsonb_path_ops"]),
            # The tag filter (tags @> [...]).
            GinIndex(fields=["tags"], name="contact_tags"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return contact_full_name(self.first_name, self.middle_name, self.last_name, self.emails, self.phones)

    def get_absolute_url(self) -> str:
        return reverse("contacts:detail", args=[self.pk])


# The columns a contact's name is made of (the API builds it from them without a model instance).
FULL_NAME_COLUMNS = ("first_name", "middle_name", "last_name", "emails", "phones")


def contact_full_name(first: str, middle: str, last: str, emails: list[str], phones: list[str]) -> str:
    """How a contact is called: their name, else their first email or phone."""
    name = " ".join(p for p in (first, middle, last) if p)
    return name or (emails[0] if emails else "") or (phones[0] if phones else "") or "—"
