"""What the record views share: the acting user, service errors shown on forms, htmx detection."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm.web.records.forms import CF_PREFIX
from tenants.accounts.models import User


def actor_of(request: HttpRequest) -> User:
    # Every record view is behind login_required, so the user is a real member.
    return cast(User, request.user)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def show_errors(
    form: forms.Form,
    exc: ValidationError,
    *,
    renames: dict[str, str] | None = None,
    formset: forms.BaseFormSet | None = None,
    formset_rows: Sequence[int] = (),
) -> None:
    """Attach a service's errors to the form fields they name, so the user sees them next to what they typed.

    `custom_fields.<key>` goes to the custom field's input, `line_items.<n>.<field>` to the n-th line item sent
    (`formset_rows[n]` is its form's index), anything unknown to the top of the form.
    """
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, messages in exc.message_dict.items():
        name = (renames or {}).get(key, key)
        if name.startswith("custom_fields."):
            name = CF_PREFIX + name.removeprefix("custom_fields.")
        if name.startswith("line_items.") and formset is not None:
            _, index, field_name = [*name.split(".", 2), "", ""][:3]
            row = formset_rows[int(index)] if index.isdigit() and int(index) < len(formset_rows) else None
            if row is not None:
                row_form = formset.forms[row]
                if field_name in row_form.fields:
                    row_form.add_error(field_name, messages)
                else:
                    row_form.add_error(None, messages)
                continue
        if name in form.fields and name not in form.errors:
            form.add_error(name, messages)
        elif name in form.fields:
            form.errors[name].extend(messages)
        else:
            label = _("Error") if name in ("__all__", "") else name.replace("_", " ")
            form.add_error(None, [f"{label}: {m}" if name != "__all__" else m for m in messages])


def stale_error(form: forms.Form) -> None:
    form.add_error(
        None, _("Someone changed this record while you were editing it. Reload the page to see their changes.")
    )


def parse_before(value: str | None) -> datetime.datetime | None:
    """The timeline cursor from the query string; a bad one reads as "from the newest"."""
    if not value:
        return None
    try:
        before = parse_datetime(value)
        if before is None:
            return None
        if before.tzinfo is None:
            before = timezone.make_aware(before)
        # In UTC, as the database compares (an offset beyond ±15:59 it refuses; Python allows up to ±23:59).
        return before.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        return None
