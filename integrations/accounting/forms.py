"""The settings of a 1C connection: the login and password 1C signs in with (sealed, never shown again), the
CommerceML version and the encoding of what Kontor sends."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

VERSIONS = (("2.05", "2.05"), ("2.08", "2.08"), ("2.10", "2.10"))
ENCODINGS = (("utf-8", "UTF-8"), ("windows-1251", "Windows-1251"))


class AccountingSettingsForm(forms.Form):
    login = forms.CharField(label=_("Login for 1C"), max_length=100)
    password = forms.CharField(label=_("Password for 1C"), max_length=200, min_length=8)
    version = forms.ChoiceField(label=_("CommerceML version"), choices=VERSIONS, initial="2.05")
    encoding = forms.ChoiceField(label=_("Encoding of what Kontor sends"), choices=ENCODINGS, initial="utf-8")

    def clean_login(self) -> str:
        login = str(self.cleaned_data["login"])
        if ":" in login or "\x00" in login:
            raise forms.ValidationError(_("A login cannot contain a colon."))
        return login
