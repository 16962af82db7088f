"""URLs of the public site (BASE_DOMAIN, public schema)."""

from django.urls import include, path

urlpatterns = [
    path("", include("platform_core.public_site.urls")),
]
