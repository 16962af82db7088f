"""Platform-level pages that belong to no app: the unknown-workspace page and error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def workspace_not_found(request: HttpRequest) -> HttpResponse:
    # Called by the tenant middleware before any URLconf applies: the host names no workspace.
    return render(request, "platform_core/workspace_not_found.html", status=404)
