from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackupsConfig(AppConfig):
    name = "infra.backups"
    label = "backups"
    verbose_name = _("Backups")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery's autodiscovery imports only `tasks` modules: the export's tasks are registered here.
        from infra.backups import export_tasks  # noqa: F401
