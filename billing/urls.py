"""The billing page of a workspace (mounted at /settings/billing/)."""

from django.urls import URLPattern, path

from billing import views

app_name = "billing"
urlpatterns: list[URLPattern] = [
    path("", views.page, name="page"),
    path("checkout/", views.checkout, name="checkout"),
    path("portal/", views.portal, name="portal"),
]
