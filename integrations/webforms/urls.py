"""The website form's pages, mounted at /settings/integrations/webforms/."""

from django.urls import URLPattern, URLResolver, path

from integrations.webforms import views

app_name = "webforms"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:connection>/", views.builder, name="builder"),
    path("<int:connection>/code/", views.snippet, name="snippet"),
]
