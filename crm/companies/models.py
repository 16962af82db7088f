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
            models.Index(Lower("name"), "id", name="company_lower_name"),
            models.Index(fields=["owner", "name"], name="company_owner_name"),
            models.Index(fields=["owner", "id"], name="company_owner_id"),
            models.Index(fields=["-created_at"], name="company_created"),
            models.Index(fields=["tax_id"], name="company_tax_id", condition=~models.Q(tax_id="")),
            GinIndex(fields=["custom_fields"], name="company_custom_fields", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["tags"], name="company_tags"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("companies:detail", args=[self.pk])
