"""Tenants live in the public schema: one row per workspace, pooled schema or the template schema."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from tenants.locale import validate_currency, validate_language, validate_time_zone


class Tenant(TenantMixin):
    class Kind(models.TextChoices):
        PUBLIC = "public", _("Public site")
        WORKSPACE = "workspace", _("Workspace")
        # A pre-migrated empty schema waiting to become a workspace: signup renames it.
        POOLED = "pooled", _("Pooled schema")
        # The migrated empty schema the schema script (tenants/fleet/script.py) is dumped from; never routable.
        TEMPLATE = "template", _("Template schema")

    name = models.CharField(_("company name"), max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WORKSPACE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # The workspace's defaults, chosen at signup and changed by its administrators: the language of people who
    # chose none (and of the invitations), the currency new deals and products start in, and the time zone of
    # people who chose none. Kept here, on the row every request already loads, rather than in the schema.
    language = models.CharField(_("default language"), max_length=8, default="en", validators=[validate_language])
    currency = models.CharField(_("default currency"), max_length=3, default="USD", validators=[validate_currency])
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    # Fingerprint of the migrations applied in the schema (tenants.fleet.state), written in the same transaction
    # as the schema's DDL by provisioning and the fleet migration: a fleet already at the target is recognised
    # from this table alone, without opening one schema. Empty = unknown, read the schema itself.
    migration_state = models.CharField(max_length=64, blank=True, default="")
    # Never changes, whatever the schema or subdomain becomes: what a workspace's backups are bound to and their
    # keys derived from (infra.backups).
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Whether the workspace's data may change (tenants.access): the billing layer closes a workspace whose
    # trial ended unpaid, whose payment failed past the grace period or that was cancelled. On this row because
    # every request loads it (from the routing cache) and must know without a query.
    read_only = models.BooleanField(default=False, db_default=False)
    # What the billing layer tells the workspace's people (a banner): its state and the date it is about, kept
    # here for the same reason. Opaque to this layer.
    billing_state = models.CharField(max_length=16, blank=True, default="", db_default="")
    billing_until = models.DateTimeField(null=True, blank=True)

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


class SchemaScript(models.Model):
    """The DDL (and seed rows) of an empty, fully migrated workspace schema, generated from the migrated template
    after every migration and replayed to create a schema: its cost does not grow with the number of schemas.
    One row per migration state; the schema's name is the placeholder SCHEMA_PLACEHOLDER."""

    state = models.CharField(max_length=64, unique=True)
    sql = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.state[:12]
