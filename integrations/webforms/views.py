"""The website form's pages (settings → integrations → a "webforms" connection), for people with the right to
manage integrations: the form builder, and the code to put on the website."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from integrations.core import registry
from integrations.core import selectors as core_selectors
from integrations.core.views import inbound_url, manager_required
from integrations.webforms import selectors, services
from integrations.webforms.forms import FieldRowFormSet, WebFormSettingsForm, field_initial, target_choices
from integrations.webforms.snippet import example_body, snippet_html
from tenants.accounts.models import User

# What the code shows where the inbound address's secret goes (the secret is shown once, when it is made).
TOKEN_PLACEHOLDER = "SECRET"


def _add_errors(
    errors: dict[str, list[str]], settings_form: forms.Form, formset: Any, rows: list[int], general: forms.Form
) -> None:
    for name, problems in errors.items():
        parts = name.split(".")
        if parts[0] == "fields" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            row = formset.forms[rows[int(parts[1])]]
            for problem in problems:
                row.add_error(parts[2] if parts[2] in row.fields else None, problem)
        elif name in settings_form.fields:
            for problem in problems:
                settings_form.add_error(name, problem)
        else:
            for problem in problems:
                general.add_error(None, problem)


@manager_required
@require_http_methods(["GET", "POST"])
def builder(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection, kind=services.KIND)
    form = selectors.webform_of(conn)
    data = request.POST if request.method == "POST" else None
    settings_form = WebFormSettingsForm(data, initial=WebFormSettingsForm.initial_of(form))
    formset = FieldRowFormSet(
        data, prefix="fields", initial=field_initial(form), form_kwargs={"target_choices": target_choices()}
    )
    general = forms.Form({})  # errors about the form as a whole
    general.is_valid()
    if request.method == "POST" and settings_form.is_valid() and formset.is_valid():
        rows, fields = [], []
        for index, row_form in enumerate(formset.forms):
            row = row_form.row() if hasattr(row_form, "cleaned_data") else None
            if row is not None:
                if row["position"] is None:
                    row["position"] = index
                rows.append(index)
                fields.append(row)
        try:
            services.webform_save(
                actor=cast(User, request.user), connection=conn, settings=settings_form.values(), fields=fields
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            _add_errors(errors, settings_form, formset, rows, general)
        else:
            messages.success(request, _("The form is saved."))
            return redirect("webforms:builder", connection=conn.pk)
    context = {"connection": conn, "settings_form": settings_form, "formset": formset, "general": general}
    return render(request, "webforms/builder.html", context, status=422 if request.method == "POST" else 200)


def _curl(url: str, body: object) -> str:
    """The JSON example as a shell command (a command, not a text to translate)."""
    quoted = json.dumps(body, ensure_ascii=False).replace("'", "'\\''")
    return f"curl -X POST '{url}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{quoted}'"


@manager_required
@require_GET
def snippet(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection, kind=services.KIND)
    form = selectors.webform_of(conn)
    kind = registry.kind_get(services.KIND)
    assert kind is not None
    url = inbound_url(request, kind, TOKEN_PLACEHOLDER)
    context = {
        "connection": conn,
        "form": form,
        "url": url,
        "placeholder": TOKEN_PLACEHOLDER,
        "code": snippet_html(form, url) if form is not None else "",
        "curl": _curl(url, example_body(form)) if form is not None else "",
    }
    return render(request, "webforms/snippet.html", context)
