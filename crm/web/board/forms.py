"""Input parsing for the board, calendar and settings pages. Forms only parse; the services decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.core.types import CORE_RECORD_TYPES
from crm.customfields.models import CustomField
from crm.deals.models import Pipeline, Stage
from crm.web.fields import LocalizedIntegerField


class MoveForm(forms.Form):
    deal = forms.IntegerField(min_value=1)
    stage = forms.IntegerField(min_value=1)
    lost_reason = forms.CharField(required=False, max_length=255)
    version = forms.IntegerField(required=False, min_value=1)
    owner = forms.CharField(required=False, max_length=20)


class PipelineCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Pipeline.Kind.choices)


class PipelineEditForm(PipelineCreateForm):
    is_active = forms.BooleanField(label=_("Active"), required=False)


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    probability = LocalizedIntegerField(label=_("Win probability, %"), min_value=0, max_value=100, initial=0)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Stage.Outcome.choices, initial=Stage.Outcome.OPEN)


class MoveDirectionForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")])


class StageDeleteForm(forms.Form):
    move_deals_to = forms.TypedChoiceField(label=_("Move its deals to"), coerce=int, required=False)

    def __init__(self, *args: object, targets: list[Stage], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["move_deals_to"].choices = [("", "---------"), *((s.pk, s.name) for s in targets)]  # type: ignore[attr-defined]


def _split_choices(raw: str) -> list[str]:
    return [line.strip() for line in raw.splitlines() if line.strip()]


class CustomFieldEditForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100)
    choices = forms.CharField(
        label=_("Choices, one per line"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    is_required = forms.BooleanField(label=_("Required"), required=False)
    show_in_list = forms.BooleanField(label=_("Show in lists"), required=False)

    def clean_choices(self) -> list[str]:
        return _split_choices(self.cleaned_data.get("choices") or "")


class CustomFieldCreateForm(CustomFieldEditForm):
    record_type = forms.ChoiceField(label=_("Record"), choices=[(t.value, t.label) for t in CORE_RECORD_TYPES])
    field_type = forms.ChoiceField(label=_("Type"), choices=CustomField.Type.choices)

    field_order = ["record_type", "label", "field_type", "choices", "is_required", "show_in_list"]


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's field-keyed errors on the form; keys the form lacks become form-wide errors."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)
