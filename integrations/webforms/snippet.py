"""The form as plain HTML: the code for the website (no script, nothing from elsewhere) and the page Kontor
answers a form post with errors, both from one template; and an example JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from integrations.webforms.cleaning import max_length_of
from integrations.webforms.models import FormField, WebForm
from integrations.webforms.targets import model_targets


@dataclass(frozen=True)
class Row:
    field: FormField
    input_type: str
    max_length: int
    value: str
    errors: list[str]


def rows_of(
    form: WebForm, values: Mapping[str, Any] | None = None, errors: Mapping[str, list[str]] | None = None
) -> list[Row]:
    known = {t.key: t for t in model_targets()}
    input_types = {FormField.Type.EMAIL: "email", FormField.Type.PHONE: "tel"}
    return [
        Row(
            field=f,
            input_type=input_types.get(FormField.Type(f.type), "text"),
            max_length=max_length_of(f, known),
            value=str((values or {}).get(f.key) or ""),
            errors=list((errors or {}).get(f.key) or []),
        )
        for f in form.fields.all()
    ]


def form_context(form: WebForm, action: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "rows": rows_of(form, kwargs.get("values"), kwargs.get("errors")),
        "action": action,
        "honeypot": form.honeypot,
        "submit_label": form.submit_label or _("Send"),
        "form_id": f"kontor-form-{form.connection_id}",
    }


def snippet_html(form: WebForm, url: str) -> str:
    """The code to paste into the website (its text: the page shows it escaped)."""
    return render_to_string("webforms/_form.html", form_context(form, url)).strip() + "\n"


_EXAMPLES = {
    FormField.Type.EMAIL: "anna@example.com",
    FormField.Type.PHONE: "+7 916 123-45-67",
    FormField.Type.TEXTAREA: "…",
    FormField.Type.TEXT: "…",
}


_TARGET_EXAMPLES = {
    "lead.contact_name": "Anna Smirnova",
    "contact.first_name": "Anna",
    "contact.last_name": "Smirnova",
    "lead.company_name": "Mebel Plus",
}


def example_body(form: WebForm) -> dict[str, str]:
    body = {}
    for f in form.fields.all():
        if f.target in _TARGET_EXAMPLES:
            body[f.key] = _TARGET_EXAMPLES[f.target]
        elif f.type == FormField.Type.SELECT:
            body[f.key] = f.choices[0] if f.choices else ""
        else:
            body[f.key] = _EXAMPLES.get(FormField.Type(f.type), "…")
    return body
