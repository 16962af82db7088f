"""The draft format of a process definition: its complete validation, its normalization, and its description.

A draft is {"trigger": {...}, "steps": [...]} (see processes-spec.md). `definition_errors` reports every problem
keyed "trigger", "trigger.<field>", "steps", "steps.<index>.<field>" or "__all__"; a draft without errors can
be published and run. Users, teams, roles, stages, pipelines and custom fields are checked against the
workspace's rows. Step types the integration layer adds (the webhook's connection check) register here
(`step_validator_register`), since the CRM may not import integrations.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from crm.core.validation import text_problem
from crm.deals.models import Pipeline, Stage
from crm.processes import conditions
from crm.processes.fields import RECORD_TYPES, FieldInfo, coerce_value, field_map
from tenants.accounts.models import Role, Team
from tenants.accounts.selectors import active_users

TRIGGER_TYPES: tuple[tuple[str, Promise], ...] = (
    ("record_created", _("A record is created")),
    ("record_updated", _("A record is changed")),
    ("stage_entered", _("A deal enters a stage")),
    ("date", _("A date is reached")),
    ("schedule", _("On a schedule")),
    ("form", _("A website form is sent")),
    ("call", _("A call is logged")),
    ("manual", _("Started by hand")),
)
STEP_TYPES: tuple[tuple[str, Promise], ...] = (
    ("task", _("Task")),
    ("set_field", _("Set a field")),
    ("move_stage", _("Move the deal to a stage")),
    ("email", _("Send an email")),
    ("notify", _("Notify in the app")),
    ("webhook", _("Call a webhook")),
    ("wait", _("Wait")),
    ("approval", _("Approval")),
    ("branch", _("Branch on a condition")),
)
RECORD_TYPE_LABELS: dict[str, Promise] = {
    "company": _("company"),
    "contact": _("contact"),
    "lead": _("lead"),
    "deal": _("deal"),
}

MAX_STEPS = 100
MAX_NAME = 150
MAX_TITLE = 255
MAX_BODY = 20000
MAX_NOTIFY = 500  # Notification.text
MAX_SUBJECT = 255
MAX_VALUE = 1000
MAX_UID = 64
MAX_USERS = 50
MAX_FIELDS = 50
MAX_ESCALATION_NOTIFY = 3
STEP_ID = re.compile(r"^[a-z0-9_]{1,32}$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
END = "end"
# At most ten years, whatever the unit.
UNIT_LIMITS = {"minutes": 10 * 366 * 24 * 60, "hours": 10 * 366 * 24, "days": 10 * 366, "months": 120}
DEADLINE_UNITS = ("minutes", "hours", "days")
WAIT_UNITS = ("minutes", "hours", "days", "months")
OFFSET_UNITS = ("days", "months")
ASSIGN_TO = ("owner", "user", "team_head", "round_robin", "starter")
ESCALATE_TO = ("team_head", "user")
ESCALATE_NOTIFY = ("owner", "assignee", "team_head")
EMAIL_TO = ("contact", "owner", "address")
APPROVERS_TO = ("team_head", "users", "role")
# Steps after which the instance waits for something (a loop must hold one, or it would spin forever).
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# Keys each trigger and step type takes (besides "type"); anything else is refused, so a typo never vanishes.
TRIGGER_KEYS: dict[str, set[str]] = {
    "record_created": {"record_type", "condition"},
    "record_updated": {"record_type", "fields", "condition"},
    "stage_entered": {"record_type", "pipeline", "stage", "outcome", "condition"},
    "date": {"record_type", "field", "offset", "at", "condition"},
    "schedule": {"record_type", "every", "at", "weekday", "day"},
    "form": {"record_type", "connection", "condition"},
    "call": {"record_type", "direction", "missed"},
    "manual": {"record_type"},
}
_COMMON_STEP_KEYS = {"id", "type", "name", "next"}
STEP_KEYS: dict[str, set[str]] = {
    "task": {"title", "body", "assign", "deadline", "wait", "escalate"},
    "set_field": {"field", "value"},
    "move_stage": {"stage"},
    "email": {"to", "address", "subject", "body"},
    "notify": {"to", "text"},
    "webhook": {"connection"},
    "wait": {"duration", "until_field", "offset", "until", "until_task"},
    "approval": {"approvers", "mode", "timeout", "on_reject", "on_timeout", "hold"},
    "branch": {"condition", "then", "else"},
}


# --- step types registered by upper layers -------------------------------------------------------------------

StepValidator = Callable[[dict[str, Any]], list[str]]


@dataclass
class ExtraStepType:
    """What an upper layer adds to a step type: its label (a new type), validators, its one-line description."""

    label: str | Promise | None = None
    validators: list[StepValidator] = field(default_factory=list)
    # The step's field its validators' messages are reported at ("connection" -> "steps.<i>.connection").
    report_at: str = ""
    keys: set[str] = field(default_factory=set)
    describe: Callable[[dict[str, Any]], str] | None = None


extra_step_types: dict[str, ExtraStepType] = {}


def step_validator_register(
    step_type: str,
    validator: StepValidator,
    *,
    label: str | Promise | None = None,
    field: str = "",
    keys: set[str] | frozenset[str] = frozenset(),
    describe: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """Add a check of steps of `step_type` (its messages reported at `field`, or at the step); a type that is
    not one of STEP_TYPES becomes a new step type named `label` taking `keys`. Registering again is harmless."""
    entry = extra_step_types.setdefault(step_type, ExtraStepType())
    if validator not in entry.validators:
        entry.validators.append(validator)
    entry.label = label if label is not None else entry.label
    entry.report_at = field or entry.report_at
    entry.keys |= set(keys)
    entry.describe = describe or entry.describe


def step_type_choices() -> list[tuple[str, str | Promise]]:
    """Every step type with its label: ours, then the registered ones."""
    known = dict(STEP_TYPES)
    extra = [(name, entry.label) for name, entry in extra_step_types.items() if name not in known and entry.label]
    return [*STEP_TYPES, *[(name, label) for name, label in extra if label is not None]]


def _step_types() -> set[str]:
    return {name for name, _label in step_type_choices()}


# --- the workspace's rows a draft names ----------------------------------------------------------------------


class _Workspace:
    """The ids a draft may name, each set read once per validation."""

    @cached_property
    def users(self) -> set[int]:
        return set(active_users().values_list("pk", flat=True))

    @cached_property
    def teams(self) -> set[int]:
        return set(Team.objects.values_list("pk", flat=True))

    @cached_property
    def roles(self) -> set[int]:
        return set(Role.objects.values_list("pk", flat=True))

    @cached_property
    def pipelines(self) -> set[int]:
        return set(Pipeline.objects.values_list("pk", flat=True))

    @cached_property
    def stages(self) -> dict[int, tuple[int, str]]:
        return {
            pk: (pipeline, outcome)
            for pk, pipeline, outcome in Stage.objects.values_list("pk", "pipeline_id", "outcome")
        }


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


# --- validation ----------------------------------------------------------------------------------------------


@dataclass
class _Context:
    errors: dict[str, list[str]]
    ws: _Workspace
    record_type: str | None = None
    trigger_type: str = ""
    pipeline: int | None = None
    step_ids: set[str] = field(default_factory=set)
    task_ids: set[str] = field(default_factory=set)
    has_approval: bool = False
    _catalog: dict[str, FieldInfo] | None = None

    def add(self, key: str, message: str) -> None:
        messages = self.errors.setdefault(key, [])
        if message not in messages:
            messages.append(message)

    @property
    def catalog(self) -> dict[str, FieldInfo]:
        if self._catalog is None:
            self._catalog = field_map(self.record_type) if self.record_type else {}
        return self._catalog

    @property
    def has_record(self) -> bool:
        return self.trigger_type != "schedule"


def _safe(value: Any, limit: int = 40) -> str:
    """A name from input, fit to appear in a message."""
    text = str(value)
    text = re.sub("[\x00-\x1f\ud800-\udfff]", "", text)
    return text[:limit] + ("…" if len(text) > limit else "")


def _text(
    ctx: _Context, key: str, value: Any, *, limit: int, required: bool = False, label: str | None = None
) -> str | None:
    if value is None or value == "":
        if required:
            ctx.add(key, gettext("This field is required."))
        return None
    if not isinstance(value, str):
        ctx.add(key, gettext("Enter a text."))
        return None
    if problem := text_problem(value):
        ctx.add(key, problem)
        return None
    if required and not value.strip():
        ctx.add(key, gettext("This field is required."))
        return None
    if len(value) > limit:
        ctx.add(key, gettext("Use at most %(n)d characters.") % {"n": limit})
        return None
    return value


def _bool(ctx: _Context, key: str, value: Any, *, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, bool):
        ctx.add(key, gettext("Choose yes or no."))


def _choice(ctx: _Context, key: str, value: Any, options: tuple[str, ...], *, nullable: bool = False) -> bool:
    if value is None and nullable:
        return True
    if not isinstance(value, str) or value not in options:
        ctx.add(key, gettext("Choose one of: %(options)s.") % {"options": ", ".join(options)})
        return False
    return True


def _keys(ctx: _Context, key: str, value: Mapping[str, Any], allowed: set[str]) -> None:
    if unknown := set(value) - allowed:
        names = ", ".join(sorted(_safe(name, 32) for name in unknown))
        ctx.add(key, gettext("Unknown settings: %(names)s.") % {"names": names})


def _ref(ctx: _Context, key: str, value: Any, kind: str, *, required: bool = True) -> None:
    """An id of a user (active), team, role, pipeline or stage of this workspace."""
    if value is None:
        if required:
            ctx.add(key, gettext("This field is required."))
        return
    known: Any = {
        "user": lambda: ctx.ws.users,
        "team": lambda: ctx.ws.teams,
        "role": lambda: ctx.ws.roles,
        "pipeline": lambda: ctx.ws.pipelines,
        "stage": lambda: ctx.ws.stages,
    }[kind]()
    if not _is_id(value) or value not in known:
        messages = {
            "user": gettext("There is no such active user."),
            "team": gettext("There is no such team."),
            "role": gettext("There is no such role."),
            "pipeline": gettext("There is no such pipeline."),
            "stage": gettext("There is no such stage."),
        }
        ctx.add(key, messages[kind])


def _amount(
    ctx: _Context, key: str, value: Any, units: tuple[str, ...], *, negative: bool = False, working: bool = True
) -> None:
    """A duration {"<unit>": n, "working": bool} (or an offset, which may be zero or negative)."""
    if not isinstance(value, dict):
        ctx.add(key, gettext("Give a number of %(units)s.") % {"units": ", ".join(units)})
        return
    allowed = set(units) | ({"working"} if working else set())
    _keys(ctx, key, value, allowed)
    given = [unit for unit in units if unit in value]
    if len(given) != 1:
        ctx.add(key, gettext("Give exactly one of: %(units)s.") % {"units": ", ".join(units)})
        return
    n = value[given[0]]
    limit = UNIT_LIMITS[given[0]]
    if not isinstance(n, int) or isinstance(n, bool):
        ctx.add(key, gettext("Enter a whole number."))
    elif negative and abs(n) > limit:
        ctx.add(key, gettext("Use at most ten years."))
    elif not negative and n <= 0:
        ctx.add(key, gettext("Enter a number greater than zero."))
    elif n > limit:
        ctx.add(key, gettext("Use at most ten years."))
    if working and "working" in value and not isinstance(value["working"], bool):
        ctx.add(key, gettext("Choose yes or no for working time."))
    if working and value.get("working") is True and given[0] == "months":
        ctx.add(key, gettext("Count months in calendar time."))


def _target(ctx: _Context, key: str, value: Any, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if value != END and (not isinstance(value, str) or value not in ctx.step_ids):
        ctx.add(key, gettext("Choose a step of this process or the end."))


def _condition(ctx: _Context, key: str, value: Any, *, required: bool = False) -> None:
    if value is None or value == {}:
        if required:
            ctx.add(key, gettext("This field is required."))
        return
    if not ctx.record_type:
        ctx.add(key, gettext("This process has no record to check a condition on."))
        return
    for message in conditions.condition_errors(value, ctx.record_type, fields=ctx.catalog):
        ctx.add(key, message)


def placeholder_names(record_type: str | None, *, has_record: bool = True) -> set[str]:
    """The placeholders an email or notification text may hold ("record.title", "owner.name"...)."""
    names = {"process.name"}
    if not has_record:
        return names
    names |= {"record.name", "record.url", "owner.name", "owner.email", "assignee.name"}
    names |= {"contact.name", "contact.email", "contact.phone", "company.name"}
    if record_type:
        names |= {f"record.{name}" for name in field_map(record_type)}
        names.add("record.title")
    return names


def placeholder_errors(text: str, allowed: set[str]) -> list[str]:
    """Unknown placeholders and braces that open or close none ("{record.title}" is one, "{x" is not)."""
    errors = []
    unknown = [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1).strip() not in allowed]
    if unknown:
        names = ", ".join("{" + _safe(name, 40) + "}" for name in dict.fromkeys(unknown))
        errors.append(gettext("Unknown placeholders: %(names)s.") % {"names": names})
    rest = PLACEHOLDER.sub("", text)
    if "{" in rest or "}" in rest:
        errors.append(gettext("A brace opens or closes no placeholder: write placeholders as {record.title}."))
    return errors


def _placeholders(ctx: _Context, key: str, text: str | None, allowed: set[str]) -> None:
    if text:
        for message in placeholder_errors(text, allowed):
            ctx.add(key, message)


def _trigger(ctx: _Context, trigger: Any) -> None:
    if not isinstance(trigger, dict):
        ctx.add("trigger", gettext("Choose what starts the process."))
        return
    kind = trigger.get("type")
    if kind not in TRIGGER_KEYS:
        ctx.add("trigger.type", gettext("Choose what starts the process."))
        return
    ctx.trigger_type = kind
    _keys(ctx, "trigger", trigger, TRIGGER_KEYS[kind] | {"type"})
    record_type = trigger.get("record_type")
    if kind == "schedule":
        if record_type not in (None, ""):
            ctx.add("trigger.record_type", gettext("A scheduled process is about no record."))
    elif kind == "call":
        if record_type not in (None, "") and _choice(
            ctx, "trigger.record_type", record_type, ("company", "contact", "lead")
        ):
            ctx.record_type = record_type
    elif kind == "stage_entered":
        if record_type not in (None, "deal"):
            ctx.add("trigger.record_type", gettext("Stages are deals' stages."))
        ctx.record_type = "deal"
    elif kind == "form":
        if record_type not in (None, "lead"):
            ctx.add("trigger.record_type", gettext("A website form creates a lead."))
        ctx.record_type = "lead"
    elif _choice(ctx, "trigger.record_type", record_type, RECORD_TYPES):
        ctx.record_type = record_type

    if kind == "record_updated" and trigger.get("fields") not in (None, []):
        names = trigger["fields"]
        if not isinstance(names, list) or len(names) > MAX_FIELDS:
            ctx.add("trigger.fields", gettext("Give a list of at most %(n)d fields.") % {"n": MAX_FIELDS})
        elif ctx.record_type:
            unknown = [n for n in names if not isinstance(n, str) or n not in ctx.catalog]
            if unknown:
                ctx.add(
                    "trigger.fields",
                    gettext("Unknown fields: %(names)s.") % {"names": ", ".join(_safe(n) for n in unknown)},
                )
    if kind == "stage_entered":
        pipeline, stage, outcome = trigger.get("pipeline"), trigger.get("stage"), trigger.get("outcome")
        _ref(ctx, "trigger.pipeline", pipeline, "pipeline", required=False)
        _ref(ctx, "trigger.stage", stage, "stage", required=False)
        _choice(ctx, "trigger.outcome", outcome, ("won", "lost"), nullable=True)
        if _is_id(pipeline):
            ctx.pipeline = pipeline
        if _is_id(stage) and stage in ctx.ws.stages:
            stage_pipeline, stage_outcome = ctx.ws.stages[stage]
            if _is_id(pipeline) and stage_pipeline != pipeline:
                ctx.add("trigger.stage", gettext("Choose a stage of the chosen pipeline."))
            if outcome in ("won", "lost") and stage_outcome != outcome:
                ctx.add("trigger.outcome", gettext("The chosen stage has another outcome."))
    if kind == "date":
        name = trigger.get("field")
        info = ctx.catalog.get(name) if isinstance(name, str) else None
        if (info is None or not info.is_date) and ctx.record_type:
            ctx.add("trigger.field", gettext("Choose a date field of these records."))
        if trigger.get("offset") not in (None, {}):
            _amount(ctx, "trigger.offset", trigger["offset"], OFFSET_UNITS, negative=True, working=False)
        _time(ctx, "trigger.at", trigger.get("at"), required=False)
    if kind == "schedule":
        every = trigger.get("every")
        _choice(ctx, "trigger.every", every, ("day", "week", "month"))
        _time(ctx, "trigger.at", trigger.get("at"), required=True)
        weekday, day = trigger.get("weekday"), trigger.get("day")
        if every == "week":
            if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
                ctx.add("trigger.weekday", gettext("Choose a day of the week."))
        elif weekday is not None:
            ctx.add("trigger.weekday", gettext("Only a weekly schedule has a day of the week."))
        if every == "month":
            if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 28:
                ctx.add("trigger.day", gettext("Choose a day of the month from 1 to 28."))
        elif day is not None:
            ctx.add("trigger.day", gettext("Only a monthly schedule has a day of the month."))
    if kind == "form" and trigger.get("connection") is not None:
        _uid(ctx, "trigger.connection", trigger["connection"])
    if kind == "call":
        _choice(ctx, "trigger.direction", trigger.get("direction"), ("inbound", "outbound"), nullable=True)
        _bool(ctx, "trigger.missed", trigger.get("missed"), nullable=True)
    if "condition" in TRIGGER_KEYS[kind]:
        _condition(ctx, "trigger.condition", trigger.get("condition"))


def _time(ctx: _Context, key: str, value: Any, *, required: bool) -> None:
    if value in (None, "") and not required:
        return
    if not isinstance(value, str) or not TIME.match(value):
        ctx.add(key, gettext("Enter a time as HH:MM."))


def _uid(ctx: _Context, key: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_UID or text_problem(value):
        ctx.add(key, gettext("Choose a connection."))


def _assign(ctx: _Context, key: str, value: Any, *, approvers: bool = False) -> None:
    """A: {"to": "owner"|"user"|"team_head"|"round_robin"|"starter", "user": id?, "team": id?}."""
    if not isinstance(value, dict):
        ctx.add(key, gettext("Choose who gets it."))
        return
    _keys(ctx, key, value, {"to", "user", "team"})
    options = (*ASSIGN_TO, "approvers") if approvers else ASSIGN_TO
    to = value.get("to")
    if not _choice(ctx, f"{key}.to", to, options):
        return
    if to == "user":
        _ref(ctx, f"{key}.user", value.get("user"), "user")
    elif value.get("user") is not None:
        ctx.add(f"{key}.user", gettext("Only “a person” names a user."))
    if to == "round_robin":
        _ref(ctx, f"{key}.team", value.get("team"), "team")
    elif to == "team_head":
        _ref(ctx, f"{key}.team", value.get("team"), "team", required=False)
    elif value.get("team") is not None:
        ctx.add(f"{key}.team", gettext("Only a team head or a round robin names a team."))
    if to in ("owner",) and not ctx.has_record:
        ctx.add(f"{key}.to", gettext("A scheduled process has no record, so no owner: choose a person or a team."))
    if to == "team_head" and value.get("team") is None and not ctx.has_record:
        ctx.add(f"{key}.team", gettext("A scheduled process has no record: choose the team."))
    if to == "approvers" and not ctx.has_approval:
        ctx.add(f"{key}.to", gettext("This process has no approval step."))


def _step(ctx: _Context, index: int, step: dict[str, Any]) -> None:
    key = f"steps.{index}"
    kind = str(step.get("type"))
    extra = extra_step_types.get(kind)
    allowed = _COMMON_STEP_KEYS | STEP_KEYS.get(kind, set()) | (extra.keys if extra else set())
    if kind == "branch":
        allowed = allowed - {"next"}  # a branch says where to go with then / else
    _keys(ctx, key, step, allowed)
    _text(ctx, f"{key}.name", step.get("name"), limit=MAX_NAME)
    if "next" in step:
        _target(ctx, f"{key}.next", step["next"])
    record_type = ctx.record_type
    if kind == "task":
        _text(ctx, f"{key}.title", step.get("title"), limit=MAX_TITLE, required=True)
        _text(ctx, f"{key}.body", step.get("body"), limit=MAX_BODY)
        _assign(ctx, f"{key}.assign", step.get("assign"))
        if step.get("deadline") is not None:
            _amount(ctx, f"{key}.deadline", step["deadline"], DEADLINE_UNITS)
        _bool(ctx, f"{key}.wait", step.get("wait", False))
        escalate = step.get("escalate")
        if escalate is not None:
            _escalate(ctx, f"{key}.escalate", escalate)
            if step.get("deadline") is None:
                ctx.add(f"{key}.escalate", gettext("Only a task with a deadline can be escalated."))
    elif kind == "set_field":
        name, value = step.get("field"), step.get("value")
        if not record_type:
            ctx.add(f"{key}.field", gettext("This process has no record of a known kind to set a field on."))
        else:
            info = ctx.catalog.get(name) if isinstance(name, str) else None
            if info is None or not info.settable:
                ctx.add(f"{key}.field", gettext("Choose a field a process may set."))
            elif not isinstance(value, str):
                ctx.add(f"{key}.value", gettext("Enter the value as text."))
            else:
                try:
                    coerce_value(record_type, info.name, value)
                except ValidationError as exc:
                    for message in exc.messages:
                        ctx.add(f"{key}.value", message)
    elif kind == "move_stage":
        if record_type != "deal":
            ctx.add(f"{key}.stage", gettext("Only a deal's process moves a stage."))
        stage = step.get("stage")
        _ref(ctx, f"{key}.stage", stage, "stage")
        in_other = _is_id(stage) and stage in ctx.ws.stages and ctx.ws.stages[stage][0] != ctx.pipeline
        if ctx.pipeline is not None and in_other:
            ctx.add(f"{key}.stage", gettext("Choose a stage of the trigger's pipeline."))
    elif kind == "email":
        allowed_names = placeholder_names(record_type, has_record=ctx.has_record)
        to = step.get("to")
        if _choice(ctx, f"{key}.to", to, EMAIL_TO):
            if to == "address":
                address = _text(ctx, f"{key}.address", step.get("address"), limit=254, required=True)
                if address is not None:
                    try:
                        validate_email(address.strip())
                    except ValidationError:
                        ctx.add(f"{key}.address", gettext("Enter a valid email address."))
            elif step.get("address") not in (None, ""):
                ctx.add(f"{key}.address", gettext("Only “an address” takes an address."))
            elif not ctx.has_record:
                ctx.add(f"{key}.to", gettext("A scheduled process has no record: send to an address."))
        subject = _text(ctx, f"{key}.subject", step.get("subject"), limit=MAX_SUBJECT, required=True)
        body = _text(ctx, f"{key}.body", step.get("body"), limit=MAX_BODY, required=True)
        _placeholders(ctx, f"{key}.subject", subject, allowed_names)
        _placeholders(ctx, f"{key}.body", body, allowed_names)
    elif kind == "notify":
        _assign(ctx, f"{key}.to", step.get("to"), approvers=True)
        text = _text(ctx, f"{key}.text", step.get("text"), limit=MAX_NOTIFY, required=True)
        _placeholders(ctx, f"{key}.text", text, placeholder_names(record_type, has_record=ctx.has_record))
    elif kind == "webhook":
        _uid(ctx, f"{key}.connection", step.get("connection"))
    elif kind == "wait":
        _wait(ctx, key, step)
    elif kind == "approval":
        _approval(ctx, key, step)
    elif kind == "branch":
        _condition(ctx, f"{key}.condition", step.get("condition"), required=True)
        _target(ctx, f"{key}.then", step.get("then"))
        _target(ctx, f"{key}.else", step.get("else"))
    if extra is not None:
        at = f"{key}.{extra.report_at}" if extra.report_at else key
        for validator in extra.validators:
            for message in validator(step):
                ctx.add(at, str(message))


def _escalate(ctx: _Context, key: str, value: Any) -> None:
    if not isinstance(value, dict):
        ctx.add(key, gettext("Choose who gets an overdue task."))
        return
    _keys(ctx, key, value, {"to", "user", "notify"})
    to = value.get("to")
    if _choice(ctx, f"{key}.to", to, ESCALATE_TO):
        if to == "user":
            _ref(ctx, f"{key}.user", value.get("user"), "user")
        elif value.get("user") is not None:
            ctx.add(f"{key}.user", gettext("Only “a person” names a user."))
    notify = value.get("notify", [])
    if (
        not isinstance(notify, list)
        or not all(isinstance(n, str) and n in ESCALATE_NOTIFY for n in notify)
        or len(set(notify)) != len(notify)
    ):
        ctx.add(f"{key}.notify", gettext("Choose among: %(options)s.") % {"options": ", ".join(ESCALATE_NOTIFY)})


def _wait(ctx: _Context, key: str, step: dict[str, Any]) -> None:
    forms = [name for name in ("duration", "until_field", "until", "until_task") if step.get(name) is not None]
    if len(forms) != 1:
        ctx.add(
            key,
            gettext("Wait for a duration, until a date field, until a moment or until a task is done: one of them."),
        )
        return
    form = forms[0]
    if step.get("offset") is not None and form != "until_field":
        ctx.add(f"{key}.offset", gettext("Only a wait until a date field takes an offset."))
    if form == "duration":
        _amount(ctx, f"{key}.duration", step["duration"], WAIT_UNITS)
    elif form == "until_field":
        name = step["until_field"]
        info = ctx.catalog.get(name) if isinstance(name, str) else None
        if info is None or not info.is_date:
            ctx.add(f"{key}.until_field", gettext("Choose a date field of these records."))
        if step.get("offset") not in (None, {}):
            _amount(ctx, f"{key}.offset", step["offset"], OFFSET_UNITS, negative=True, working=False)
    elif form == "until":
        value = step["until"]
        moment = None
        if isinstance(value, str) and len(value) <= 40 and not text_problem(value):
            try:
                moment = datetime.datetime.fromisoformat(value.strip())
            except ValueError:
                moment = None
        if moment is None:
            ctx.add(f"{key}.until", gettext("Enter a date and time as YYYY-MM-DDTHH:MM."))
            return
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        if moment.utcoffset() is None or abs(moment.utcoffset() or datetime.timedelta()) > datetime.timedelta(hours=14):
            ctx.add(f"{key}.until", gettext("Enter a date and time as YYYY-MM-DDTHH:MM."))
        elif moment > timezone.now() + datetime.timedelta(days=UNIT_LIMITS["days"]):
            ctx.add(f"{key}.until", gettext("Use at most ten years."))
    else:
        target = step["until_task"]
        if not isinstance(target, str) or target not in ctx.task_ids:
            ctx.add(f"{key}.until_task", gettext("Choose a task step of this process."))


def _approval(ctx: _Context, key: str, step: dict[str, Any]) -> None:
    approvers = step.get("approvers")
    if not isinstance(approvers, dict):
        ctx.add(f"{key}.approvers", gettext("Choose who approves."))
    else:
        _keys(ctx, f"{key}.approvers", approvers, {"to", "users", "role", "team"})
        to = approvers.get("to")
        if _choice(ctx, f"{key}.approvers.to", to, APPROVERS_TO):
            users = approvers.get("users")
            if to == "users":
                if not isinstance(users, list) or not users or len(users) > MAX_USERS:
                    ctx.add(f"{key}.approvers.users", gettext("Choose from 1 to %(n)d people.") % {"n": MAX_USERS})
                else:
                    if len(set(map(str, users))) != len(users):
                        ctx.add(f"{key}.approvers.users", gettext("Name each person once."))
                    for user in users:
                        _ref(ctx, f"{key}.approvers.users", user, "user")
            elif users not in (None, []):
                ctx.add(f"{key}.approvers.users", gettext("Only “these people” names people."))
            if to == "role":
                _ref(ctx, f"{key}.approvers.role", approvers.get("role"), "role")
            elif approvers.get("role") is not None:
                ctx.add(f"{key}.approvers.role", gettext("Only “a role” names a role."))
            if to == "team_head":
                _ref(ctx, f"{key}.approvers.team", approvers.get("team"), "team", required=False)
                if approvers.get("team") is None and not ctx.has_record:
                    ctx.add(f"{key}.approvers.team", gettext("A scheduled process has no record: choose the team."))
            elif approvers.get("team") is not None:
                ctx.add(f"{key}.approvers.team", gettext("Only a team head names a team."))
    _choice(ctx, f"{key}.mode", step.get("mode", "any"), ("any", "all"))
    if step.get("timeout") is not None:
        _amount(ctx, f"{key}.timeout", step["timeout"], DEADLINE_UNITS)
    _target(ctx, f"{key}.on_reject", step.get("on_reject", END))
    _target(ctx, f"{key}.on_timeout", step.get("on_timeout", END))
    if step.get("on_timeout") not in (None, END) and step.get("timeout") is None:
        ctx.add(f"{key}.on_timeout", gettext("Give a timeout first."))
    _bool(ctx, f"{key}.hold", step.get("hold", False))
    if step.get("hold") is True and ctx.record_type != "deal":
        ctx.add(f"{key}.hold", gettext("Only a deal's stage can be held."))


def _waits(step: dict[str, Any]) -> bool:
    kind = step.get("type")
    return kind in ("wait", "approval") or (kind == "task" and step.get("wait") is True)


def _successors(steps: list[dict[str, Any]], index: int) -> list[int]:
    """Where a step may go on to (index; len(steps) is the end)."""
    ids = {s.get("id"): i for i, s in enumerate(steps) if isinstance(s, dict)}
    step = steps[index]
    following = index + 1
    if step.get("type") == "branch":
        targets = [step.get("then"), step.get("else")]
    else:
        targets = [step.get("next", following)]
        if step.get("type") == "approval":
            targets += [step.get("on_reject", END), step.get("on_timeout", END)]
    result = []
    for target in targets:
        if isinstance(target, int):
            result.append(target)
        elif target in ids:
            result.append(ids[target])
    return [t for t in result if t < len(steps)]


def _loops_without_wait(steps: list[dict[str, Any]]) -> list[str]:
    """Ids of steps on a loop that never waits (it would run forever in one go)."""
    # Only the edges out of steps that do not wait: a cycle in that graph never stops.
    edges = {i: ([] if _waits(s) else _successors(steps, i)) for i, s in enumerate(steps)}
    state: dict[int, int] = {}
    looping: list[int] = []

    def visit(start: int) -> None:
        stack = [(start, iter(edges[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    looping.extend(path[path.index(child) :])
                elif child not in state:
                    state[child] = 1
                    path.append(child)
                    stack.append((child, iter(edges[child])))
                    break
            else:
                state[node] = 2
                path.pop()
                stack.pop()

    for i in range(len(steps)):
        if i not in state:
            visit(i)
    return [str(steps[i].get("id")) for i in sorted(set(looping))]


def definition_errors(draft: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every problem of `draft`, by key; empty when it can be published."""
    ctx = _Context(errors={}, ws=_Workspace())
    if not isinstance(draft, Mapping):
        return {"__all__": [gettext("A process is a trigger and a list of steps.")]}
    if problem := _json_problem(draft, 0):
        return {"__all__": [problem]}
    _keys(ctx, "__all__", draft, {"trigger", "steps"})
    steps = draft.get("steps")
    if not isinstance(steps, list):
        ctx.add("steps", gettext("Add at least one step."))
        steps = []
    elif not steps:
        ctx.add("steps", gettext("Add at least one step."))
    elif len(steps) > MAX_STEPS:
        ctx.add("steps", gettext("Use at most %(n)d steps.") % {"n": MAX_STEPS})
        steps = []
    # Ids first: targets and until_task name them.
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            ctx.add(f"steps.{index}", gettext("A step is a set of settings."))
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not STEP_ID.match(step_id) or step_id == END:
            ctx.add(f"steps.{index}.id", gettext("Use 1 to 32 lower-case letters, digits or underscores (not “end”)."))
        elif step_id in seen:
            ctx.add(f"steps.{index}.id", gettext("Another step has this id."))
        else:
            seen.add(step_id)
            if step.get("type") == "task":
                ctx.task_ids.add(step_id)
        if step.get("type") not in _step_types():
            ctx.add(f"steps.{index}.type", gettext("Choose a kind of step."))
        if step.get("type") == "approval":
            ctx.has_approval = True
    ctx.step_ids = seen
    _trigger(ctx, draft.get("trigger"))
    for index, step in enumerate(steps):
        if isinstance(step, dict) and step.get("type") in _step_types():
            _step(ctx, index, step)
    if steps and not ctx.errors and (looping := _loops_without_wait(steps)):
        ctx.add(
            "steps",
            gettext("Steps %(ids)s go round in a loop without waiting for anything.") % {"ids": ", ".join(looping)},
        )
    return ctx.errors


def _json_problem(value: Any, depth: int) -> str | None:
    """Anything that is not plain JSON (or nests absurdly deep)."""
    if depth > 16:
        return gettext("The process is nested too deeply.")
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if value == value and abs(value) != float("inf") else gettext("Enter a number.")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return gettext("The process holds a value of an unknown kind.")
            if problem := _json_problem(item, depth + 1):
                return problem
        return None
    if isinstance(value, list):
        for item in value:
            if problem := _json_problem(item, depth + 1):
                return problem
        return None
    return gettext("The process holds a value of an unknown kind.")


# --- normalization -------------------------------------------------------------------------------------------

_ID_KEYS = {"user", "team", "role", "stage", "pipeline"}


def _normal(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        text = value.strip()
        # An id typed in a form ("12") becomes the number the checks and the engine read.
        if key in _ID_KEYS and text.isdigit() and len(text) < 19:
            return int(text)
        return text
    if isinstance(value, dict):
        return {k: _normal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "users":
            return [_normal(v, "user") for v in value]
        return [_normal(v) for v in value]
    return value


def normalize(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The draft with strings stripped, ids as numbers and the defaults filled in (wait=false, mode="any",
    on_reject="end"...). Never raises: what it cannot make sense of is left for `definition_errors`."""
    if not isinstance(draft, Mapping):
        return {"trigger": {}, "steps": []}
    result = _normal(dict(draft))
    trigger = result.get("trigger")
    if isinstance(trigger, dict):
        if trigger.get("type") == "stage_entered":
            trigger.setdefault("record_type", "deal")
            trigger.setdefault("stage", None)
            trigger.setdefault("outcome", None)
        elif trigger.get("type") == "form":
            trigger.setdefault("record_type", "lead")
            trigger.setdefault("connection", None)
        elif trigger.get("type") == "schedule":
            trigger.pop("record_type", None)
        elif trigger.get("type") == "call":
            trigger.setdefault("direction", None)
        if trigger.get("type") == "record_updated":
            trigger.setdefault("fields", [])
        if trigger.get("condition") == {}:
            trigger["condition"] = None
    result.setdefault("trigger", {})
    steps = result.get("steps")
    if steps is None:
        result["steps"] = []
    for step in result["steps"] if isinstance(result["steps"], list) else []:
        if not isinstance(step, dict):
            continue
        kind = step.get("type")
        if kind == "task":
            step.setdefault("wait", False)
            if isinstance(step.get("assign"), str):
                step["assign"] = {"to": step["assign"]}
            escalate = step.get("escalate")
            if isinstance(escalate, dict):
                escalate.setdefault("notify", [])
        elif kind == "notify":
            if isinstance(step.get("to"), str):
                step["to"] = {"to": step["to"]}
        elif kind == "approval":
            step.setdefault("mode", "any")
            step.setdefault("on_reject", END)
            step.setdefault("on_timeout", END)
            step.setdefault("hold", False)
        deadline = step.get("deadline") if kind == "task" else step.get("timeout") if kind == "approval" else None
        if isinstance(deadline, dict):
            deadline.setdefault("working", False)
        if kind == "wait" and isinstance(step.get("duration"), dict):
            step["duration"].setdefault("working", False)
    return result


# --- description ---------------------------------------------------------------------------------------------


def duration_text(value: Mapping[str, Any]) -> str:
    """ "15 working minutes", "3 days", "-1 month" (offsets)."""
    working = bool(value.get("working"))
    for unit in ("minutes", "hours", "days", "months"):
        n = value.get(unit)
        if isinstance(n, int) and not isinstance(n, bool):
            return _unit_text(unit, n, working)
    return "?"


def _unit_text(unit: str, n: int, working: bool) -> str:
    count = abs(n)
    if unit == "minutes":
        text = (
            ngettext("%(n)d working minute", "%(n)d working minutes", count)
            if working
            else ngettext("%(n)d minute", "%(n)d minutes", count)
        )
    elif unit == "hours":
        text = (
            ngettext("%(n)d working hour", "%(n)d working hours", count)
            if working
            else ngettext("%(n)d hour", "%(n)d hours", count)
        )
    elif unit == "days":
        text = (
            ngettext("%(n)d working day", "%(n)d working days", count)
            if working
            else ngettext("%(n)d day", "%(n)d days", count)
        )
    else:
        text = ngettext("%(n)d month", "%(n)d months", count)
    return text % {"n": count}


def _offset_text(offset: Any) -> str:
    if not isinstance(offset, Mapping):
        return ""
    for unit in OFFSET_UNITS:
        n = offset.get(unit)
        if isinstance(n, int) and not isinstance(n, bool) and n:
            amount = _unit_text(unit, n, False)
            return (gettext("%(amount)s after") if n > 0 else gettext("%(amount)s before")) % {"amount": amount}
    return ""


def _user_name(pk: Any) -> str:
    from tenants.accounts.models import User

    row = (
        User.objects.select_related(None).filter(pk=pk).values_list("full_name", "email").first()
        if _is_id(pk)
        else None
    )
    return (row[0] or row[1]) if row is not None else gettext("(no such user)")


def _team_name(pk: Any) -> str:
    team = Team.objects.filter(pk=pk).first() if _is_id(pk) else None
    return team.name if team is not None else gettext("(no such team)")


def _stage_name(pk: Any) -> str:
    stage = Stage.objects.filter(pk=pk).select_related("pipeline").first() if _is_id(pk) else None
    return f"{stage.pipeline.name} / {stage.name}" if stage is not None else gettext("(no such stage)")


def _who(assign: Any) -> str:
    if not isinstance(assign, Mapping):
        return "?"
    to = assign.get("to")
    if to == "owner":
        return gettext("the record's owner")
    if to == "user":
        return _user_name(assign.get("user"))
    if to == "team_head":
        if assign.get("team") is not None:
            return gettext("the head of %(team)s") % {"team": _team_name(assign.get("team"))}
        return gettext("the owner's team head")
    if to == "round_robin":
        return gettext("%(team)s in turn") % {"team": _team_name(assign.get("team"))}
    if to == "starter":
        return gettext("the person who started the process")
    if to == "approvers":
        return gettext("the approvers")
    return "?"


def _target_text(target: Any) -> str:
    if target == END or target is None:
        return gettext("the end")
    return gettext("step %(id)s") % {"id": _safe(target, 32)}


def step_describe(step: Mapping[str, Any], record_type: str | None) -> str:
    """One readable line for the diagram, in the active language."""
    kind = step.get("type")
    extra = extra_step_types.get(kind) if isinstance(kind, str) else None
    if extra is not None and extra.describe is not None:
        return extra.describe(dict(step))
    if kind == "task":
        text = gettext("Task “%(title)s” for %(who)s") % {
            "title": _safe(step.get("title", ""), 80),
            "who": _who(step.get("assign")),
        }
        if isinstance(step.get("deadline"), Mapping):
            text += gettext(", due in %(duration)s") % {"duration": duration_text(step["deadline"])}
        if step.get("wait"):
            text += gettext("; waits until it is done")
        escalate = step.get("escalate")
        if isinstance(escalate, Mapping):
            who = _user_name(escalate.get("user")) if escalate.get("to") == "user" else gettext("the team head")
            text += gettext("; escalate to %(who)s") % {"who": who}
        return text
    if kind == "set_field":
        catalog = field_map(record_type) if record_type else {}
        info = catalog.get(step.get("field", ""))
        label = str(info.label) if info is not None else _safe(step.get("field", ""))
        value = step.get("value", "")
        if info is not None and info.choices:
            value = dict((str(v), str(lbl)) for v, lbl in info.choices).get(str(value), value)
        if value in ("", None):
            return gettext("Clear %(field)s") % {"field": label}
        return gettext("Set %(field)s to “%(value)s”") % {"field": label, "value": _safe(value, 80)}
    if kind == "move_stage":
        return gettext("Move the deal to %(stage)s") % {"stage": _stage_name(step.get("stage"))}
    if kind == "email":
        to = step.get("to")
        whom = {
            "contact": gettext("the contact"),
            "owner": gettext("the record's owner"),
            "address": _safe(step.get("address", ""), 80),
        }.get(str(to), "?")
        return gettext("Email “%(subject)s” to %(whom)s") % {
            "subject": _safe(step.get("subject", ""), 80),
            "whom": whom,
        }
    if kind == "notify":
        to = step.get("to")
        whom = _who(to if isinstance(to, Mapping) else {"to": to})
        return gettext("Notify %(whom)s: “%(text)s”") % {"whom": whom, "text": _safe(step.get("text", ""), 80)}
    if kind == "webhook":
        return gettext("Call the webhook %(connection)s") % {"connection": _safe(step.get("connection", ""))}
    if kind == "wait":
        if isinstance(step.get("duration"), Mapping):
            return gettext("Wait %(duration)s") % {"duration": duration_text(step["duration"])}
        if step.get("until_field"):
            catalog = field_map(record_type) if record_type else {}
            info = catalog.get(step["until_field"])
            label = str(info.label) if info is not None else _safe(step["until_field"])
            offset = _offset_text(step.get("offset"))
            if offset:
                return gettext("Wait until %(offset)s %(field)s") % {"offset": offset, "field": label}
            return gettext("Wait until %(field)s") % {"field": label}
        if step.get("until"):
            try:
                moment = datetime.datetime.fromisoformat(str(step["until"]))
                when = formats.date_format(moment, "SHORT_DATETIME_FORMAT")
            except ValueError:
                when = _safe(step["until"])
            return gettext("Wait until %(when)s") % {"when": when}
        if step.get("until_task"):
            return gettext("Wait until the task of step %(id)s is done") % {"id": _safe(step["until_task"], 32)}
        return gettext("Wait")
    if kind == "approval":
        approvers: Mapping[str, Any] = step["approvers"] if isinstance(step.get("approvers"), Mapping) else {}
        to = approvers.get("to")
        if to == "users":
            users: list[Any] = approvers["users"] if isinstance(approvers.get("users"), list) else []
            who = ", ".join(_user_name(u) for u in users[:10])
        elif to == "role":
            role_id: Any = approvers.get("role")
            role = Role.objects.filter(pk=role_id).first() if _is_id(role_id) else None
            who = gettext("people with the role %(role)s") % {"role": role.label if role else "?"}
        elif to == "team_head":
            who = _who({"to": "team_head", "team": approvers.get("team")})
        else:
            who = "?"
        mode = gettext("all of them") if step.get("mode") == "all" else gettext("any of them")
        text = gettext("Approval by %(who)s (%(mode)s)") % {"who": who, "mode": mode}
        if isinstance(step.get("timeout"), Mapping):
            text += gettext(", within %(duration)s") % {"duration": duration_text(step["timeout"])}
        on_reject = step.get("on_reject", END)
        text += gettext("; if rejected, go to %(target)s") % {"target": _target_text(on_reject)}
        if isinstance(step.get("timeout"), Mapping):
            text += gettext("; without a decision, go to %(target)s") % {
                "target": _target_text(step.get("on_timeout", END))
            }
        if step.get("hold"):
            text += gettext("; the deal keeps its stage meanwhile")
        return text
    if kind == "branch":
        return gettext("If %(condition)s, go to %(then)s, else to %(else)s") % {
            "condition": conditions.describe(step.get("condition"), record_type),
            "then": _target_text(step.get("then")),
            "else": _target_text(step.get("else")),
        }
    if extra is not None and extra.label is not None:
        return str(extra.label)
    return _safe(kind)


_CREATED: dict[str, Promise] = {
    "company": _("When a company is created"),
    "contact": _("When a contact is created"),
    "lead": _("When a lead is created"),
    "deal": _("When a deal is created"),
}
_UPDATED: dict[str, Promise] = {
    "company": _("When a company is changed"),
    "contact": _("When a contact is changed"),
    "lead": _("When a lead is changed"),
    "deal": _("When a deal is changed"),
}
_MANUAL: dict[str, Promise] = {
    "company": _("Started by hand from a company's card"),
    "contact": _("Started by hand from a contact's card"),
    "lead": _("Started by hand from a lead's card"),
    "deal": _("Started by hand from a deal's card"),
}
# In "Every %(weekday)s at %(time)s": a context of their own, as some languages decline the name there.
_WEEKDAYS: tuple[Promise, ...] = (
    pgettext_lazy("every weekday", "Monday"),
    pgettext_lazy("every weekday", "Tuesday"),
    pgettext_lazy("every weekday", "Wednesday"),
    pgettext_lazy("every weekday", "Thursday"),
    pgettext_lazy("every weekday", "Friday"),
    pgettext_lazy("every weekday", "Saturday"),
    pgettext_lazy("every weekday", "Sunday"),
)


def trigger_describe(trigger: Mapping[str, Any]) -> str:
    """What starts the process, as a sentence in the active language."""
    if not isinstance(trigger, Mapping):
        return "?"
    kind = trigger.get("type")
    record_type = trigger.get("record_type")
    record_type = record_type if record_type in RECORD_TYPES else None
    text = "?"
    if kind == "record_created":
        text = str(_CREATED.get(record_type or "", "?"))
    elif kind == "record_updated":
        text = str(_UPDATED.get(record_type or "", "?"))
        names = trigger.get("fields")
        if isinstance(names, list) and names and record_type:
            catalog = field_map(record_type)
            labels = [str(catalog[n].label) if n in catalog else _safe(n) for n in names]
            text += gettext(" (%(fields)s)") % {"fields": ", ".join(labels)}
    elif kind == "stage_entered":
        if trigger.get("stage") is not None:
            text = gettext("When a deal enters %(stage)s") % {"stage": _stage_name(trigger.get("stage"))}
        elif trigger.get("outcome") == "won":
            text = gettext("When a deal is won")
        elif trigger.get("outcome") == "lost":
            text = gettext("When a deal is lost")
        else:
            text = gettext("When a deal changes stage")
        if trigger.get("pipeline") is not None:
            pipeline = Pipeline.objects.filter(pk=trigger["pipeline"]).first() if _is_id(trigger["pipeline"]) else None
            text += gettext(" in the pipeline %(pipeline)s") % {"pipeline": pipeline.name if pipeline else "?"}
        record_type = "deal"
    elif kind == "date":
        catalog = field_map(record_type) if record_type else {}
        info = catalog.get(trigger.get("field", ""))
        label = str(info.label) if info is not None else _safe(trigger.get("field", ""))
        offset = _offset_text(trigger.get("offset"))
        text = (
            gettext("%(offset)s %(field)s") % {"offset": offset, "field": label}
            if offset
            else gettext("On %(field)s") % {"field": label}
        )
        if trigger.get("at"):
            text += gettext(" at %(time)s") % {"time": _safe(trigger["at"], 5)}
    elif kind == "schedule":
        at = _safe(trigger.get("at", ""), 5)
        every = trigger.get("every")
        if every == "week" and isinstance(trigger.get("weekday"), int) and 0 <= trigger["weekday"] <= 6:
            text = gettext("Every %(weekday)s at %(time)s") % {"weekday": _WEEKDAYS[trigger["weekday"]], "time": at}
        elif every == "month":
            text = gettext("On day %(day)s of every month at %(time)s") % {"day": trigger.get("day"), "time": at}
        else:
            text = gettext("Every day at %(time)s") % {"time": at}
    elif kind == "form":
        text = gettext("When a website form creates a lead")
        record_type = "lead"
    elif kind == "call":
        direction = trigger.get("direction")
        if trigger.get("missed"):
            text = gettext("When a call is missed")
        elif direction == "inbound":
            text = gettext("When an incoming call is logged")
        elif direction == "outbound":
            text = gettext("When an outgoing call is logged")
        else:
            text = gettext("When a call is logged")
    elif kind == "manual":
        text = str(_MANUAL.get(record_type or "", "?"))
    if trigger.get("condition"):
        text += gettext(", if %(condition)s") % {"condition": conditions.describe(trigger["condition"], record_type)}
    return text
