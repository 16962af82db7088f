"""The form builder's forms: the form's settings and one row per field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.webforms.models import FormField, WebForm
from integrations.webforms.services import MAX_DUE_MINUTES
from integrations.webforms.targets import targets
from tenants.accounts.models import Team


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class WebFormSettingsForm(forms.Form):
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.all(),
        required=False,
        help_text=_("Leads are given to its active people in turn; none: to the person who made the connection."),
    )
    task_subject = forms.CharField(
        label=_("Task subject"), max_length=255, required=False, help_text=_("Blank: “Website form: <name>”.")
    )
    task_due_minutes = forms.IntegerField(
        label=_("Task due in, minutes"), min_value=0, max_value=MAX_DUE_MINUTES, initial=60
    )
    allowed_origins = forms.CharField(
        label=_("Allowed websites"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, like https://example.com. Blank: any website may post."),
    )
    success_message = forms.CharField(
        label=_("Thank-you message"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    redirect_url = forms.URLField(
        label=_("Thank-you page"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("The visitor goes there after sending the form; blank: a page with the message above."),
    )
    honeypot = forms.SlugField(
        label=_("Spam trap field"),
        max_length=50,
        initial="website",
        help_text=_("A hidden input people leave empty; a submission with it filled in is dropped."),
    )
    submit_label = forms.CharField(label=_("Button"), max_length=100, required=False)
    lead_source = forms.CharField(label=_("Source of the leads"), max_length=100, required=False)

    @staticmethod
    def initial_of(form: WebForm | None) -> dict[str, Any]:
        if form is None:
            return {}
        return {
            "team": form.team_id,
            "task_subject": form.task_subject,
            "task_due_minutes": form.task_due_minutes,
            "allowed_origins": "\n".join(form.allowed_origins),
            "success_message": form.success_message,
            "redirect_url": form.redirect_url,
            "honeypot": form.honeypot,
            "submit_label": form.submit_label,
            "lead_source": form.lead_source,
        }

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["allowed_origins"] = _lines(data.get("allowed_origins") or "")
        return data


class FieldRowForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    key = forms.SlugField(label=_("Key"), max_length=50, required=False)
    type = forms.ChoiceField(label=_("Type"), choices=FormField.Type.choices, initial=FormField.Type.TEXT)
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = forms.CharField(label=_("Choices"), required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 16}))
    target = forms.ChoiceField(label=_("Goes to"), required=False)
    position = forms.IntegerField(label=_("Order"), min_value=0, max_value=10_000, required=False)

    def __init__(self, *args: Any, target_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        target = self.fields["target"]
        assert isinstance(target, forms.ChoiceField)
        target.choices = [("", _("Task and message only")), *target_choices]

    def row(self) -> dict[str, Any] | None:
        """The field this row describes; None for a row left empty or marked for removal."""
        data = self.cleaned_data
        if data.get("DELETE") or not (data.get("label") or data.get("key")):
            return None
        return {
            "label": data.get("label") or "",
            "key": data.get("key") or "",
            "type": data.get("type") or FormField.Type.TEXT,
            "required": bool(data.get("required")),
            "choices": _lines(data.get("choices") or ""),
            "target": data.get("target") or "",
            "position": data.get("position"),
        }


FieldRowFormSet = forms.formset_factory(FieldRowForm, extra=2, can_delete=True, max_num=50, validate_max=True)


def field_initial(form: WebForm | None) -> list[dict[str, Any]]:
    if form is None:
        return []
    return [
        {
            "label": f.label,
            "key": f.key,
            "type": f.type,
            "required": f.required,
            "choices": "\n".join(f.choices),
            "target": f.target,
            "position": f.position,
        }
        for f in form.fields.all()
    ]


def target_choices() -> list[tuple[str, str]]:
    return [(t.key, t.label) for t in targets()]
