"""The address 1C calls: /integrations/in/accounting/<token>/exchange?type=...&mode=..."""

from django.urls import URLPattern, URLResolver, path

from integrations.accounting import views

app_name = "accounting_in"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:token>/exchange", views.exchange, name="exchange"),
]
