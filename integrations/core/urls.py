"""The integrations pages, mounted at /settings/integrations/; each kind mounts its own pages beside them."""

from django.urls import URLPattern, URLResolver, path

from integrations.core import views

app_name = "integrations"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.connections, name="list"),
    path("new/<slug:kind>/", views.connection_new, name="new"),
    path("<int:pk>/", views.connection_detail, name="detail"),
    path("<int:pk>/url/", views.connection_token, name="token"),
    path("<int:pk>/toggle/", views.connection_toggle, name="toggle"),
    path("<int:pk>/delete/", views.connection_delete, name="delete"),
    path("<int:pk>/log/<int:entry>/", views.exchange_detail, name="exchange"),
    path("<int:pk>/log/<int:entry>/retry/", views.exchange_retry, name="retry"),
]
