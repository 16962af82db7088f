"""URLs of the public site (BASE_DOMAIN, public schema)."""

from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("billing/", include("billing.urls_public")),
    path("", include("platform_core.public_site.urls")),
]

# An API 500 is answered in JSON, a page's with the error page (platform_core/errors.py).
handler500 = "platform_core.errors.server_error"
