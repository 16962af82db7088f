"""The form's inbound endpoint, mounted at /integrations/in/webforms/ (no sign-in: the secret is in the path)."""

from django.urls import URLPattern, URLResolver, path

from integrations.webforms import inbound

app_name = "webforms_inbound"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:token>/", inbound.submit, name="submit"),
]
