"""The settings of a telephony connection: where the PBX is, how it is signed in to, and which person answers
which internal number (extension)."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tenants.accounts.models import User

MAX_EXTENSIONS = 1000


def _people() -> Any:
    return User.objects.filter(kind=User.Kind.PERSON, is_active=True)


class ExtensionsField(forms.CharField):
    """One line per extension, "101 = person@example.com"; kept as {"101": user id}."""

    widget = forms.Textarea(attrs={"rows": 5})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            emails = dict(
                _people().filter(pk__in=[v for v in value.values() if isinstance(v, int)]).values_list("pk", "email")
            )
            return "\n".join(f"{ext} = {emails.get(pk, '?')}" for ext, pk in value.items())
        return value

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        text = super().to_python(value) or ""
        mapping: dict[str, str] = {}
        bad: list[str] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            ext, sep, email = line.partition("=")
            ext, email = ext.strip(), email.strip().lower()
            if not sep or not ext or not email or len(ext) > 32 or not ext.replace("*", "").replace("#", "").isalnum():
                bad.append(line.strip()[:60])
                continue
            mapping[ext] = email
        if bad:
            raise ValidationError(
                _("Write each line as “101 = person@example.com”: %(lines)s"), params={"lines": "; ".join(bad)}
            )
        if len(mapping) > MAX_EXTENSIONS:
            raise ValidationError(_("Too many lines."))
        people = dict(_people().filter(email__in=list(mapping.values())).values_list("email", "pk"))
        unknown = sorted({e for e in mapping.values() if e not in people})
        if unknown:
            raise ValidationError(
                _("No such person in this workspace: %(emails)s"), params={"emails": ", ".join(unknown)}
            )
        return {ext: people[email] for ext, email in mapping.items()}


def _region_choices() -> list[tuple[str, str]]:
    return [(r, r) for r in sorted(phonenumbers.SUPPORTED_REGIONS)]


class _Common(forms.Form):
    extensions = ExtensionsField(
        label=_("Extensions"),
        required=False,
        help_text=_("One per line: the internal number and the person who answers it, “101 = person@example.com”."),
    )
    region = forms.ChoiceField(
        label=_("Country of local numbers"), choices=_region_choices, initial=lambda: settings.DEFAULT_PHONE_REGION
    )
    default_owner = forms.ModelChoiceField(
        label=_("Responsible for calls from unknown numbers"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_owner"].queryset = _people()  # type: ignore[attr-defined]


class AsteriskSettingsForm(_Common):
    host = forms.CharField(label=_("AMI host"), max_length=253)
    port = forms.IntegerField(label=_("AMI port"), min_value=1, max_value=65535, initial=5038)
    username = forms.CharField(label=_("AMI user"), max_length=80)
    secret = forms.CharField(label=_("AMI password"), max_length=200)
    channel = forms.CharField(
        label=_("Channel of an extension"),
        max_length=80,
        initial="PJSIP/{extension}",
        help_text=_("How click-to-call rings the person's phone first; {extension} is their internal number."),
    )
    context = forms.CharField(label=_("Dialplan context for outgoing calls"), max_length=80, initial="from-internal")
    dial_format = forms.ChoiceField(
        label=_("Numbers dialled as"),
        choices=[("e164", "+79161234567"), ("digits", "79161234567"), ("national", "89161234567")],
        initial="e164",
    )
    wait_for_cdr = forms.BooleanField(label=_("Asterisk sends CDR events (cdr_manager)"), required=False)
    recording_url = forms.CharField(
        label=_("Recording address"),
        max_length=500,
        required=False,
        help_text=_("Optional; {linkedid} is the call's id, e.g. https://pbx.example.com/rec/{linkedid}.wav"),
    )

    def clean_channel(self) -> str:
        value: str = self.cleaned_data["channel"]
        if "{extension}" not in value:
            raise ValidationError(_("Put {extension} where the internal number goes."))
        return value

    def clean_recording_url(self) -> str:
        value: str = self.cleaned_data.get("recording_url") or ""
        if value and not value.startswith(("https://", "http://")):
            raise ValidationError(_("Enter an http or https address."))
        return value


class ZadarmaSettingsForm(_Common):
    api_key = forms.CharField(label=_("API key"), max_length=100)
    api_secret = forms.CharField(label=_("API secret"), max_length=100)
    time_zone = forms.CharField(
        label=_("Time zone of the Zadarma account"),
        max_length=64,
        required=False,
        help_text=_("Blank: the workspace's."),
    )

    def clean_time_zone(self) -> str:
        import zoneinfo

        value: str = (self.cleaned_data.get("time_zone") or "").strip()
        if value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValidationError(_("Unknown time zone.")) from None
        return value
