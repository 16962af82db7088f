from django.apps import AppConfig


class WebConfig(AppConfig):
    """The CRM's pages (templates + htmx): navigation, lists, the client card, the board, the calendar."""

    name = "crm.web"
    label = "crm_web"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from crm.web.fragments import watch_connection

        # Cached workspace configuration is invalidated by every write to its tables (crm.web.fragments).
        connection_created.connect(watch_connection, dispatch_uid="crm.web.fragments")
