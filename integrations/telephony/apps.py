from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    """Calls from an Asterisk PBX (over AMI) and from Zadarma's cloud PBX (its HTTP notifications), logged on the
    cards as call activities; click-to-call beside a card's phone numbers."""

    name = "integrations.telephony"
    label = "telephony"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations.telephony import kinds

        kinds.register()
