"""The working calendar's settings form: parses what a person typed (dates one per line, in ISO or their
language's format) and leaves every rule to `calendar.calendar_update`."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm.processes.calendar import MAX_DATES, too_many_dates
from tenants.locale import time_zone_choices

# Reported bad lines per field: the rest are summed up in one more message.
SHOWN_LINE_ERRORS = 10
# Lines read at most: more cannot be valid (MAX_DATES), and nothing past them is parsed.
MAX_LINES = MAX_DATES * 2


class _DateLines(forms.CharField):
    """Dates, one per line; blank lines skipped; each bad line reported with its number."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 24, "spellcheck": "false"})

    def to_python(self, value: Any) -> Any:
        text = str(super().to_python(value) or "")
        # Checked before the lines are read: a bad line is quoted back in its error.
        ProhibitNullCharactersValidator()(text)
        lines = text.splitlines()
        if len([line for line in lines if line.strip()]) > MAX_LINES:
            raise too_many_dates()
        parse = forms.DateField()
        dates: list[datetime.date] = []
        errors: list[str] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                dates.append(cast(datetime.date, parse.to_python(line.strip())))
            except forms.ValidationError:
                errors.append(
                    _("Line %(line)s: “%(value)s” is not a date.") % {"line": number, "value": line.strip()[:40]}
                )
        if errors:
            shown = errors[:SHOWN_LINE_ERRORS]
            if len(errors) > SHOWN_LINE_ERRORS:
                more = len(errors) - SHOWN_LINE_ERRORS
                shown.append(
                    ngettext("%(count)s more line is not a date.", "%(count)s more lines are not dates.", more)
                    % {"count": more}
                )
            raise forms.ValidationError(shown)
        return dates


class WorkCalendarForm(forms.Form):
    work_days = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Working days"),
        choices=[(str(number), name) for number, name in WEEKDAYS.items()],
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    day_start = forms.TimeField(
        label=gettext_lazy("Working day starts"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    day_end = forms.TimeField(
        label=gettext_lazy("Working day ends"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"), required=False)
    holidays = _DateLines(
        label=gettext_lazy("Holidays"),
        required=False,
        help_text=gettext_lazy("One date per line. Days off even when they fall on a working day."),
    )
    extra_work_days = _DateLines(
        label=gettext_lazy("Extra working days"),
        required=False,
        help_text=gettext_lazy("One date per line. Days off (a weekend) that are worked, such as a moved working day."),
    )

    def __init__(self, *args: Any, workspace_time_zone: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = _("Workspace default (%(value)s)") % {"value": workspace_time_zone}
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = [("", default), *time_zone_choices()]
