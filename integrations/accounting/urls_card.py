"""The deal card's action: /deals/<deal>/accounting/invoice/ (whoever may edit the deal)."""

from django.urls import URLPattern, URLResolver, path

from integrations.accounting import views

app_name = "accounting_card"
urlpatterns: list[URLPattern | URLResolver] = [
    path("invoice/", views.invoice_request, name="invoice"),
]
