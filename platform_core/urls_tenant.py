"""URLs of a workspace (<subdomain>.BASE_DOMAIN, the tenant's schema)."""

from django.urls import include, path

from platform_core.api import api

urlpatterns = [
    path("", include("tenants.accounts.urls")),
    path("api/v1/", api.urls),
    path("settings/backups/", include("infra.backups.urls")),
    path("settings/billing/", include("billing.urls")),
    # Integrations: each kind's pages before the core's (/settings/integrations/<kind>/...), then the addresses
    # other systems call (/integrations/in/<kind>/<secret>/...) and what people use from the cards.
    path("settings/integrations/webhooks/", include("integrations.webhooks.urls")),
    path("settings/integrations/webforms/", include("integrations.webforms.urls")),
    path("settings/integrations/telephony/", include("integrations.telephony.urls")),
    path("settings/integrations/accounting/", include("integrations.accounting.urls")),
    # Mailboxes: /settings/integrations/email/... and the compose page /email/compose/<contact>/.
    path("", include("integrations.email.urls")),
    path("settings/integrations/", include("integrations.core.urls")),
    path("integrations/in/webforms/", include("integrations.webforms.urls_inbound")),
    path("integrations/in/accounting/", include("integrations.accounting.urls_inbound")),
    path("deals/<int:deal>/accounting/", include("integrations.accounting.urls_card")),
    path("settings/processes/calendar/", include("crm.processes.urls_calendar")),
    path("settings/processes/", include("crm.processes.urls")),
    path("settings/", include("tenants.accounts.manage.urls")),
    path("integrations/", include("integrations.telephony.urls_calls")),
    path("invitation/", include("tenants.accounts.manage.invite_urls")),
    # Running processes where people meet them: the cards' actions, notifications.
    path("processes/", include("crm.processes.urls_work")),
    path("", include("crm.web.urls")),
]

# An API 500 is answered in JSON, a page's with the error page (platform_core/errors.py).
handler500 = "platform_core.errors.server_error"
