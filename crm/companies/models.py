from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.core.models import CrmRecord


class Company(CrmRecord):
    """A B2B counterparty: the client, supplier or partner the whole card is about."""

    name = models.CharField(_("name"), max_length=255)
    legal_name = models.CharField(_("legal name"), max_length=255, blank=True)
    tax_id = models.CharField(_("tax id (INN / VAT no.)"), max_length=32, blank=True)
    registration_id = models.CharField(_("registration id (KPP / OGRN / company no.)"), max_length=32, blank=True)
    legal_address = models.TextField(_("legal address"), blank=True)
    actual_address = models.TextField(_("actual address"), blank=True)
    website = models.URLField(_("website"), blank=True)
    phones = ArrayField(models.CharField(max_length=20), verbose_name=_("phones"), default=list, blank=True)
    emails = ArrayField(models.CharField(max_length=254), verbose_name=_("emails"), default=list, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            # The company list sorted by name (its default).
            models.Index(Lower("name"), "id", name="company_lower_name"),
            # The company list by name for people who see only their own or their team's.
            models.Index(fields=["owner", "name"], name="company_owner_name"),
            # policy._owned_by's subquery "companies of these people" (index only), and newest first for them.
            models.Index(fields=["owner", "id"], name="company_owner_id"),
            # The company list sorted by creation, newest first.
            models.Index(fields=["-created_at"], name="company_created"),
            # Duplicate detection by tax id (crm.core duplicates) and the API's tax_id filter.
            models.Index(fields=["tax_id"], name="company_tax_id", condition=~models.Q(tax_id="")),
            # Filters on custom field values (lists and API: custom_fields @> {...}).
            GinIndex(fields=["custom_fields"], name="company_custom_fields", opclasses=["jsonb_path_ops"]),
            # The tag filter (tags @> [...]).
            GinIndex(fields=["tags"], name="company_tags"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("companies:detail", args=[self.pk])
