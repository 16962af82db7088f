"""The connection form: a name and the kind's own settings form; credentials are write-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _

from integrations.core.models import Connection, Exchange
from integrations.core.registry import ConnectionKind


class ConnectionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)

    def __init__(self, *args: Any, kind: ConnectionKind, connection: Connection | None = None, **kwargs: Any) -> None:
        # The page passes None as the data of a GET: the stored settings are then what the form shows.
        if connection is not None and (not args or args[0] is None) and "initial" not in kwargs:
            kwargs["initial"] = {"name": connection.name, **connection.settings}
        super().__init__(*args, **kwargs)
        self.kind, self.connection = kind, connection
        data = args[0] if args else None
        self.settings_form = kind.settings_form(data, initial=kwargs.get("initial")) if kind.settings_form else None
        for name in kind.secret_fields:
            if self.settings_form is not None and name in self.settings_form.fields:
                field = self.settings_form.fields[name]
                field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
                if connection is not None:
                    # Blank keeps what is stored: a credential is never shown, so it is never asked again.
                    field.required = False
                    field.help_text = (
                        _("Stored; leave blank to keep it.") if name in connection.secret_names else _("Not set.")
                    )

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return (self.settings_form.is_valid() if self.settings_form is not None else True) and valid

    def settings_values(self) -> dict[str, Any]:
        if self.settings_form is None:
            return {}
        data = self.settings_form.cleaned_data
        return {k: _stored(v) for k, v in data.items() if k not in self.kind.secret_fields}

    def secret_values(self) -> dict[str, str]:
        if self.settings_form is None:
            return {}
        data = self.settings_form.cleaned_data
        return {k: str(data[k]) for k in self.kind.secret_fields if data.get(k)}

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for field, messages in errors.items():
            target = (
                self.settings_form if self.settings_form is not None and field in self.settings_form.fields else self
            )
            for message in messages:
                target.add_error(field if field in target.fields else None, message)


def _stored(value: Any) -> Any:
    """A form value as the connection's JSON settings keep it: a record by its id, several by theirs."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, QuerySet | list | tuple):
        return [_stored(v) for v in value]
    return value


class LogFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *Exchange.Status.choices])
