"""Tenants live in the public schema: one row per workspace, pooled schema or the clone template."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    class Kind(models.TextChoices):
        PUBLIC = "public", _("Public site")
        WORKSPACE = "workspace", _("Workspace")
        # A pre-migrated empty schema waiting to become a workspace: signup renames it.
        POOLED = "pooled", _("Pooled schema")
        # A migrated empty schema that provisioning clones when the pool is empty.
        TEMPLATE = "template", _("Clone template")

    name = models.CharField(_("company name"), max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WORKSPACE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    # Provisioning creates, renames and drops schemas itself, inside the caller's transaction.
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name or self.schema_name

    @property
    def subdomain(self) -> str:
        domain = self.get_primary_domain()
        return domain.domain.split(".", 1)[0] if domain else ""


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
