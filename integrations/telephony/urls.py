"""Telephony's pages about one connection, mounted at /settings/integrations/telephony/."""

from django.urls import URLPattern, URLResolver, path

from integrations.telephony import views

app_name = "telephony"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:connection>/calls/", views.calls, name="calls"),
]
