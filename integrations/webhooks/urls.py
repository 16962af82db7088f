"""The webhook pages, mounted at /settings/integrations/webhooks/."""

from django.urls import URLPattern, URLResolver, path

from integrations.webhooks import views

app_name = "webhooks"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:connection>/secret/", views.secret, name="secret"),
    path("<int:connection>/deliveries/", views.deliveries, name="deliveries"),
    path("<int:connection>/ping/", views.ping, name="ping"),
]
