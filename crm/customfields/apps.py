from django.apps import AppConfig


class CustomfieldsConfig(AppConfig):
    name = "crm.customfields"
    label = "customfields"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.customfields.selectors import custom_field_hideable
        from tenants.accounts import kinds

        kinds.register_field_source(custom_field_hideable)
