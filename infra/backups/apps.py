from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackupsConfig(AppConfig):
    name = "infra.backups"
    label = "backups"
    verbose_name = _("Backups")
    default_auto_field = "django.db.models.BigAutoField"
