"""The settings of a webhook connection: the receiver's address and what it is sent."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from integrations.core.http import OutboundRefused, destination_check
from tenants.accounts import kinds
from tenants.events.outbox import Type

# The events a receiver may subscribe to (a reset request carries nothing a receiver needs).
EVENT_TYPES = (
    Type.RECORD_CREATED,
    Type.RECORD_UPDATED,
    Type.RECORD_DELETED,
    Type.RECORD_MERGED,
    Type.DEAL_STAGE_CHANGED,
    Type.DEAL_WON,
    Type.DEAL_LOST,
    Type.ACTIVITY_DONE,
    Type.LEAD_CONVERTED,
    Type.USER_INVITED,
    Type.USER_ACTIVATED,
    Type.USER_DEACTIVATED,
    Type.USER_ROLE_CHANGED,
)
# Kinds of what happened besides the CRM's records.
PEOPLE_KINDS = (("user", _("people")), ("invitation", _("invitations")))


def kind_choices() -> list[tuple[str, Any]]:
    return [(k.key, k.label) for k in kinds.all_kinds()] + list(PEOPLE_KINDS)


class WebhookSettingsForm(forms.Form):
    url = forms.URLField(
        label=_("Receiver address"),
        max_length=2000,
        assume_scheme="https",
        help_text=_("Kontor sends each event there as a signed POST."),
    )
    types = forms.MultipleChoiceField(
        label=_("Events"), choices=[(t, t) for t in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )
    kinds = forms.MultipleChoiceField(
        label=_("Kinds of record"),
        required=False,
        choices=kind_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: of every kind."),
    )

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"]).strip()
        if settings.PRODUCTION and not url.startswith("https://"):
            raise forms.ValidationError(_("Use an https address."))
        try:
            destination_check(url)
        except OutboundRefused as exc:
            raise forms.ValidationError(_("Kontor does not send there: %(reason)s.") % {"reason": exc}) from exc
        return url
