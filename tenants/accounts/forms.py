from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _

from tenants.accounts.models import User
from tenants.accounts.services import password_reset_request
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
    """Asks for a reset link. Nothing is mailed from the request: the request is recorded (one event per active
    account with that email) and the mail goes out after commit, in the account's language."""

    def save(  # the template and mail arguments are unused: the consumer renders the mail
        self,
        domain_override: str | None = None,
        subject_template_name: str = "",
        email_template_name: str = "",
        use_https: bool = False,
        token_generator: Any = None,
        from_email: str | None = None,
        request: Any = None,
        html_email_template_name: str | None = None,
        extra_email_context: dict[str, str] | None = None,
    ) -> None:
        domain = domain_override or (request.get_host() if request is not None else "")
        for user in self.get_users(self.cleaned_data["email"]):
            password_reset_request(user=cast(User, user), domain=domain, use_https=use_https)
