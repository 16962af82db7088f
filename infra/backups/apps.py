from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class BackupsConfig(AppConfig):
    name = "infra.backups"
    label = "backups"
    verbose_name = _("Backups")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        # Celery's autodiscovery imports only `tasks` modules: the export's tasks are registered here.
        from infra.backups import export_tasks  # noqa: F401

        checks.register(master_keys_check)


def master_keys_check(**_: Any) -> list[CheckMessage]:
    """BACKUP_MASTER_KEYS that cannot be read stop `check` (and so every start), not the first night's backup."""
    from infra.backups.crypto import master_keys

    try:
        master_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="backups.E001")]
    return []
