"""Writes of the website forms: the form's definition (administrators), and a submission placed in the CRM as
the connection's identity through the CRM's own services (a lead and a task, or a task on the contact found).

A submission is handled in three steps: its values are checked against the form (nothing written yet); it is
placed in one transaction (all or nothing); its exchange log entry says what happened, and keeps the submitted
values so that one that could not be placed (no one to give it to) can be run again from the log."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as conf
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_slug
from django.db import connection as db
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.activities.models import Activity
from crm.activities.services import activity_create
from crm.contacts.models import Contact
from crm.contacts.selectors import contacts_visible_to
from crm.core.validation import value_errors
from crm.leads.models import Lead
from crm.leads.services import lead_create
from integrations.core.models import Connection, Exchange
from integrations.core.services import exchange_close, exchange_open, require_manager
from integrations.webforms import targets as target_defs
from integrations.webforms.cleaning import Errors, submission_clean
from integrations.webforms.models import FormField, WebForm
from integrations.webforms.origins import origin_entry
from tenants.access import workspace_write
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, Team, User
from tenants.events.models import Event

logger = logging.getLogger(__name__)

KIND = "webforms"
OPERATION = "webform.submit"
RESERVED_KEYS = frozenset({"csrfmiddlewaretoken"})
# The settings webform_save takes besides the team and the allowed origins.
SETTINGS = (
    "task_subject",
    "task_due_minutes",
    "success_message",
    "redirect_url",
    "honeypot",
    "submit_label",
    "lead_source",
)
MAX_DUE_MINUTES = 60 * 24 * 30


# --- the form's definition ---------------------------------------------------------------------------------


def webform_defaults(conn: Connection) -> None:
    """A new connection's form, ready to embed: name, email, phone and message, leads shared by its creator."""
    form = WebForm.objects.create(connection=conn, submit_label=_("Send"))
    for position, (key, label, kind, required, target) in enumerate(
        (
            ("name", _("Name"), FormField.Type.TEXT, True, "lead.contact_name"),
            ("email", _("Email"), FormField.Type.EMAIL, True, "lead.email"),
            ("phone", _("Phone"), FormField.Type.PHONE, False, "lead.phone"),
            ("message", _("Message"), FormField.Type.TEXTAREA, False, "lead.message"),
        )
    ):
        FormField.objects.create(
            form=form, key=key, label=label, type=kind, required=required, position=position, target=target
        )


def _fields_errors(fields: Sequence[Mapping[str, Any]], honeypot: str) -> Errors:
    errors: Errors = {}
    known = {t.key: t for t in target_defs.targets()}
    seen_keys: dict[str, int] = {}
    seen_targets: dict[str, int] = {}

    def add(index: int, name: str, message: str) -> None:
        errors.setdefault(f"fields.{index}.{name}", []).append(message)

    for index, row in enumerate(fields):
        key, kind, target = str(row.get("key", "")), str(row.get("type", "")), str(row.get("target", ""))
        try:
            validate_slug(key)
        except ValidationError as exc:
            add(index, "key", " ".join(exc.messages))
        if key in seen_keys:
            add(index, "key", _("Two fields have this key."))
        elif key == honeypot or key in RESERVED_KEYS:
            add(index, "key", _("This key is taken by the spam trap."))
        seen_keys.setdefault(key, index)
        if not str(row.get("label", "")).strip():
            add(index, "label", _("This field is required."))
        if kind not in FormField.Type.values:
            add(index, "type", _("Choose a type."))
        if target:
            if target not in known:
                add(index, "target", _("Choose where the value goes."))
            elif target in seen_targets:
                add(index, "target", _("Two fields go to the same place."))
            elif target in target_defs.EMAIL_TARGETS and kind != FormField.Type.EMAIL:
                add(index, "type", _("An email goes to an email field."))
            elif target in target_defs.PHONE_TARGETS and kind != FormField.Type.PHONE:
                add(index, "type", _("A phone goes to a phone field."))
            seen_targets.setdefault(target, index)
        choices = list(row.get("choices") or [])
        if kind == FormField.Type.SELECT and not choices:
            add(index, "choices", _("Give the choices, one per line."))
        if any(len(str(c)) > 255 for c in choices):
            add(index, "choices", _("Use at most %(n)d characters.") % {"n": 255})
    if fields and not set(seen_targets) & target_defs.IDENTIFYING:
        errors.setdefault("fields", []).append(
            _("Send at least one field to a name, an email or a phone, so that someone can answer.")
        )
    if not fields:
        errors.setdefault("fields", []).append(_("Add at least one field."))
    return errors


def _settings_errors(settings: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    origins = []
    for entry in settings.get("allowed_origins") or []:
        origin = origin_entry(str(entry))
        if origin is None:
            errors.setdefault("allowed_origins", []).append(
                _("%(value)s is not an address like https://example.com.") % {"value": str(entry)[:200]}
            )
        elif origin not in origins:
            origins.append(origin)
    due = settings.get("task_due_minutes")
    if due is not None and not (isinstance(due, int) and 0 <= due <= MAX_DUE_MINUTES):
        errors["task_due_minutes"] = [
            _("Ensure this value is less than or equal to %(limit_value)s.") % {"limit_value": MAX_DUE_MINUTES}
        ]
    honeypot = str(settings.get("honeypot") or "")
    try:
        validate_slug(honeypot)
    except ValidationError as exc:
        errors["honeypot"] = list(exc.messages)
    return {**settings, "allowed_origins": origins, "honeypot": honeypot}, errors


@workspace_write
def webform_save(
    *, actor: User, connection: Connection, settings: Mapping[str, Any], fields: Sequence[Mapping[str, Any]]
) -> WebForm:
    """Replace the form's settings and fields. Errors name the setting, or `fields.<n>.<name>` for the n-th
    field given, or `fields` for the whole list; nothing is saved then."""
    require_manager(actor)
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    if conn.kind != KIND:
        raise ValidationError(_("Unknown kind of connection."))
    form = WebForm.objects.filter(connection=conn).first() or WebForm(connection=conn)
    cleaned, errors = _settings_errors(settings)
    errors.update(_fields_errors(fields, cleaned["honeypot"]))
    texts = {k: v for k, v in cleaned.items() if isinstance(v, str)}
    errors.update(value_errors(texts))
    for index, row in enumerate(fields):
        for name, problems in value_errors(row).items():
            errors.setdefault(f"fields.{index}.{name}", []).extend(problems)
    team = cleaned.get("team")
    if team is not None and not isinstance(team, Team):
        team = Team.objects.filter(pk=team).first() if str(team).isdigit() else None
        if team is None:
            errors["team"] = [_("There is no such team.")]
    for name in SETTINGS:
        if cleaned.get(name) is not None and name not in errors:
            setattr(form, name, cleaned[name])
    form.allowed_origins = cleaned["allowed_origins"]
    form.team = team
    try:
        form.full_clean(exclude=["connection", *errors])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    form.updated_at = timezone.now()
    form.save()
    form.fields.all().delete()
    FormField.objects.bulk_create(
        FormField(
            form=form,
            key=str(row["key"]),
            label=str(row["label"]).strip(),
            type=str(row["type"]),
            required=bool(row.get("required")),
            position=int(row["position"]) if row.get("position") is not None else index,
            choices=[str(c) for c in row.get("choices") or []],
            target=str(row.get("target") or ""),
        )
        for index, row in enumerate(fields)
    )
    audit_record(actor=actor, action=AuditEvent.Action.INTEGRATION_CHANGED, target=conn, details={"what": ["form"]})
    return form


# --- a submission ------------------------------------------------------------------------------------------


class Unplaced(Exception):
    """A valid submission that cannot be placed as the form is set up (no one to give it to): kept in the log
    to be run again once that is fixed."""


@dataclass(frozen=True)
class Placed:
    task: Activity
    lead: Lead | None = None
    contact: Contact | None = None


def _person(user: User | None) -> bool:
    return user is not None and user.is_active and user.kind == User.Kind.PERSON


def _next_owner(form: WebForm, conn: Connection) -> User:
    """The next active person of the form's team after the last one given a submission (round-robin), moved
    under a lock of the form's row so that simultaneous submissions take turns; no team: the creator."""
    locked = WebForm.objects.select_for_update().get(pk=form.pk)
    if locked.team_id is None:
        creator = conn.created_by
        if not _person(creator):
            raise Unplaced(_("The form has no team and its creator is no longer active: choose a team."))
        assert creator is not None
        return creator
    members = list(User.objects.filter(team_id=locked.team_id, is_active=True, kind=User.Kind.PERSON).order_by("id"))
    if not members:
        raise Unplaced(_("The form's team has no active people."))
    after = locked.assign_cursor or 0
    owner = next((m for m in members if m.pk > after), members[0])
    locked.assign_cursor = owner.pk
    locked.save(update_fields=["assign_cursor"])
    return owner


def _by_target(fields: Sequence[FormField], values: Mapping[str, str]) -> dict[str, str]:
    return {f.target: values[f.key] for f in fields if f.target and values.get(f.key)}


def contact_match(actor: User, *, email: str, phone: str) -> Contact | None:
    """The contact with this email (any case), else with this phone (E.164), among those the actor sees."""
    visible = contacts_visible_to(actor).select_related("owner")
    if email:
        found = visible.filter(emails__overlap=sorted({email, email.lower()})).order_by("id").first()
        if found is not None:
            return found
    if phone:
        return visible.filter(phones__overlap=[phone]).order_by("id").first()
    return None


def _task_body(fields: Sequence[FormField], values: Mapping[str, str]) -> str:
    return "\n".join(f"{f.label}: {values[f.key]}" for f in fields if values.get(f.key))


def _lead_data(
    conn: Connection, form: WebForm, fields: Sequence[FormField], values: Mapping[str, str]
) -> dict[str, Any]:
    mapped = _by_target(fields, values)
    data: dict[str, Any] = {
        name: mapped[f"lead.{name}"] for name in target_defs.LEAD_FIELDS if mapped.get(f"lead.{name}")
    }
    # A contact's fields describe the person on the lead when no contact is found.
    name = " ".join(p for p in (mapped.get("contact.first_name"), mapped.get("contact.last_name")) if p)
    for key, value in (
        ("contact_name", name),
        ("email", mapped.get("contact.email")),
        ("phone", mapped.get("contact.phone")),
    ):
        if value and not data.get(key):
            data[key] = value
    # What goes nowhere else stays readable on the lead.
    rest = _task_body([f for f in fields if not f.target], values)
    if rest:
        data["message"] = f"{data['message']}\n\n{rest}" if data.get("message") else rest
    who = data.get("contact_name") or data.get("email") or data.get("phone")
    data.setdefault("title", f"{conn.name}: {who}"[:255] if who else conn.name[:255])
    data["source"] = form.lead_source
    custom = {k.removeprefix(target_defs.CUSTOM): v for k, v in mapped.items() if k.startswith(target_defs.CUSTOM)}
    if custom:
        data["custom_fields"] = custom
    return data


def _task_data(
    conn: Connection, form: WebForm, fields: Sequence[FormField], values: Mapping[str, str]
) -> dict[str, Any]:
    due = timezone.now() + datetime.timedelta(minutes=form.task_due_minutes) if form.task_due_minutes else None
    subject = form.task_subject or _("Website form: %(name)s") % {"name": conn.name}
    return {"kind": Activity.Kind.TASK, "subject": subject[:255], "body": _task_body(fields, values), "due_at": due}


@workspace_write
def submission_place(
    *, connection: Connection, form: WebForm, fields: Sequence[FormField], values: Mapping[str, str]
) -> Placed:
    """Checked values into the CRM as the connection's identity: a task for the owner of the contact found by
    email or phone, else a lead for the next person of the team and a task for them. All or nothing."""
    actor = connection.identity
    mapped = _by_target(fields, values)
    email = mapped.get("contact.email") or mapped.get("lead.email") or ""
    phone = mapped.get("contact.phone") or mapped.get("lead.phone") or ""
    task = _task_data(connection, form, fields, values)
    contact = contact_match(actor, email=email, phone=phone)
    if contact is not None:
        owner = contact.owner if _person(contact.owner) else _next_owner(form, connection)
        assert owner is not None
        made = activity_create(actor=actor, data={**task, "assignee": owner.pk, "contact": contact.pk})
        return Placed(task=made, contact=contact)
    owner = _next_owner(form, connection)
    lead = lead_create(actor=actor, data={**_lead_data(connection, form, fields, values), "owner": owner.pk})
    made = activity_create(actor=actor, data={**task, "assignee": owner.pk, "lead": lead.pk})
    return Placed(task=made, lead=lead)


def _field_errors(exc: ValidationError, fields: Sequence[FormField]) -> tuple[Errors, list[str]]:
    """A CRM service's errors as the form's (by the field that sent the value), and those no field sent."""
    by_name: dict[str, str] = {}
    for f in fields:
        if f.target.startswith(target_defs.CUSTOM):
            by_name[f"custom_fields.{f.target.removeprefix(target_defs.CUSTOM)}"] = f.key
        elif f.target.startswith("lead."):
            by_name[f.target.removeprefix("lead.")] = f.key
        elif f.target == "contact.first_name":
            by_name.setdefault("contact_name", f.key)
        elif f.target in ("contact.email", "contact.phone"):
            by_name.setdefault(f.target.removeprefix("contact."), f.key)
    mapped: Errors = {}
    rest: list[str] = []
    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [("__all__", exc.messages)]
    for name, messages in items:
        if name in by_name:
            mapped.setdefault(by_name[name], []).extend(messages)
        else:
            rest += [f"{name}: {m}" for m in messages]
    return mapped, rest


@dataclass
class Outcome:
    """What became of a submission: `entry` its log entry; `errors` the visitor's to fix (nothing written);
    `pending` valid but not placed (kept in the log to run again); `spam` caught by the trap."""

    entry: Exchange | None = None
    placed: Placed | None = None
    errors: Errors = field(default_factory=dict)
    pending: bool = False
    spam: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def submission_receive(
    conn: Connection,
    form: WebForm,
    raw: Mapping[str, Any],
    *,
    request: Mapping[str, Any],
    retry_of: Exchange | None = None,
) -> Outcome:
    """Check, place and log one submission (`raw`: the submitted values by key). The log entry and what the
    submission made are committed together (one commit a submission); what made nothing is rolled back to a
    savepoint, and the entry then says why."""
    with transaction.atomic():
        return _receive(conn, form, raw, request=request, retry_of=retry_of)


def _receive(
    conn: Connection, form: WebForm, raw: Mapping[str, Any], *, request: Mapping[str, Any], retry_of: Exchange | None
) -> Outcome:
    fields = list(form.fields.all())
    if str(raw.get(form.honeypot) or "").strip():
        entry = exchange_open(conn, direction=Exchange.Direction.INBOUND, operation=OPERATION, request=request)
        exchange_close(entry, status=Exchange.Status.REFUSED, error="spam: the trap field was filled in")
        return Outcome(entry=entry, spam=True)
    # The lengths of the lead's and contact's fields (a custom field's value is held to its own rules).
    known = {t.key: t for t in target_defs.model_targets()}
    values, errors = submission_clean(fields, raw, known)
    if errors:
        return _refused(conn, request, errors, retry_of)
    # Kept so that the submission can be run again from the log (valid values only: nothing unstorable).
    replay = {"data": {f.key: raw.get(f.key) for f in fields if f.key in raw}}
    entry = exchange_open(
        conn,
        direction=Exchange.Direction.INBOUND,
        operation=OPERATION,
        request=request,
        replay=replay,
        retry_of=retry_of,
    )
    try:
        # What goes into the CRM and the log (the task's subject, why it was not placed) is in the workspace's
        # language, not in the visitor's that their answer is in.
        with translation.override(_workspace_language()):
            placed = submission_place(connection=conn, form=form, fields=fields, values=values)
    except ValidationError as exc:
        mapped, rest = _field_errors(exc, fields)
        if mapped and not rest:
            exchange_close(
                entry, status=Exchange.Status.REFUSED, error="invalid", problems=_problems(mapped), counts={}
            )
            return Outcome(entry=entry, errors=mapped)
        return _failed(entry, "; ".join(rest + [f"{k}: {' '.join(v)}" for k, v in mapped.items()]))
    except (Unplaced, PermissionDenied) as exc:
        return _failed(entry, str(exc))
    except Exception as exc:  # the visitor's submission is kept in the log whatever went wrong
        logger.exception("website form submission of connection %s failed", conn.pk)
        return _failed(entry, f"{type(exc).__name__}: {exc}")
    counts = {"leads": 1 if placed.lead else 0, "contacts_found": 1 if placed.contact else 0, "tasks": 1}
    response = {"lead": placed.lead.pk} if placed.lead else {"contact": placed.contact.pk if placed.contact else None}
    exchange_close(entry, status=Exchange.Status.OK, counts=counts, response={**response, "task": placed.task.pk})
    return Outcome(entry=entry, placed=placed)


def _workspace_language() -> str:
    tenant = getattr(db, "tenant", None)
    return str(getattr(tenant, "language", "") or conf.LANGUAGE_CODE)


def _problems(errors: Errors) -> list[dict[str, Any]]:
    return [{"record": key, "error": " ".join(messages)} for key, messages in errors.items()]


def _refused(conn: Connection, request: Mapping[str, Any], errors: Errors, retry_of: Exchange | None) -> Outcome:
    entry = exchange_open(
        conn, direction=Exchange.Direction.INBOUND, operation=OPERATION, request=request, retry_of=retry_of
    )
    exchange_close(entry, status=Exchange.Status.REFUSED, error="invalid", problems=_problems(errors))
    return Outcome(entry=entry, errors=errors)


def _failed(entry: Exchange, error: str) -> Outcome:
    exchange_close(entry, status=Exchange.Status.FAILED, error=error)
    return Outcome(entry=entry, pending=True)


def submission_retry(exchange: Exchange, actor: User) -> Exchange:
    """The log's retry: the kept submission placed again as the form is now (a new entry, `retry_of` the old)."""
    require_manager(actor)
    conn = exchange.connection
    form = WebForm.objects.filter(connection=conn).first()
    if form is None or not isinstance(exchange.replay, dict) or not isinstance(exchange.replay.get("data"), dict):
        raise ValidationError(_("This exchange cannot be retried."))
    request = {"retry": True, "by": actor.pk}
    outcome = submission_receive(conn, form, exchange.replay["data"], request=request, retry_of=exchange)
    assert outcome.entry is not None
    return outcome.entry


def lead_source_of(event: Event) -> dict[str, str] | None:
    """For the processes' form trigger: the website form a new lead came from (its connection acted)."""
    if event.kind != "lead" or event.type != "record.created" or event.actor_id is None:
        return None
    uid = Connection.objects.filter(kind=KIND, identity_id=event.actor_id).values_list("uid", flat=True).first()
    return {"source": "form", "connection": str(uid)} if uid is not None else None
