from django.apps import AppConfig


class IntegrationsCoreConfig(AppConfig):
    """Connections of a workspace to other systems, their sealed credentials, the exchange log, the one HTTP
    client for outbound calls and the checks every inbound call passes. The kinds (website forms, telephony,
    accounting, mail, webhooks) are apps of their own that register here."""

    name = "integrations.core"
    label = "integrations"
    default_auto_field = "django.db.models.BigAutoField"
