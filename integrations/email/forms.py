"""The mailbox's settings (the core's connection form shows them), the template form and the compose form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from integrations.core.models import Connection
from integrations.email import merge
from integrations.email.models import EmailTemplate
from integrations.email.network import SECURITY_NONE, SECURITY_SSL, SECURITY_STARTTLS
from tenants.accounts.models import User

SECURITY_CHOICES = [
    (SECURITY_SSL, _("SSL/TLS")),
    (SECURITY_STARTTLS, _("STARTTLS")),
    (SECURITY_NONE, _("None (not encrypted)")),
]


def _people() -> Any:
    return User.objects.filter(is_active=True, kind=User.Kind.PERSON).order_by("full_name", "email")


class MailboxSettingsForm(forms.Form):
    address = forms.EmailField(label=_("Email address"), max_length=254)
    shared = forms.BooleanField(
        label=_("Shared mailbox"), required=False, help_text=_("Everyone may send from it; else only its owner.")
    )
    owner = forms.ModelChoiceField(label=_("Owner"), required=False, queryset=User.objects.none())
    imap_host = forms.CharField(label=_("IMAP server"), max_length=253)
    imap_port = forms.IntegerField(label=_("IMAP port"), min_value=1, max_value=65535, initial=993)
    imap_security = forms.ChoiceField(label=_("IMAP encryption"), choices=SECURITY_CHOICES, initial=SECURITY_SSL)
    imap_username = forms.CharField(label=_("IMAP user name"), max_length=254)
    imap_password = forms.CharField(label=_("IMAP password"), max_length=1000)
    sent_folder = forms.CharField(label=_("Sent folder"), max_length=255, initial="Sent")
    smtp_host = forms.CharField(label=_("SMTP server"), max_length=253)
    smtp_port = forms.IntegerField(label=_("SMTP port"), min_value=1, max_value=65535, initial=587)
    smtp_security = forms.ChoiceField(label=_("SMTP encryption"), choices=SECURITY_CHOICES, initial=SECURITY_STARTTLS)
    smtp_username = forms.CharField(label=_("SMTP user name"), max_length=254, required=False)
    smtp_password = forms.CharField(label=_("SMTP password"), max_length=1000, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]

    def clean_address(self) -> str:
        return str(self.cleaned_data["address"]).strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("shared") and not data.get("owner") and "owner" not in self.errors:
            self.add_error("owner", _("Choose the owner of a personal mailbox, or make it shared."))
        if data.get("shared"):
            data["owner"] = None
        for name in ("imap_host", "smtp_host", "imap_username", "smtp_username", "sent_folder"):
            value = str(data.get(name) or "")
            if any(c in value for c in "\x00\r\n"):
                self.add_error(name, _("Enter a valid value."))
        return data


class TemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ("name", "subject", "body")
        widgets = {"body": forms.Textarea(attrs={"rows": 10})}

    def clean_subject(self) -> str:
        value = str(self.cleaned_data["subject"])
        merge.template_check(value)
        return value

    def clean_body(self) -> str:
        value = str(self.cleaned_data["body"])
        merge.template_check(value)
        return value


class ComposeForm(forms.Form):
    mailbox = forms.TypedChoiceField(label=_("From"), coerce=int)
    to = forms.ChoiceField(label=_("To"))
    template = forms.TypedChoiceField(label=_("Template"), required=False, coerce=int, empty_value=None)
    subject = forms.CharField(label=_("Subject"), max_length=255, required=False)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 12}), required=False)

    def __init__(
        self,
        *args: Any,
        mailboxes: list[Connection],
        recipients: list[str],
        templates: list[EmailTemplate],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mailbox"].choices = [(m.pk, f"{m.name} <{m.settings.get('address', '')}>") for m in mailboxes]  # type: ignore[attr-defined]
        self.fields["to"].choices = [(r, r) for r in recipients]  # type: ignore[attr-defined]
        self.fields["template"].choices = [("", "—"), *((t.pk, t.name) for t in templates)]  # type: ignore[attr-defined]
        self.templates = {t.pk: t for t in templates}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = self.templates.get(data.get("template") or 0)
        if chosen is not None:
            data["subject"] = data.get("subject") or chosen.subject
            data["body"] = data.get("body") or chosen.body
        for name in ("subject", "body"):
            try:
                merge.template_check(str(data.get(name) or ""))
            except ValidationError as exc:
                self.add_error(name, exc)
        if not data.get("subject") and "subject" not in self.errors:
            self.add_error("subject", _("Write a subject or choose a template."))
        if not data.get("body") and "body" not in self.errors:
            self.add_error("body", _("Write the text or choose a template."))
        return data
