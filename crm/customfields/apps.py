from django.apps import AppConfig


class CustomfieldsConfig(AppConfig):
    name = "crm.customfields"
    label = "customfields"
    default_auto_field = "django.db.models.BigAutoField"
