from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import Price
from billing.selectors import prices_offered


class _PriceChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Price) -> str:
        return f"{obj.unit_amount} {obj.currency} / {obj.get_interval_display()}"


class SubscribeForm(forms.Form):
    price = _PriceChoice(label=_("Price per user"), queryset=Price.objects.none(), empty_label=None)
    priority_support = forms.BooleanField(label=_("Priority support"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["price"].queryset = prices_offered()  # type: ignore[attr-defined]
