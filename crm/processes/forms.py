"""Forms of the process editor. They parse what was typed into the draft's JSON shapes (a trigger, a step, a
condition); whether the draft as a whole is right is `spec.definition_errors`'s call, through the services, and
its errors come back onto these forms (`add_spec_errors`)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.deals.models import Pipeline, Stage
from crm.processes import editor, shipped
from tenants.accounts.models import Role, Team
from tenants.accounts.selectors import active_users

EMPTY = [("", "—")]
RECORD_TYPES = [("deal", _("Deal")), ("lead", _("Lead")), ("company", _("Company")), ("contact", _("Contact"))]
TRIGGER_TYPES = [
    ("record_created", _("A record is created")),
    ("record_updated", _("A record is changed")),
    ("stage_entered", _("A deal enters a stage")),
    ("date", _("A date is reached")),
    ("schedule", _("On a schedule")),
    ("form", _("A website form sends a lead")),
    ("call", _("A call is logged")),
    ("manual", _("Started by hand from a record")),
]
STEP_TYPES = [
    ("task", _("Task")),
    ("set_field", _("Set a field")),
    ("move_stage", _("Move the deal to a stage")),
    ("email", _("Send an email")),
    ("notify", _("Notify in the app")),
    ("wait", _("Wait")),
    ("approval", _("Approval")),
    ("branch", _("Branch on a condition")),
    ("webhook", _("Call a webhook")),
]
STEP_TYPE_LABELS = dict(STEP_TYPES)
TRIGGER_TYPE_LABELS = dict(TRIGGER_TYPES)
WITH_CONDITION = {"record_created", "record_updated", "stage_entered", "date", "form"}
WITH_RECORD_TYPE = {"record_created", "record_updated", "date", "manual"}
ASSIGN_TO = [
    ("owner", _("the record's owner")),
    ("user", _("a person")),
    ("team_head", _("the team head")),
    ("round_robin", _("round-robin in a team")),
    ("starter", _("whoever started the process")),
]
OPS = [
    ("eq", _("is")),
    ("ne", _("is not")),
    ("gt", _("is more than")),
    ("gte", _("is at least")),
    ("lt", _("is less than")),
    ("lte", _("is at most")),
    ("contains", _("contains")),
    ("not_contains", _("does not contain")),
    ("empty", _("is empty")),
    ("not_empty", _("is not empty")),
    ("in", _("is one of (comma-separated)")),
]
VALUELESS_OPS = {"empty", "not_empty"}
DEADLINE_UNITS = [("minutes", _("minutes")), ("hours", _("hours")), ("days", _("days"))]
WAIT_UNITS = [*DEADLINE_UNITS, ("months", _("months"))]
CONDITION_ROWS = 10
STEP_ID = re.compile(r"[a-z0-9_]{1,32}")
TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
MAX_AMOUNT = 100_000
MAX_TEXT = 5000


def _text(label: Any, *, required: bool = False, max_length: int = 500, rows: int = 0) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else None
    return forms.CharField(label=label, required=required, max_length=max_length, widget=widget)


def _choice(label: Any, choices: Sequence[tuple[Any, Any]], *, required: bool = True) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=list(choices), required=required)


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError(_("The text contains a character that is not allowed."))
    return value


def user_choices() -> list[tuple[str, str]]:
    return [(str(u.pk), u.get_full_name() or u.email) for u in active_users()]


def team_choices() -> list[tuple[str, str]]:
    return [(str(t.pk), t.name) for t in Team.objects.order_by("name", "id")]


def role_choices() -> list[tuple[str, str]]:
    return [(str(r.pk), r.name) for r in Role.objects.order_by("name", "id")]


def stage_choices() -> list[tuple[str, str]]:
    stages = Stage.objects.select_related("pipeline").order_by("pipeline__position", "pipeline_id", "position", "id")
    return [(str(s.pk), f"{s.pipeline.name} — {s.name}") for s in stages]


def _int_or_none(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


class _Form(forms.Form):
    """Refuses NUL characters in every text and maps the spec's errors onto fields."""

    # The spec's key of a value -> the form field that edits it.
    SPEC_FIELDS: Mapping[str, str] = {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, value in cleaned.items():
            try:
                _no_nul(value)
            except ValidationError as exc:
                self.add_error(name, exc)
        return cleaned

    def add_spec_errors(self, errors: Mapping[str, Sequence[str]], prefix: str) -> None:
        """Put errors whose key starts with `prefix` ("steps.2.", "trigger.") on the field they are about."""
        for key, messages in errors.items():
            if key != prefix.rstrip(".") and not key.startswith(prefix):
                continue
            head = key[len(prefix) :].split(".", 1)[0] if key.startswith(prefix) else ""
            name = self.SPEC_FIELDS.get(head, head)
            for message in messages:
                self.add_error(name if name in self.fields else None, str(message))


class NewDefinitionForm(_Form):
    template = _choice(_("Start from"), [], required=False)
    name = _text(_("Name"), max_length=150)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["template"]).choices = [
            ("", _("A blank process")),
            *[(t.key, t.name) for t in shipped.TEMPLATES],
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("template") and not (cleaned.get("name") or "").strip() and "name" not in self.errors:
            self.add_error("name", _("Name the process, or start from a template."))
        return cleaned


class DefinitionForm(_Form):
    name = _text(_("Name"), required=True, max_length=150)
    description = _text(_("Description"), max_length=2000, rows=3)


class ConditionForm(_Form):
    """A condition as up to CONDITION_ROWS rows (field, comparison, value) combined by "all" or "any"."""

    join = _choice(_("Rows must match"), [("all", _("all of them")), ("any", _("any of them"))], required=False)

    def __init__(self, data: Any = None, *, record_type: str, condition: Any = None, **kwargs: Any) -> None:
        self.original = condition
        rows, join, self.editable = self._rows_of(condition)
        initial = {"join": join}
        for index, (field, op, value) in enumerate(rows):
            initial |= {f"field_{index}": field, f"op_{index}": op, f"value_{index}": value}
        super().__init__(data, initial=initial, **kwargs)
        fields = [(f.key, f.label) for f in editor.field_choices(record_type)]
        known = {key for key, _label in fields}
        fields += [(field, field) for field, _op, _value in rows if field not in known]
        for index in range(CONDITION_ROWS):
            self.fields[f"field_{index}"] = _choice(_("Field"), EMPTY + fields, required=False)
            self.fields[f"op_{index}"] = _choice(_("Comparison"), OPS, required=False)
            self.fields[f"value_{index}"] = _text(_("Value"), max_length=500)
        self.shown = min(CONDITION_ROWS, len(rows) + 2)
        self.description = editor.condition_describe(condition, record_type) if condition else ""

    @staticmethod
    def _rows_of(condition: Any) -> tuple[list[tuple[str, str, str]], str, bool]:
        """The condition as rows, when it is one level of leaves; else no rows and not editable here."""
        if not condition:
            return [], "all", True
        join, leaves = "all", [condition]
        if isinstance(condition, dict) and len(condition) == 1 and ("all" in condition or "any" in condition):
            join = "all" if "all" in condition else "any"
            leaves = condition[join] if isinstance(condition[join], list) else []
        rows = []
        for leaf in leaves:
            if not (isinstance(leaf, dict) and {"field", "op"} <= set(leaf) and set(leaf) <= {"field", "op", "value"}):
                return [], "all", False
            value = leaf.get("value")
            text = ", ".join(str(v) for v in value) if isinstance(value, list) else "" if value is None else str(value)
            rows.append((str(leaf["field"]), str(leaf["op"]), text))
        if len(rows) > CONDITION_ROWS:
            return [], "all", False
        return rows, join, True

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [(self[f"field_{i}"], self[f"op_{i}"], self[f"value_{i}"]) for i in range(self.shown)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        leaves = []
        for index in range(CONDITION_ROWS):
            field, op = cleaned.get(f"field_{index}"), cleaned.get(f"op_{index}") or "eq"
            value = (cleaned.get(f"value_{index}") or "").strip()
            if not field:
                continue
            leaf: dict[str, Any] = {"field": field, "op": op}
            if op == "in":
                leaf["value"] = [part.strip() for part in value.split(",") if part.strip()]
            elif op not in VALUELESS_OPS:
                leaf["value"] = value
            leaves.append(leaf)
        cleaned["condition"] = self._combined(leaves, cleaned.get("join") or "all")
        return cleaned

    def _combined(self, leaves: list[dict[str, Any]], join: str) -> dict[str, Any] | None:
        if not leaves:
            # A condition the rows cannot show is kept as it is unless rows are written over it.
            return None if self.editable else self.original
        return leaves[0] if len(leaves) == 1 else {join: leaves}


# --- durations -----------------------------------------------------------------------------------------------


def _duration_fields(form: forms.Form, prefix: str, label: Any, units: Sequence[tuple[str, Any]]) -> None:
    form.fields[f"{prefix}_amount"] = forms.IntegerField(label=label, required=False, min_value=0, max_value=MAX_AMOUNT)
    form.fields[f"{prefix}_unit"] = _choice(pgettext_lazy("duration", "Unit"), units, required=False)
    form.fields[f"{prefix}_working"] = forms.BooleanField(label=_("in working time"), required=False)


def _duration_initial(prefix: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    for unit in ("minutes", "hours", "days", "months"):
        if unit in value:
            return {
                f"{prefix}_amount": value[unit],
                f"{prefix}_unit": unit,
                f"{prefix}_working": bool(value.get("working")),
            }
    return {}


def _duration(cleaned: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    amount = cleaned.get(f"{prefix}_amount")
    if amount is None:
        return None
    unit = cleaned.get(f"{prefix}_unit") or "days"
    return {unit: amount, "working": bool(cleaned.get(f"{prefix}_working"))}


# --- triggers ------------------------------------------------------------------------------------------------


class TriggerForm(_Form):
    """The fields of one kind of trigger (the kind and the record type are chosen before, in the address)."""

    SPEC_FIELDS = {"fields": "fields", "field": "field", "offset": "offset_amount", "every": "every"}

    def __init__(
        self, data: Any = None, *, kind: str, record_type: str, trigger: Mapping[str, Any], **kwargs: Any
    ) -> None:
        self.kind, self.record_type = kind, record_type
        same = trigger.get("type") == kind
        super().__init__(data, initial=self._initial(trigger) if same else {}, **kwargs)
        add = self.fields.__setitem__
        if kind == "record_updated":
            catalog = [(f.key, f.label) for f in editor.field_choices(record_type)]
            add(
                "fields",
                forms.MultipleChoiceField(
                    label=_("Any of these fields changed (none: any change)"),
                    choices=catalog,
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                ),
            )
        elif kind == "stage_entered":
            add(
                "pipeline",
                _choice(_("Pipeline"), EMPTY + [(str(p.pk), p.name) for p in Pipeline.objects.all()], required=False),
            )
            add("stage", _choice(_("Stage"), EMPTY + stage_choices(), required=False))
            add(
                "outcome",
                _choice(
                    _("Or any stage with the outcome"),
                    [("", _("any")), ("won", _("won")), ("lost", _("lost"))],
                    required=False,
                ),
            )
        elif kind == "date":
            catalog = [(f.key, f.label) for f in editor.field_choices(record_type) if f.kind in ("date", "datetime")]
            add("field", _choice(_("Date field"), catalog))
            add(
                "offset_amount",
                forms.IntegerField(
                    label=_("Offset (negative: before)"), required=False, min_value=-1200, max_value=1200
                ),
            )
            add("offset_unit", _choice(_("Unit"), [("days", _("days")), ("months", _("months"))]))
            add("at", _text(_("At (HH:MM)"), max_length=5))
        elif kind == "schedule":
            add("every", _choice(_("Every"), [("day", _("day")), ("week", _("week")), ("month", _("month"))]))
            add("at", _text(_("At (HH:MM)"), max_length=5))
            add(
                "weekday",
                forms.TypedChoiceField(
                    label=_("Weekday (weekly)"),
                    coerce=int,
                    required=False,
                    choices=EMPTY + list(enumerate(WEEKDAYS)),
                    empty_value=None,
                ),
            )
            add(
                "day",
                forms.IntegerField(label=_("Day of the month (monthly)"), required=False, min_value=1, max_value=28),
            )
        elif kind == "form":
            add("connection", _text(_("Only this website form connection (its id; empty: any)"), max_length=64))
        elif kind == "call":
            add(
                "direction",
                _choice(
                    _("Direction"),
                    [("", _("any")), ("inbound", _("inbound")), ("outbound", _("outbound"))],
                    required=False,
                ),
            )
            add(
                "missed",
                _choice(
                    _("Missed"),
                    [("", _("either")), ("yes", _("missed only")), ("no", _("answered only"))],
                    required=False,
                ),
            )

    @staticmethod
    def _initial(trigger: Mapping[str, Any]) -> dict[str, Any]:
        initial = {k: trigger.get(k) for k in ("fields", "pipeline", "stage", "outcome", "field", "at", "every")}
        initial |= {k: trigger.get(k) for k in ("weekday", "day", "connection", "direction")}
        offset = trigger.get("offset") or {}
        if isinstance(offset, dict):
            unit = "months" if "months" in offset else "days"
            initial |= {"offset_amount": offset.get(unit), "offset_unit": unit}
        missed = trigger.get("missed")
        initial["missed"] = "" if missed is None else "yes" if missed else "no"
        return {k: v for k, v in initial.items() if v is not None}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        at = cleaned.get("at")
        if "at" in self.fields and at and not TIME.fullmatch(at):
            self.add_error("at", _("Enter a time as HH:MM."))
        if self.kind == "schedule" and cleaned.get("every") == "week" and cleaned.get("weekday") is None:
            self.add_error("weekday", _("Choose the weekday."))
        if self.kind == "schedule" and cleaned.get("every") == "month" and not cleaned.get("day"):
            self.add_error("day", _("Choose the day of the month."))
        return cleaned

    def trigger(self, condition: dict[str, Any] | None) -> dict[str, Any]:
        c, kind = self.cleaned_data, self.kind
        found: dict[str, Any] = {"type": kind}
        if kind in WITH_RECORD_TYPE:
            found["record_type"] = self.record_type
        if kind == "record_updated":
            found["fields"] = list(c.get("fields") or [])
        elif kind == "stage_entered":
            found |= {"record_type": "deal", "pipeline": _int_or_none(c.get("pipeline"))}
            found |= {"stage": _int_or_none(c.get("stage")), "outcome": c.get("outcome") or None}
        elif kind == "date":
            found |= {"field": c["field"], "offset": {c.get("offset_unit") or "days": c.get("offset_amount") or 0}}
            found["at"] = c.get("at") or "09:00"
        elif kind == "schedule":
            found |= {"every": c["every"], "at": c.get("at") or "09:00"}
            if c["every"] == "week":
                found["weekday"] = c.get("weekday")
            elif c["every"] == "month":
                found["day"] = c.get("day")
        elif kind == "form":
            found["connection"] = (c.get("connection") or "").strip() or None
        elif kind == "call":
            missed = c.get("missed")
            found |= {"direction": c.get("direction") or None, "missed": None if not missed else missed == "yes"}
        if kind in WITH_CONDITION and condition:
            found["condition"] = condition
        return found


WEEKDAYS = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]


class TriggerKindForm(forms.Form):
    """The kind of trigger and the record type whose form the trigger page shows (a GET form)."""

    type = _choice(_("Starts when"), TRIGGER_TYPES)
    record_type = _choice(_("Record type"), RECORD_TYPES)


# --- steps ---------------------------------------------------------------------------------------------------


class StepForm(_Form):
    """The fields of one kind of step; `step()` gives the step's JSON (its id kept)."""

    SPEC_FIELDS = {
        "assign": "assign_to",
        "deadline": "deadline_amount",
        "escalate": "escalate_to",
        "duration": "duration_amount",
        "approvers": "approvers_to",
        "timeout": "timeout_amount",
        "else": "else_",
        "id": "name",
    }

    name = _text(_("Name shown in the diagram (optional)"), max_length=100)

    def __init__(
        self,
        data: Any = None,
        *,
        kind: str,
        record_type: str,
        step: Mapping[str, Any] | None = None,
        targets: Sequence[tuple[str, str]] = (),
        task_steps: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        self.kind, self.record_type, self.original = kind, record_type, dict(step or {})
        super().__init__(data, initial=self._initial(self.original) if step else {}, **kwargs)
        self.targets = [("end", str(_("the end"))), *targets]
        getattr(self, f"_fields_{kind}")(task_steps=task_steps)
        if kind == "email":
            self.SPEC_FIELDS = {**self.SPEC_FIELDS, "to": "email_to"}
        elif kind == "notify":
            self.SPEC_FIELDS = {**self.SPEC_FIELDS, "to": "assign_to"}

    # Fields of each kind.

    def _assign_fields(self, *, approvers: bool = False) -> None:
        choices = [*ASSIGN_TO, ("approvers", _("the approvers of the process's approvals"))] if approvers else ASSIGN_TO
        self.fields["assign_to"] = _choice(_("Who"), choices)
        self.fields["assign_user"] = _choice(_("The person"), EMPTY + user_choices(), required=False)
        self.fields["assign_team"] = _choice(
            _("In the team (empty: the owner's)"), EMPTY + team_choices(), required=False
        )

    def _fields_task(self, **_kw: Any) -> None:
        self.fields["title"] = _text(_("Task"), required=True, max_length=255)
        self.fields["body"] = _text(_("Details"), max_length=MAX_TEXT, rows=3)
        self._assign_fields()
        _duration_fields(self, "deadline", _("Deadline after the task is given (empty: none)"), DEADLINE_UNITS)
        self.fields["wait"] = forms.BooleanField(label=_("Wait until the task is done"), required=False)
        self.fields["escalate_to"] = _choice(
            _("When overdue, hand it to"),
            [("", _("nobody")), ("team_head", _("the team head")), ("user", _("a person"))],
            required=False,
        )
        self.fields["escalate_user"] = _choice(_("That person"), EMPTY + user_choices(), required=False)
        self.fields["escalate_notify"] = forms.MultipleChoiceField(
            label=_("and notify"),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            choices=[("owner", _("the owner")), ("assignee", _("the assignee")), ("team_head", _("the team head"))],
        )

    def _fields_set_field(self, **_kw: Any) -> None:
        catalog = [(f.key, f.label) for f in editor.field_choices(self.record_type)]
        current = self.original.get("field")
        if current and current not in {key for key, _label in catalog}:
            catalog.append((str(current), str(current)))
        self.fields["field"] = _choice(_("Field"), catalog)
        self.fields["value"] = _text(_("New value"), max_length=MAX_TEXT)

    def _fields_move_stage(self, **_kw: Any) -> None:
        self.fields["stage"] = _choice(_("Stage"), stage_choices())

    def _fields_email(self, **_kw: Any) -> None:
        self.fields["email_to"] = _choice(
            pgettext_lazy("email recipient", "To"),
            [("contact", _("the record's contact")), ("owner", _("the record's owner")), ("address", _("an address"))],
        )
        self.fields["address"] = forms.EmailField(label=_("Address"), required=False, max_length=254)
        self.fields["subject"] = _text(_("Subject"), required=True, max_length=255)
        self.fields["body"] = _text(
            _("Text ({record.title}, {owner.name}, {contact.name} are filled in)"),
            required=True,
            max_length=MAX_TEXT,
            rows=6,
        )

    def _fields_notify(self, **_kw: Any) -> None:
        self._assign_fields(approvers=True)
        self.fields["text"] = _text(_("Message"), required=True, max_length=500, rows=2)

    def _fields_webhook(self, **_kw: Any) -> None:
        self.fields["connection"] = _text(_("Outgoing webhook connection (its id)"), required=True, max_length=64)

    def _fields_wait(self, *, task_steps: Sequence[tuple[str, str]], **_kw: Any) -> None:
        modes = [
            ("duration", _("for a while")),
            ("until_field", _("until a date of the record")),
            ("until", _("until a date and time")),
            ("until_task", _("until a task of this process is done")),
        ]
        self.fields["mode"] = _choice(_("Wait"), modes)
        _duration_fields(self, "duration", _("How long"), WAIT_UNITS)
        dates = [(f.key, f.label) for f in editor.field_choices(self.record_type) if f.kind in ("date", "datetime")]
        self.fields["until_field"] = _choice(_("The record's date"), EMPTY + dates, required=False)
        self.fields["offset_days"] = forms.IntegerField(
            label=_("Days after it (negative: before)"), required=False, min_value=-3650, max_value=3650
        )
        self.fields["until"] = _text(_("Date and time"), max_length=16)
        self.fields["until"].widget = forms.DateTimeInput(attrs={"type": "datetime-local"})
        self.fields["until_task"] = _choice(_("The task step"), EMPTY + list(task_steps), required=False)

    def _fields_approval(self, **_kw: Any) -> None:
        self.fields["approvers_to"] = _choice(
            _("Approvers"),
            [
                ("team_head", _("the owner's team head")),
                ("users", _("these people")),
                ("role", _("everyone with a role")),
            ],
        )
        self.fields["approvers_users"] = forms.MultipleChoiceField(
            label=_("The people"), choices=user_choices(), required=False
        )
        self.fields["approvers_role"] = _choice(_("The role"), EMPTY + role_choices(), required=False)
        self.fields["mode"] = _choice(_("Approved when"), [("any", _("any one approves")), ("all", _("all approve"))])
        _duration_fields(self, "timeout", _("Timeout (empty: none)"), DEADLINE_UNITS)
        self.fields["on_reject"] = _choice(_("If rejected, go to"), self.targets)
        self.fields["on_timeout"] = _choice(_("On timeout, go to"), self.targets)
        self.fields["hold"] = forms.BooleanField(
            label=_("The deal may not change stage while it waits"), required=False
        )

    def _fields_branch(self, **_kw: Any) -> None:
        self.fields["then"] = _choice(_("If the condition holds, go to"), self.targets)
        self.fields["else_"] = _choice(_("Otherwise, go to"), self.targets)

    # Initial values from a step.

    def _initial(self, step: Mapping[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {"name": step.get("name", "")}
        for key in ("title", "body", "field", "value", "stage", "address", "subject", "text", "connection"):
            if key in step:
                initial[key] = step[key]
        for key in ("wait", "hold", "mode", "on_reject", "on_timeout", "then", "until", "until_task", "until_field"):
            if key in step:
                initial[key] = step[key]
        if "else" in step:
            initial["else_"] = step["else"]
        assign = step.get("assign") if self.kind == "task" else step.get("to") if self.kind == "notify" else None
        if isinstance(assign, dict):
            initial |= {"assign_to": assign.get("to"), "assign_user": assign.get("user")}
            initial["assign_team"] = assign.get("team")
        elif assign == "approvers":
            initial["assign_to"] = "approvers"
        if self.kind == "email":
            initial["email_to"] = step.get("to")
        initial |= _duration_initial("deadline", step.get("deadline"))
        initial |= _duration_initial("timeout", step.get("timeout"))
        escalate = step.get("escalate")
        if isinstance(escalate, dict):
            initial |= {"escalate_to": escalate.get("to"), "escalate_user": escalate.get("user")}
            initial["escalate_notify"] = escalate.get("notify") or []
        if self.kind == "wait":
            initial |= self._wait_initial(step)
        approvers = step.get("approvers")
        if isinstance(approvers, dict):
            initial |= {"approvers_to": approvers.get("to"), "approvers_role": approvers.get("role")}
            initial["approvers_users"] = [str(u) for u in approvers.get("users") or []]
        return {k: v for k, v in initial.items() if v is not None}

    @staticmethod
    def _wait_initial(step: Mapping[str, Any]) -> dict[str, Any]:
        for mode in ("duration", "until_field", "until", "until_task"):
            if mode in step:
                initial = {"mode": mode} | _duration_initial("duration", step.get("duration"))
                offset = step.get("offset")
                if isinstance(offset, dict):
                    initial["offset_days"] = offset.get("days")
                return initial
        return {}

    # Checks a person would expect at the field (the spec checks the rest).

    def clean(self) -> dict[str, Any]:
        c = super().clean()
        if c.get("assign_to") == "user" and not c.get("assign_user"):
            self.add_error("assign_user", _("Choose the person."))
        if c.get("escalate_to") == "user" and not c.get("escalate_user"):
            self.add_error("escalate_user", _("Choose the person."))
        if self.kind == "email" and c.get("email_to") == "address" and not c.get("address"):
            self.add_error("address", _("Enter the address."))
        if self.kind == "approval" and c.get("approvers_to") == "users" and not c.get("approvers_users"):
            self.add_error("approvers_users", _("Choose at least one person."))
        if self.kind == "approval" and c.get("approvers_to") == "role" and not c.get("approvers_role"):
            self.add_error("approvers_role", _("Choose the role."))
        if self.kind == "wait":
            self._clean_wait(c)
        return c

    def _clean_wait(self, c: dict[str, Any]) -> None:
        mode = c.get("mode")
        if mode == "duration" and c.get("duration_amount") is None:
            self.add_error("duration_amount", _("Enter how long."))
        elif mode == "until_field" and not c.get("until_field"):
            self.add_error("until_field", _("Choose the date field."))
        elif mode == "until_task" and not c.get("until_task"):
            self.add_error("until_task", _("Choose the task step."))
        elif mode == "until":
            try:
                datetime.datetime.strptime(c.get("until") or "", "%Y-%m-%dT%H:%M")
            except ValueError:
                self.add_error("until", _("Enter a date and time."))

    # The step's JSON.

    def step(self, *, step_id: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
        c, kind = self.cleaned_data, self.kind
        found: dict[str, Any] = {"id": step_id, "type": kind}
        if (c.get("name") or "").strip():
            found["name"] = c["name"].strip()
        found |= getattr(self, f"_build_{kind}")(c, condition)
        return found

    @staticmethod
    def _assign(c: Mapping[str, Any]) -> dict[str, Any] | str:
        to = c["assign_to"]
        if to == "approvers":
            return "approvers"
        assign: dict[str, Any] = {"to": to}
        if to == "user":
            assign["user"] = _int_or_none(c.get("assign_user"))
        if to in ("team_head", "round_robin") and c.get("assign_team"):
            assign["team"] = _int_or_none(c.get("assign_team"))
        return assign

    def _build_task(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        found: dict[str, Any] = {"title": c["title"].strip(), "assign": self._assign(c), "wait": bool(c.get("wait"))}
        if (c.get("body") or "").strip():
            found["body"] = c["body"].strip()
        if (deadline := _duration(c, "deadline")) is not None:
            found["deadline"] = deadline
        if c.get("escalate_to"):
            escalate: dict[str, Any] = {"to": c["escalate_to"], "notify": list(c.get("escalate_notify") or [])}
            if c["escalate_to"] == "user":
                escalate["user"] = _int_or_none(c.get("escalate_user"))
            found["escalate"] = escalate
        return found

    def _build_set_field(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        return {"field": c["field"], "value": c.get("value") or ""}

    def _build_move_stage(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        return {"stage": int(c["stage"])}

    def _build_email(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        found = {"to": c["email_to"], "subject": c["subject"].strip(), "body": c["body"]}
        if c["email_to"] == "address":
            found["address"] = c["address"]
        return found

    def _build_notify(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        return {"to": self._assign(c), "text": c["text"].strip()}

    def _build_webhook(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        return {"connection": c["connection"].strip()}

    def _build_wait(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        mode = c["mode"]
        if mode == "duration":
            return {"duration": _duration(c, "duration")}
        if mode == "until_field":
            found: dict[str, Any] = {"until_field": c["until_field"]}
            if c.get("offset_days"):
                found["offset"] = {"days": c["offset_days"]}
            return found
        if mode == "until":
            return {"until": c["until"]}
        return {"until_task": c["until_task"]}

    def _build_approval(self, c: Mapping[str, Any], _cond: Any) -> dict[str, Any]:
        approvers: dict[str, Any] = {"to": c["approvers_to"]}
        if c["approvers_to"] == "users":
            approvers["users"] = [int(u) for u in c.get("approvers_users") or []]
        elif c["approvers_to"] == "role":
            approvers["role"] = _int_or_none(c.get("approvers_role"))
        found = {"approvers": approvers, "mode": c["mode"], "on_reject": c["on_reject"]}
        found |= {"on_timeout": c["on_timeout"], "hold": bool(c.get("hold"))}
        if (timeout := _duration(c, "timeout")) is not None:
            found["timeout"] = timeout
        return found

    def _build_branch(self, c: Mapping[str, Any], condition: Any) -> dict[str, Any]:
        return {"condition": condition, "then": c["then"], "else": c["else_"]}


class StepKindForm(forms.Form):
    type = _choice(_("Kind of step"), STEP_TYPES)

    def __init__(self, *args: Any, webhook: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not webhook:
            cast(forms.ChoiceField, self.fields["type"]).choices = [c for c in STEP_TYPES if c[0] != "webhook"]


class DryRunForm(_Form):
    record = forms.CharField(label=pgettext_lazy("one record", "Record"), required=False, max_length=20)
    record_type = _choice(_("Record type"), RECORD_TYPES, required=False)


class InstanceFilterForm(forms.Form):
    state = _choice(_("State"), [("", _("all"))], required=False)

    def __init__(self, *args: Any, states: Sequence[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["state"]).choices = [("", _("all")), *states]


class CancelForm(_Form):
    reason = _text(_("Why (shown in its history)"), max_length=500)
