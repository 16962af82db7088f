"""Reads on tenants (public schema)."""

from __future__ import annotations

from django.conf import settings
from django_tenants.utils import schema_context

from tenants.models import Domain, Tenant
from tenants.validators import normalize_subdomain


def workspace_domain_find(subdomain: str) -> str | None:
    """The host of the live workspace at `subdomain`, or None; pooled and template schemas are never found."""
    host = f"{normalize_subdomain(subdomain)}.{settings.BASE_DOMAIN}"
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        found = Domain.objects.filter(domain=host, tenant__kind=Tenant.Kind.WORKSPACE).values_list("domain", flat=True)
        return found.first()
