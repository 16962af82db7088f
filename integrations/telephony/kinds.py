"""The two kinds of telephony connection, registered with the integrations core and, for the cards' phone
numbers, with the CRM's phone actions."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from integrations.core import registry
from integrations.telephony.forms import AsteriskSettingsForm, ZadarmaSettingsForm

ASTERISK = "telephony-asterisk"
ZADARMA = "telephony-zadarma"
KINDS = (ASTERISK, ZADARMA)
CALL_OPERATION = "telephony.call"


def register() -> None:
    from crm.web.phone_actions import phone_action_register
    from integrations.telephony import services, views

    pages = (registry.Page(label=_("Calls"), url_name="telephony:calls"),)
    registry.kind_register(
        registry.ConnectionKind(
            key=ASTERISK,
            label=_("Asterisk (AMI)"),
            description=_("Calls of an Asterisk PBX, read over its manager interface; click-to-call."),
            settings_form=AsteriskSettingsForm,
            secret_fields=("secret",),
            pages=pages,
            order=20,
        )
    )
    registry.kind_register(
        registry.ConnectionKind(
            key=ZADARMA,
            label=_("Zadarma"),
            description=_("Calls of a Zadarma cloud PBX, from its notifications; click-to-call."),
            settings_form=ZadarmaSettingsForm,
            secret_fields=("api_key", "api_secret"),
            inbound=True,
            inbound_url_name="telephony_calls:zadarma",
            pages=pages,
            order=21,
        )
    )
    registry.retry_register(CALL_OPERATION, services.call_log_retry)
    phone_action_register("telephony.call", views.call_button)
