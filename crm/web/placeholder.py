"""Temporary: routes whose pages are being built. Every route here must be replaced; nothing may import
this module when the CRM web UI is complete (a test checks)."""

from django.http import HttpRequest, HttpResponse


def not_built(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    return HttpResponse("Not built yet", status=501)
