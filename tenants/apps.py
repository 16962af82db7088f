from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import connections, generations, routing

        # The host -> tenant cache follows every Tenant and Domain write; connections are recycled per request;
        # the cached entries' database identity is read again on each new connection.
        routing.signals_connect()
        connections.signals_connect()
        generations.signals_connect()
