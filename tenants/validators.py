"""Rules for workspace addresses (subdomains)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,28})[a-z0-9]$")

# Names that would collide with our own hosts, mislead users or be mistaken for the vendor.
RESERVED_SUBDOMAINS = frozenset(
    {
        "www",
        "api",
        "admin",
        "app",
        "apps",
        "support",
        "help",
        "public",
        "static",
        "media",
        "assets",
        "cdn",
        "mail",
        "email",
        "smtp",
        "imap",
        "pop",
        "pop3",
        "mx",
        "ftp",
        "ns",
        "ns1",
        "ns2",
        "dns",
        "vpn",
        "status",
        "docs",
        "doc",
        "blog",
        "news",
        "billing",
        "pay",
        "payments",
        "invoice",
        "account",
        "accounts",
        "auth",
        "login",
        "logout",
        "signup",
        "register",
        "sso",
        "oauth",
        "id",
        "my",
        "dashboard",
        "console",
        "root",
        "system",
        "sys",
        "internal",
        "dev",
        "staging",
        "stage",
        "test",
        "tests",
        "beta",
        "sandbox",
        "localhost",
        "kontor",
        "vendor",
        "security",
        "abuse",
        "postmaster",
        "hostmaster",
        "webmaster",
        "webhook",
        "webhooks",
        "hooks",
        "files",
        "upload",
        "uploads",
        "download",
        "downloads",
        "pool",
        "template",
        "schema",
        "pg",
        "postgres",
        "redis",
        "celery",
    }
)


def normalize_subdomain(value: str) -> str:
    return (value or "").strip().lower()


def validate_subdomain_format(value: str) -> None:
    """Format and reserved-name rules; whether the name is taken is the service's question."""
    if len(value) < 3 or len(value) > 30:
        raise ValidationError(_("Use 3 to 30 characters."), code="length")
    if not SUBDOMAIN_RE.match(value):
        raise ValidationError(
            _("Use lowercase letters, digits and hyphens; start and end with a letter or digit."),
            code="invalid",
        )
    if "--" in value:
        raise ValidationError(_("Two hyphens in a row are not allowed."), code="invalid")
    if value in RESERVED_SUBDOMAINS:
        raise ValidationError(_("This address is reserved. Please choose another."), code="reserved")


def schema_name_for(subdomain: str) -> str:
    # Schema names may not start with a digit or contain hyphens; subdomains contain no underscores,
    # so this mapping is one-to-one.
    return "ws_" + subdomain.replace("-", "_")
