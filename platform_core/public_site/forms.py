from __future__ import annotations

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from tenants.locale import currency_choices, language_choices


class FindWorkspaceForm(forms.Form):
    subdomain = forms.CharField(
        label=_("Workspace address"),
        max_length=63,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false", "autofocus": True}),
    )


class SignupForm(forms.Form):
    """Parses the signup page. The rules (address, password, email) live in tenants.services."""

    company_name = forms.CharField(label=_("Company name"), max_length=200)
    subdomain = forms.CharField(
        label=_("Workspace address"),
        max_length=63,
        help_text=_("3-30 lowercase letters, digits or hyphens."),
        widget=forms.TextInput(
            attrs={
                "autocapitalize": "none",
                "spellcheck": "false",
                "hx-get": reverse_lazy("public_site:subdomain_check"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#subdomain-check",
            }
        ),
    )
    owner_name = forms.CharField(label=_("Your name"), max_length=150)
    owner_email = forms.EmailField(label=_("Work email"))
    owner_password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=language_choices,
        required=False,
        help_text=_("Everyone can choose their own later."),
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices, required=False)
    # Filled in by the browser (static/platform_core/time-zone.js); the language's default when it is not.
    time_zone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-time-zone": ""}))
