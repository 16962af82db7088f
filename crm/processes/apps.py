from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "crm.processes"
    label = "processes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.processes import hooks

        hooks.connect()
