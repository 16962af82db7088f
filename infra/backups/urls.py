"""The Backups page (mounted at /settings/backups/)."""

from django.urls import URLPattern, path

from infra.backups import views

app_name = "backups"
urlpatterns: list[URLPattern] = [
    path("", views.page, name="page"),
    path("export/", views.export_create, name="export"),
    path("export/status/", views.export_status, name="export_status"),
    path("export/<str:export_id>/download/<str:token>/", views.export_download, name="export_download"),
]
