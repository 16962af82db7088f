"""URLs of the public site (BASE_DOMAIN, public schema)."""

from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("platform_core.public_site.urls")),
]
