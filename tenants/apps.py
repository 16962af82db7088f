from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import connections, routing

        # The host -> tenant cache follows every Tenant and Domain write; connections are recycled per request.
        routing.signals_connect()
        connections.signals_connect()
