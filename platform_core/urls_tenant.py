"""URLs of a workspace (<subdomain>.BASE_DOMAIN, the tenant's schema)."""

from django.urls import include, path

from platform_core.api import api

urlpatterns = [
    path("", include("tenants.accounts.urls")),
    path("api/v1/", api.urls),
    path("settings/backups/", include("infra.backups.urls")),
    path("settings/billing/", include("billing.urls")),
    # Mailboxes: /settings/integrations/email/... and the compose page /email/compose/<contact>/.
    path("", include("integrations.email.urls")),
    path("settings/integrations/", include("integrations.core.urls")),
    path("settings/", include("tenants.accounts.manage.urls")),
    path("invitation/", include("tenants.accounts.manage.invite_urls")),
    path("", include("crm.web.urls")),
]

# An API 500 is answered in JSON, a page's with the error page (platform_core/errors.py).
handler500 = "platform_core.errors.server_error"
