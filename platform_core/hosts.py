"""Absolute URLs on other hosts of this deployment (public site <-> workspaces), keeping scheme and port."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def host_url(request: HttpRequest, host: str, path: str = "/") -> str:
    port = request.get_port()
    default_port = "443" if request.is_secure() else "80"
    suffix = f":{port}" if port and port != default_port else ""
    return f"{request.scheme}://{host}{suffix}{path}"


def public_site_url(request: HttpRequest) -> str:
    return host_url(request, settings.BASE_DOMAIN)
