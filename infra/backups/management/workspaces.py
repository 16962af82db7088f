"""The workspace an operator names on a command line."""

from __future__ import annotations

from django.core.management.base import CommandError

from tenants.models import Domain, Tenant
from tenants.services import workspace_domain_for
from tenants.validators import normalize_subdomain


def workspace_named(subdomain: str) -> Tenant:
    if "\x00" in subdomain or len(subdomain) > 253:  # PostgreSQL refuses NUL in text: say it, not a traceback
        raise CommandError(f"no workspace at {subdomain!r}")
    domain = (
        Domain.objects.select_related("tenant")
        .filter(domain=workspace_domain_for(normalize_subdomain(subdomain)), tenant__kind=Tenant.Kind.WORKSPACE)
        .first()
    )
    if domain is None:
        raise CommandError(f"no workspace at {subdomain!r}")
    return domain.tenant
