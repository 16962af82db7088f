"""Request middleware: the tenant by host, the person's language and time zone, and the tenant's schema as a tag
on error reports."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django_tenants.middleware.main import TenantMainMiddleware

from tenants.context import current_schema


class KontorTenantMiddleware(TenantMainMiddleware):
    """Routes by host; only workspaces and the public site are reachable, never pooled or template schemas."""

    def get_tenant(self, domain_model, hostname):
        # From the shared cache: no query once a host has been seen (tenants/routing.py).
        from tenants.routing import tenant_for_host

        tenant = tenant_for_host(hostname)
        if tenant is None:
            raise domain_model.DoesNotExist
        return tenant


class SentryTenantTagMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import sentry_sdk

        sentry_sdk.set_tag("tenant", current_schema())
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Sends settings.CONTENT_SECURITY_POLICY on every response that does not set its own: scripts and styles
    from our own static files only, nothing inline and no eval (htmx runs with allowEval off), no framing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.policy = "; ".join(f"{name} {' '.join(sources)}" for name, sources in settings.CONTENT_SECURITY_POLICY)
        # Django's debug error pages (DEBUG only, never in production) are styled and scripted inline.
        self.debug = settings.DEBUG

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.debug and response.status_code >= 400:
            return response
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response


class UserLocaleMiddleware:
    """Activates, for the whole request, the language and time zone of the person: their profile's choice, else
    their workspace's default. Visitors (the public site, login pages) get the language their browser asks
    for (LocaleMiddleware, which runs first, chose it from the language cookie or Accept-Language), else the
    workspace's; their time zone is the workspace's (UTC on the public site). Goes after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language, time_zone = self._choice(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            timezone.activate(zoneinfo.ZoneInfo(time_zone or settings.TIME_ZONE))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    @staticmethod
    def _choice(request: HttpRequest) -> tuple[str, str]:
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
            return "", ""
        if request.path.startswith(settings.STATIC_URL):
            return "", ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return (user.language or tenant.language), (user.time_zone or tenant.time_zone)
        asked = settings.LANGUAGE_COOKIE_NAME in request.COOKIES or "HTTP_ACCEPT_LANGUAGE" in request.META
        return ("" if asked else tenant.language), tenant.time_zone
