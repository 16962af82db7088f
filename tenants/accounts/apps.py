from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tenants.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants.accounts import consumers, identity, signals

        signals.connect()
        identity.signals_connect()
        consumers.register()
