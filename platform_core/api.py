"""The workspace REST API (django-ninja) at /api/v1/: OpenAPI 3 at /api/v1/openapi.json, docs at /api/v1/docs.

Routers live in each app's api.py and are added here.
"""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="Kontor API",
    version="1.0.0",
    description="Companies, contacts, leads, deals, pipelines, products, activities and custom fields of one "
    "workspace. Authenticate with the browser session (and CSRF token) or `Authorization: Bearer <API key>`.",
    urls_namespace="api",
)
