"""The 1C exchange's pages under /settings/integrations/accounting/ (manage-integrations permission)."""

from django.urls import URLPattern, URLResolver, path

from integrations.accounting import views

app_name = "accounting"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:connection>/", views.setup, name="setup"),
    path("<int:connection>/resend/", views.resend, name="resend"),
]
