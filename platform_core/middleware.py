"""Request middleware: the tenant by host, and the tenant's schema as a tag on error reports."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django_tenants.middleware.main import TenantMainMiddleware

from platform_core.db import current_schema


class KontorTenantMiddleware(TenantMainMiddleware):
    """Routes by host; only workspaces and the public site are reachable, never pooled or template schemas."""

    def get_tenant(self, domain_model, hostname):
        from tenants.models import Tenant

        domain = domain_model.objects.select_related("tenant").get(
            domain=hostname, tenant__kind__in=[Tenant.Kind.WORKSPACE, Tenant.Kind.PUBLIC]
        )
        return domain.tenant


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
