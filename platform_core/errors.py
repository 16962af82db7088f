"""Server errors: every log line names the tenant it happened in, and an API 500 is answered in JSON.

Django logs each unhandled exception of a request (logger `django.request`, with its traceback) before it calls
`handler500`; django-ninja hands an exception no API handler claims back to Django outside DEBUG, so the API's
are logged the same way. The log filter below adds the workspace schema of the thread's connection (and the
request's host when the record carries the request) to every record, and settings.LOGGING puts both in the
format, so a 500 in the log always says which workspace it was.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


class TenantLogFilter(logging.Filter):
    """Adds `tenant` (the schema the thread's connection is set to, "-" outside Django) and `host` (the request's
    host for the records Django logs with the request, "-" otherwise) to every record. Never refuses one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "tenant"):
            record.tenant = _schema()
        if not hasattr(record, "host"):
            record.host = _host(getattr(record, "request", None))
        return True


def _schema() -> str:
    try:
        from tenants.context import current_schema

        return current_schema() or "-"
    except Exception:  # settings not configured, another backend, a half torn-down thread: log anyway
        return "-"


def _host(request: object) -> str:
    if not isinstance(request, HttpRequest):
        return "-"
    # The raw header: get_host() raises for a host that is not allowed, and that is worth logging too.
    return str(request.META.get("HTTP_HOST") or "-")[:255]


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a JSON body under /api/ (what an API client parses), the error page everywhere else."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("Internal server error.")}, status=500)
    return defaults.server_error(request)
