from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from platform_core.hosts import public_site_url


def platform(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    return {
        "public_site_url": public_site_url(request),
        # Each language named in itself ("Русский"), never translated: a reader looks for their own.
        "interface_languages": settings.LANGUAGES,
        "language_switch_url": _language_switch_url(),
        "workspace": tenant if tenant is not None and tenant.schema_name != settings.PUBLIC_SCHEMA_NAME else None,
    }


def _language_switch_url() -> str:
    """The language switch of the public site (not routed on workspaces: there the profile decides)."""
    try:
        return reverse("set_language")
    except NoReverseMatch:
        return ""
