"""Telephony's addresses outside the settings, mounted at /integrations/: Zadarma's notifications (the secret
in the path) and click-to-call from a card."""

from django.urls import URLPattern, URLResolver, path

from integrations.telephony import views

app_name = "telephony_calls"
urlpatterns: list[URLPattern | URLResolver] = [
    path("in/telephony/zadarma/<str:token>/", views.zadarma_notify, name="zadarma"),
    path("telephony/call/", views.call_place, name="call"),
]
