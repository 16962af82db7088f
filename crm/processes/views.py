"""The business processes pages (/settings/processes/), for people with the "manage processes" permission:
the definitions, the editor (name, trigger, steps drawn as a diagram, each step's form), publishing, turning
on and off, a dry run on a record, the versions, and the running instances with their cancel button.

Every edit of the trigger or a step writes the whole draft through `services.definition_update`, so the spec's
errors come back onto the form that caused them and an invalid draft is never saved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.companies.selectors import companies_visible_to, company_get
from crm.contacts.selectors import contact_get, contacts_visible_to
from crm.deals.selectors import deal_get, deals_visible_to
from crm.leads.selectors import lead_get, leads_visible_to
from crm.processes import editor, services, shipped
from crm.processes.forms import (
    STEP_TYPE_LABELS,
    STEP_TYPES,
    TRIGGER_TYPE_LABELS,
    TRIGGER_TYPES,
    WITH_CONDITION,
    CancelForm,
    ConditionForm,
    DefinitionForm,
    DryRunForm,
    InstanceFilterForm,
    NewDefinitionForm,
    StepForm,
    StepKindForm,
    TriggerForm,
    TriggerKindForm,
)
from crm.processes.models import Instance, ProcessDefinition, StepRun
from crm.web.records.forms import searchable
from tenants.accounts import policy
from tenants.accounts.models import User

View = Callable[..., HttpResponseBase]
INSTANCES_PAGE_SIZE = 50
VERSIONS_SHOWN = 100
PICKER_FIRST = 20
# A step id in an address is at most this long ([a-z0-9_]{1,32}); anything else is not a step.
STEP_ID_MAX = 32

_RECORDS: dict[str, tuple[Callable[[User, object], Any], Callable[[User], Any], str]] = {
    "deal": (deal_get, deals_visible_to, "deals"),
    "lead": (lead_get, leads_visible_to, "leads"),
    "company": (company_get, companies_visible_to, "companies"),
    "contact": (contact_get, contacts_visible_to, "contacts"),
}


def manager_required(view: View) -> View:
    """Signed in, with the right to manage processes (403 before anything is read)."""

    @login_required
    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        policy.require_permission(_actor(request), policy.WorkspacePermission.MANAGE_PROCESSES)
        return view(request, *args, **kwargs)

    return wrapper


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _definition(pk: int) -> ProcessDefinition:
    return get_object_or_404(ProcessDefinition.objects.select_related("current"), pk=pk)


def _error_dict(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {key: [str(m) for m in msgs] for key, msgs in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


def _steps(definition: ProcessDefinition) -> list[dict[str, Any]]:
    return [dict(step) for step in (definition.draft or {}).get("steps", [])]


def _trigger(definition: ProcessDefinition) -> dict[str, Any]:
    return dict((definition.draft or {}).get("trigger") or {})


def _step_index(definition: ProcessDefinition, step_id: str) -> int:
    if len(step_id) > STEP_ID_MAX:
        raise Http404
    for index, step in enumerate(_steps(definition)):
        if step.get("id") == step_id:
            return index
    raise Http404


def _step_label(step: Mapping[str, Any], index: int) -> str:
    kind = STEP_TYPE_LABELS.get(str(step.get("type")), str(step.get("type")))
    return f"{index + 1}. {step.get('name') or step.get('title') or kind}"


def _other_errors(errors: Mapping[str, list[str]], steps: list[dict[str, Any]], *, mine: str = "") -> list[str]:
    """The draft's errors that are not about the part being edited (`mine`, "steps.2."), each saying where."""
    found = []
    for key, msgs in errors.items():
        if mine and (key == mine.rstrip(".") or key.startswith(mine)):
            continue
        where = ""
        parts = key.split(".")
        if parts[0] == "steps" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(steps):
            where = _step_label(steps[int(parts[1])], int(parts[1])) + ": "
        elif parts[0] == "trigger":
            where = _("Trigger") + ": "
        found += [where + msg for msg in msgs]
    return found


def _save_draft(
    request: HttpRequest, definition: ProcessDefinition, draft: dict[str, Any]
) -> dict[str, list[str]] | None:
    """Write the draft; its errors when refused (nothing saved)."""
    try:
        services.definition_update(actor=_actor(request), definition=definition, data={"draft": draft})
    except ValidationError as exc:
        return _error_dict(exc)
    return None


# --- the diagram ---------------------------------------------------------------------------------------------


@dataclass
class Box:
    number: int
    step_id: str
    kind: str
    kind_label: str
    name: str
    sentence: str
    # (label, target text): where the step may jump ("if rejected", "3. Ship the order").
    jumps: list[tuple[str, str]] = field(default_factory=list)
    # What the arrow to the next box says when the flow goes on there ("" for no label); None: it does not.
    next_label: str | None = ""


def diagram(definition: ProcessDefinition) -> list[Box]:
    steps, record_type = _steps(definition), services.trigger_record_type(_trigger(definition))
    numbers = {str(step.get("id")): index for index, step in enumerate(steps)}

    def target(value: Any) -> str:
        if value in (None, "", "end"):
            return _("the end")
        index = numbers.get(str(value))
        return _step_label(steps[index], index) if index is not None else str(value)

    boxes = []
    for index, step in enumerate(steps):
        kind = str(step.get("type", ""))
        box = Box(
            number=index + 1,
            step_id=str(step.get("id", "")),
            kind=kind,
            kind_label=str(STEP_TYPE_LABELS.get(kind, kind)),
            name=str(step.get("name") or step.get("title") or ""),
            sentence=editor.step_describe(step, record_type),
        )
        if kind == "branch":
            box.jumps = [(_("if yes"), target(step.get("then"))), (_("otherwise"), target(step.get("else")))]
            box.next_label = None
        elif kind == "approval":
            box.jumps = [(_("if rejected"), target(step.get("on_reject", "end")))]
            if step.get("timeout"):
                box.jumps.append((_("on timeout"), target(step.get("on_timeout", "end"))))
            box.next_label = _("if approved")
        if step.get("next") and kind != "branch":
            # It says where it goes on to: a jump, not the arrow to the box below.
            box.jumps.append((str(box.next_label or _("then")), target(step["next"])))
            box.next_label = None
        elif index == len(steps) - 1 and box.next_label is not None:
            box.next_label = None
            box.jumps.append(("", target("end")))
        boxes.append(box)
    return boxes


def _page_context(definition: ProcessDefinition) -> dict[str, Any]:
    trigger = _trigger(definition)
    return {
        "definition": definition,
        "trigger_sentence": editor.trigger_describe(trigger) if trigger else "",
        "trigger_kind": TRIGGER_TYPE_LABELS.get(str(trigger.get("type")), ""),
        "boxes": diagram(definition),
        "unpublished": services.draft_differs(definition),
        "step_kinds": StepKindForm(webhook=editor.webhook_step_available()),
        "running": Instance.objects.filter(definition=definition, state=Instance.State.RUNNING).count(),
    }


# --- list, new, the definition's page ------------------------------------------------------------------------


def _list_page(request: HttpRequest, form: NewDefinitionForm, status: int = 200) -> HttpResponse:
    running = Count("instances", filter=Q(instances__state=Instance.State.RUNNING))
    found = ProcessDefinition.objects.select_related("current").annotate(running=running).order_by("name", "id")
    context = {"definitions": found, "form": form, "templates": shipped.TEMPLATES}
    return render(request, "processes/list.html", context, status=status)


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's refusal shown at the form's fields (the rest above the form)."""
    for key, msgs in _error_dict(exc).items():
        for msg in msgs:
            form.add_error(key if key in form.fields else None, msg)


@manager_required
@require_GET
def definitions(request: HttpRequest) -> HttpResponse:
    return _list_page(request, NewDefinitionForm())


@manager_required
@require_POST
def definition_new(request: HttpRequest) -> HttpResponse:
    form = NewDefinitionForm(request.POST)
    if form.is_valid():
        try:
            if form.cleaned_data["template"]:
                made = services.template_install(actor=_actor(request), key=form.cleaned_data["template"])
                if form.cleaned_data["name"].strip():
                    services.definition_update(
                        actor=_actor(request), definition=made, data={"name": form.cleaned_data["name"]}
                    )
            else:
                made = services.definition_create(actor=_actor(request), name=form.cleaned_data["name"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Process created. It is off until you publish and turn it on."))
            return redirect("processes:detail", pk=made.pk)
    return _list_page(request, form, status=422)


@manager_required
@require_http_methods(["GET", "POST"])
def definition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    initial = {"name": definition.name, "description": definition.description}
    form = DefinitionForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.definition_update(actor=_actor(request), definition=definition, data=form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("processes:detail", pk=definition.pk)
    context = _page_context(definition) | {"form": form}
    return render(request, "processes/detail.html", context, status=422 if request.method == "POST" else 200)


# --- the trigger ---------------------------------------------------------------------------------------------


@manager_required
@require_http_methods(["GET", "POST"])
def trigger_edit(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    current = _trigger(definition)
    chosen = TriggerKindForm(
        request.GET if "type" in request.GET else None,
        initial={"type": current.get("type"), "record_type": services.trigger_record_type(current) or "deal"},
    )
    if chosen.is_bound and not chosen.is_valid():
        raise Http404
    kind = chosen.cleaned_data["type"] if chosen.is_bound else str(current.get("type") or "manual")
    record_type = chosen.cleaned_data["record_type"] if chosen.is_bound else chosen.initial["record_type"]
    if kind not in dict(TRIGGER_TYPES):
        kind = "manual"
    if kind == "stage_entered":
        record_type = "deal"
    elif kind == "form":
        record_type = "lead"
    data = request.POST if request.method == "POST" else None
    form = TriggerForm(data, kind=kind, record_type=record_type, trigger=current)
    same = current.get("type") == kind and services.trigger_record_type(current) == record_type
    condition = ConditionForm(
        data, prefix="cond", record_type=record_type, condition=current.get("condition") if same else None
    )
    with_condition = kind in WITH_CONDITION
    if request.method == "POST" and form.is_valid() and (not with_condition or condition.is_valid()):
        trigger = form.trigger(condition.cleaned_data["condition"] if with_condition else None)
        errors = _save_draft(request, definition, {"trigger": trigger, "steps": _steps(definition)})
        if errors is None:
            messages.success(request, _("Trigger saved."))
            return redirect("processes:detail", pk=definition.pk)
        form.add_spec_errors(errors, "trigger.")
        if "trigger.condition" in errors:
            condition.add_error(None, errors["trigger.condition"])
        for msg in _other_errors(errors, _steps(definition), mine="trigger."):
            form.add_error(None, msg)
    context = {
        "definition": definition,
        "chosen": chosen,
        "kind": kind,
        "kind_label": TRIGGER_TYPE_LABELS.get(kind, kind),
        "record_type": record_type,
        "form": form,
        "condition": condition if with_condition else None,
    }
    return render(request, "processes/trigger.html", context, status=422 if request.method == "POST" else 200)


# --- steps ---------------------------------------------------------------------------------------------------


def _new_step_id(steps: list[dict[str, Any]], kind: str) -> str:
    taken = {str(step.get("id")) for step in steps}
    n = 1
    while f"{kind}_{n}" in taken:
        n += 1
    return f"{kind}_{n}"


def _step_form(
    request: HttpRequest, definition: ProcessDefinition, kind: str, step: dict[str, Any] | None
) -> tuple[StepForm, ConditionForm | None]:
    steps, record_type = _steps(definition), services.trigger_record_type(_trigger(definition)) or "deal"
    own = step.get("id") if step else None
    targets = [(str(s.get("id")), _step_label(s, i)) for i, s in enumerate(steps) if s.get("id") != own]
    tasks = [(str(s.get("id")), _step_label(s, i)) for i, s in enumerate(steps) if s.get("type") == "task"]
    data = request.POST if request.method == "POST" else None
    form = StepForm(data, kind=kind, record_type=record_type, step=step, targets=targets, task_steps=tasks)
    condition = None
    if kind == "branch":
        current = step.get("condition") if step else None
        condition = ConditionForm(data, prefix="cond", record_type=record_type, condition=current)
    return form, condition


def _step_save(
    request: HttpRequest,
    definition: ProcessDefinition,
    form: StepForm,
    condition: ConditionForm | None,
    *,
    index: int | None,
) -> HttpResponse | None:
    """Write the step at `index` (None: a new one at the end); None when the form shows errors."""
    if not form.is_valid() or (condition is not None and not condition.is_valid()):
        return None
    steps = _steps(definition)
    step_id = str(steps[index]["id"]) if index is not None else _new_step_id(steps, form.kind)
    cond = condition.cleaned_data["condition"] if condition is not None else None
    if condition is not None and not cond:
        condition.add_error(None, _("Write at least one row of the condition."))
        return None
    step = form.step(step_id=step_id, condition=cond)
    position = index if index is not None else len(steps)
    if index is None:
        steps.append(step)
    else:
        steps[index] = step
    errors = _save_draft(request, definition, {"trigger": _trigger(definition), "steps": steps})
    if errors is None:
        messages.success(request, _("Step saved."))
        return redirect(reverse("processes:detail", kwargs={"pk": definition.pk}) + f"#step-{step_id}")
    form.add_spec_errors(errors, f"steps.{position}.")
    if condition is not None and f"steps.{position}.condition" in errors:
        condition.add_error(None, errors[f"steps.{position}.condition"])
    for msg in _other_errors(errors, steps, mine=f"steps.{position}."):
        form.add_error(None, msg)
    return None


@manager_required
@require_http_methods(["GET", "POST"])
def step_add(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    chosen = StepKindForm(request.GET, webhook=editor.webhook_step_available())
    if not chosen.is_valid():
        if "type" in request.GET:
            raise Http404
        return render(request, "processes/step_kind.html", {"definition": definition, "chosen": chosen})
    kind = chosen.cleaned_data["type"]
    form, condition = _step_form(request, definition, kind, None)
    if request.method == "POST" and (done := _step_save(request, definition, form, condition, index=None)):
        return done
    context = {"definition": definition, "form": form, "condition": condition, "kind": kind, "step": None}
    context["kind_label"] = STEP_TYPE_LABELS.get(kind, kind)
    return render(request, "processes/step.html", context, status=422 if request.method == "POST" else 200)


@manager_required
@require_http_methods(["GET", "POST"])
def step_edit(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    definition = _definition(pk)
    index = _step_index(definition, step)
    current = _steps(definition)[index]
    kind = str(current.get("type"))
    if kind not in dict(STEP_TYPES):
        raise Http404
    form, condition = _step_form(request, definition, kind, current)
    if request.method == "POST" and (done := _step_save(request, definition, form, condition, index=index)):
        return done
    context = {"definition": definition, "form": form, "condition": condition, "kind": kind, "step": current}
    context |= {"kind_label": STEP_TYPE_LABELS.get(kind, kind), "number": index + 1}
    return render(request, "processes/step.html", context, status=422 if request.method == "POST" else 200)


def _refused(request: HttpRequest, definition: ProcessDefinition, errors: Mapping[str, list[str]]) -> HttpResponse:
    for msg in _other_errors(errors, _steps(definition)):
        messages.error(request, msg)
    return redirect("processes:detail", pk=definition.pk)


@manager_required
@require_POST
def step_move(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    definition = _definition(pk)
    index = _step_index(definition, step)
    steps = _steps(definition)
    other = index - 1 if request.POST.get("direction") == "up" else index + 1
    if not 0 <= other < len(steps):
        return redirect("processes:detail", pk=definition.pk)
    steps[index], steps[other] = steps[other], steps[index]
    errors = _save_draft(request, definition, {"trigger": _trigger(definition), "steps": steps})
    if errors is not None:
        return _refused(request, definition, errors)
    return redirect(reverse("processes:detail", kwargs={"pk": definition.pk}) + f"#step-{step}")


@manager_required
@require_POST
def step_delete(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    definition = _definition(pk)
    index = _step_index(definition, step)
    steps = _steps(definition)
    del steps[index]
    errors = _save_draft(request, definition, {"trigger": _trigger(definition), "steps": steps})
    if errors is not None:
        messages.error(request, _("The step was not deleted: other steps refer to it."))
        return _refused(request, definition, errors)
    messages.success(request, _("Step deleted."))
    return redirect("processes:detail", pk=definition.pk)


# --- publish, on/off, delete ---------------------------------------------------------------------------------


@manager_required
@require_POST
def definition_publish(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    before = definition.current_id
    try:
        version = services.definition_publish(actor=_actor(request), definition=definition)
    except ValidationError as exc:
        return _refused(request, definition, _error_dict(exc))
    if version.pk == before:
        messages.info(request, _("Nothing changed since version %(number)d.") % {"number": version.number})
    else:
        messages.success(request, _("Published as version %(number)d.") % {"number": version.number})
    return redirect("processes:detail", pk=definition.pk)


@manager_required
@require_POST
def definition_active(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    active = request.POST.get("active") == "1"
    try:
        services.definition_set_active(actor=_actor(request), definition=definition, active=active)
    except ValidationError as exc:
        return _refused(request, definition, _error_dict(exc))
    messages.success(request, _("The process is on.") if active else _("The process is off."))
    return redirect("processes:detail", pk=definition.pk)


@manager_required
@require_http_methods(["GET", "POST"])
def definition_delete(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    if request.method == "POST":
        try:
            services.definition_delete(actor=_actor(request), definition=definition)
        except ValidationError as exc:
            return _refused(request, definition, _error_dict(exc))
        messages.success(request, _("“%(name)s” deleted.") % {"name": definition.name})
        return redirect("processes:list")
    running = Instance.objects.filter(definition=definition, state=Instance.State.RUNNING).count()
    return render(request, "processes/delete.html", {"definition": definition, "running": running})


# --- dry run -------------------------------------------------------------------------------------------------


@manager_required
@require_GET
def dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    trigger = _trigger(definition)
    needs_record = trigger.get("type") != "schedule"
    fixed_type = services.trigger_record_type(trigger)
    form = DryRunForm(request.GET if request.GET else None)
    record_type = fixed_type or "deal"
    if form.is_bound and form.is_valid() and not fixed_type and form.cleaned_data["record_type"]:
        record_type = form.cleaned_data["record_type"]
    lines, record = None, None
    if form.is_bound and form.is_valid() and _steps(definition):
        raw = (form.cleaned_data["record"] or "").strip()
        if needs_record and not (raw.isdigit() and len(raw) <= 18):
            form.add_error("record", _("Choose a record."))
        else:
            try:
                if needs_record and record_type in _RECORDS:
                    record = _RECORDS[record_type][0](_actor(request), int(raw))
                lines = editor.dry_run_lines(
                    version_like={"trigger": trigger, "steps": _steps(definition)},
                    record_type=record_type if needs_record else "",
                    record=record,
                )
            except Http404:
                form.add_error("record", _("There is no such record you can see."))
    if needs_record and record_type in _RECORDS:
        _get, visible, kind = _RECORDS[record_type]
        first = list(visible(_actor(request)).order_by("-id")[:PICKER_FIRST])
        if record is not None and record not in first:
            first.insert(0, record)
        widget = form.fields["record"].widget = _select([(str(r.pk), str(r)) for r in first])
        widget.attrs["id"] = "id_record"
        searchable(form.fields["record"], kind)
    if fixed_type or not needs_record:
        del form.fields["record_type"]
    context = {"definition": definition, "form": form, "lines": lines, "record": record, "needs_record": needs_record}
    context |= {"no_steps": not _steps(definition)}
    return render(request, "processes/test.html", context, status=200 if form.is_valid() or not form.is_bound else 422)


def _select(choices: list[tuple[str, str]]) -> forms.Select:
    return forms.Select(choices=[("", "—"), *choices])


# --- versions and instances ----------------------------------------------------------------------------------


@manager_required
@require_GET
def versions(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    found = definition.versions.select_related("published_by").order_by("-number")[:VERSIONS_SHOWN]
    return render(request, "processes/versions.html", {"definition": definition, "versions": found})


@manager_required
@require_GET
def instances(request: HttpRequest, pk: int) -> HttpResponse:
    definition = _definition(pk)
    filters = InstanceFilterForm(request.GET or None, states=Instance.State.choices)
    found = Instance.objects.filter(definition=definition).select_related("version", "started_by")
    state = filters.cleaned_data["state"] if filters.is_bound and filters.is_valid() else ""
    if state:
        found = found.filter(state=state)
    page = Paginator(found.order_by("-started_at", "-id"), INSTANCES_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"definition": definition, "filters": filters, "page": page, "state": state}
    return render(request, "processes/instances.html", context)


def _instance(definition: ProcessDefinition, pk: int) -> Instance:
    return get_object_or_404(Instance.objects.select_related("version", "started_by"), definition=definition, pk=pk)


def _instance_page(
    request: HttpRequest, definition: ProcessDefinition, instance: Instance, form: CancelForm, status: int = 200
) -> HttpResponse:
    steps = list(StepRun.objects.filter(instance=instance).select_related("assignee", "decided_by").order_by("id"))
    approver_ids = {pk for step in steps for pk in step.approvers}
    names = {u.pk: u.get_full_name() or u.email for u in User.objects.filter(pk__in=approver_ids)}
    rows = [(step, [names.get(pk, f"#{pk}") for pk in step.approvers]) for step in steps]
    log = instance.log.select_related("actor").order_by("id")
    context = {"definition": definition, "instance": instance, "rows": rows, "log": log, "form": form}
    return render(request, "processes/instance.html", context, status=status)


@manager_required
@require_GET
def instance_detail(request: HttpRequest, pk: int, instance: int) -> HttpResponse:
    definition = _definition(pk)
    return _instance_page(request, definition, _instance(definition, instance), CancelForm())


@manager_required
@require_POST
def instance_cancel(request: HttpRequest, pk: int, instance: int) -> HttpResponse:
    definition = _definition(pk)
    found = _instance(definition, instance)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _instance_page(request, definition, found, form, status=422)
    if found.state != Instance.State.RUNNING:
        messages.info(request, _("This instance is not running."))
    else:
        try:
            editor.instance_cancel(actor=_actor(request), instance=found, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error(None, exc)
            return _instance_page(request, definition, found, form, status=422)
        messages.success(request, _("The instance is cancelled."))
    return redirect("processes:instance", pk=definition.pk, instance=found.pk)
