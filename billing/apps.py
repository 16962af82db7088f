from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing import consumers
        from tenants import initialisers

        # A new workspace starts its trial in the signup's transaction; its seats follow its people's events.
        initialisers.register("billing.trial", consumers.trial_open)
        consumers.register()
