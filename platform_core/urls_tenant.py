"""URLs of a workspace (<subdomain>.BASE_DOMAIN, the tenant's schema)."""

from django.urls import include, path

from tenants.accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("", include("tenants.accounts.urls")),
]
