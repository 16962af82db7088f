from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.core.models import CrmRecord


class Lead(CrmRecord):
    """An unqualified inbound request: raw contact data as it arrived, until it is converted or rejected."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        IN_PROGRESS = "in_progress", _("In progress")
        CONVERTED = "converted", _("Converted")
        REJECTED = "rejected", _("Rejected")

    title = models.CharField(_("title"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    source = models.CharField(_("source"), max_length=100, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    company_name = models.CharField(_("company name"), max_length=255, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    message = models.TextField(_("message"), blank=True)
    rejection_reason = models.CharField(_("rejection reason"), max_length=255, blank=True)
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    # The three link indexes (Django's, one column each) serve the SET NULL when a company, contact or deal is
    # deleted, the merges that move leads (duplicate.leads.update) and merge_counts.
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            # The lead list filtered by status, newest first.
            models.Index(fields=["status", "-created_at"], name="lead_status_created"),
            # The lead list, newest first, for people who see only their own or their team's.
            models.Index(fields=["owner", "-created_at"], name="lead_owner"),
            # policy._owned_by's subquery "leads of these people" (index only: activities and files of leads).
            models.Index(fields=["owner", "id"], name="lead_owner_id"),
            # The lead list, newest first (its default sort).
            models.Index(fields=["-created_at"], name="lead_created"),
            # Filters on custom field values (lists and API: custom_fields @> {...}).
            GinIndex(fields=["custom_fields"], name="lead_custom_fields", opclasses=["jsonb_path_ops"]),
            # The tag filter (tags @> [...]).
            GinIndex(fields=["tags"], name="lead_tags"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])
