from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "crm.files"
    label = "files"
    default_auto_field = "django.db.models.BigAutoField"
