"""Form fields for numbers and amounts typed in the reader's language (see crm.core.formats.parse_decimal).

Every money or number input of the web forms uses `LocalizedDecimalField`: "1 500 000,50" and "1,500,000.50"
are both read as 1500000.50, an ambiguous "1,500" is refused with a message, and the value is shown back in the
reader's locale ("1 500 000,50" in Russian and French, "1,500,000.50" in English).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from crm.core import formats


class LocalizedDecimalField(forms.DecimalField):
    def __init__(self, *, money: bool = False, **kwargs: Any) -> None:
        self.money = money
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Decimal(str(value))
        return formats.parse_decimal(str(value))

    def prepare_value(self, value: Any) -> Any:
        # Only values (initial data); what the person typed is shown back exactly as typed.
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            return formats.input_number(value, decimals=2 if self.money else None)
        return value


class LocalizedIntegerField(LocalizedDecimalField):
    """A whole number typed in the reader's locale ("1 200", "1,200" in English); "12,5" is refused."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("decimal_places", 0)
        kwargs.setdefault("max_digits", 12)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:
        number = super().clean(value)
        return None if number is None else int(number)
