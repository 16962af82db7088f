from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from tenants.locale import currency_choices, language_choices, time_zone_choices


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        "invalid_login": _("Wrong email or password for this workspace."),
        "inactive": _("This account is inactive."),
    }


class TwoFactorCodeForm(forms.Form):
    """The second login step, and the confirmation of a new authenticator."""

    token = forms.CharField(
        label=_("Code"),
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "spellcheck": "false", "size": 12}
        ),
    )


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)

    def __init__(self, *args: Any, workspace_language: str = "", workspace_time_zone: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        names = dict(language_choices())
        default_language = _("Workspace default (%(value)s)") % {"value": names.get(workspace_language, "")}
        default_zone = _("Workspace default (%(value)s)") % {"value": workspace_time_zone}
        cast(forms.ChoiceField, self.fields["language"]).choices = [("", default_language), *language_choices()]
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = [("", default_zone), *time_zone_choices()]


class WorkspaceLocaleForm(forms.Form):
    """The workspace's defaults: language, currency and time zone."""

    language = forms.ChoiceField(
        label=_("Default language"),
        choices=language_choices,
        help_text=_("For everyone who has not chosen their own, and for invitations."),
    )
    currency = forms.ChoiceField(
        label=_("Default currency"), choices=currency_choices, help_text=_("New deals and products start in it.")
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        help_text=_("Dates and times of everyone who has not chosen their own time zone."),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class WorkspaceSecurityForm(forms.Form):
    require_two_factor = forms.BooleanField(
        label=_("Require two-factor authentication for everyone in this workspace"), required=False
    )


class LocalizedPasswordResetForm(PasswordResetForm):
    """Mails the reset link in the language of the account it is for (theirs, else the workspace's), not in
    the language of whoever asked for it."""

    def send_mail(
        self, subject_template_name: str, email_template_name: str, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        user = context.get("user")
        tenant = getattr(connection, "tenant", None)
        language = getattr(user, "language", "") or getattr(tenant, "language", "") or translation.get_language()
        with translation.override(language):
            super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)
