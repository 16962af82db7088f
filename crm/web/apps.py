from django.apps import AppConfig


class WebConfig(AppConfig):
    """The CRM's pages (templates + htmx): navigation, lists, the client card, the board, the calendar."""

    name = "crm.web"
    label = "crm_web"
