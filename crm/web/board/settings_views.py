"""Workspace settings for admins: pipelines and their stages, custom fields. Everyone else gets a 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.types import CORE_RECORD_TYPES
from crm.customfields.selectors import custom_fields_all
from crm.customfields.services import (
    custom_field_create,
    custom_field_delete,
    custom_field_update,
    custom_fields_reorder,
)
from crm.deals.models import Pipeline
from crm.deals.selectors import pipeline_get, stages_of
from crm.deals.services import (
    pipeline_create,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_update,
    stages_reorder,
)
from crm.web.board.forms import (
    CustomFieldCreateForm,
    CustomFieldEditForm,
    MoveDirectionForm,
    PipelineCreateForm,
    PipelineEditForm,
    StageDeleteForm,
    StageForm,
    add_service_errors,
)
from crm.web.board.selectors import (
    custom_field_get,
    custom_field_holders_count,
    pipelines_with_stages,
    stage_deal_count,
    stage_get,
)
from tenants.accounts import policy
from tenants.accounts.models import User

View = Callable[..., HttpResponse]


def admin_only(view: View) -> View:
    """Settings pages are refused outright (403) to non-admins, reads included; services check again."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        policy.require_permission(cast(User, request.user), policy.WorkspacePermission.MANAGE_PIPELINES)
        return view(request, *args, **kwargs)

    return wrapper


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _reordered(ids: list[int], pk: int, direction: str) -> list[int]:
    """`ids` with `pk` swapped with its neighbour up or down (unchanged at either end)."""
    i = ids.index(pk)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
    return ids


# --- pipelines and stages ----------------------------------------------------------------------------------


@admin_only
@require_http_methods(["GET", "POST"])
def pipelines(request: HttpRequest) -> HttpResponse:
    form = PipelineCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = pipeline_create(
                actor=_actor(request), name=form.cleaned_data["name"], kind=form.cleaned_data["kind"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Pipeline “%(name)s” created.") % {"name": pipeline.name})
            return redirect("settings:pipeline", pk=pipeline.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "crm/board/settings_pipelines.html",
        {"form": form, "pipelines": pipelines_with_stages()},
        status=status,
    )


@admin_only
@require_http_methods(["GET", "POST"])
def pipeline_edit(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = pipeline_get(pk)
    initial = {"name": pipeline.name, "kind": pipeline.kind, "is_active": pipeline.is_active}
    form = PipelineEditForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            pipeline_update(actor=_actor(request), pipeline=pipeline, data=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Pipeline saved."))
            return redirect("settings:pipeline", pk=pipeline.pk)
        pipeline.refresh_from_db()
    return _pipeline_page(request, pipeline, form=form, status=422 if request.method == "POST" else 200)


def _pipeline_page(
    request: HttpRequest,
    pipeline: Pipeline,
    *,
    form: PipelineEditForm | None = None,
    stage_form: StageForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if form is None:
        form = PipelineEditForm(initial={"name": pipeline.name, "kind": pipeline.kind, "is_active": pipeline.is_active})
    stage_forms = []
    for stage in stages_of(pipeline):
        stage_form_row = StageForm(
            initial={"name": stage.name, "probability": stage.probability, "outcome": stage.outcome},
            prefix=f"s{stage.pk}",
        )
        # Each row's inputs sit in their own table cells and belong to the row's form by its id.
        for form_field in stage_form_row.fields.values():
            form_field.widget.attrs["form"] = f"stage-{stage.pk}"
        stage_forms.append((stage, stage_form_row))
    context = {
        "pipeline": pipeline,
        "form": form,
        "stages": stage_forms,
        "stage_form": stage_form or StageForm(prefix="new"),
    }
    return render(request, "crm/board/settings_pipeline.html", context, status=status)


@admin_only
@require_POST
def stage_add(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = pipeline_get(pk)
    form = StageForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            stage_create(actor=_actor(request), pipeline=pipeline, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Stage added."))
            return redirect("settings:pipeline", pk=pipeline.pk)
    return _pipeline_page(request, pipeline, stage_form=form, status=422)


@admin_only
@require_POST
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = stage_get(pk)
    form = StageForm(request.POST, prefix=f"s{stage.pk}")
    if form.is_valid():
        try:
            stage_update(actor=_actor(request), stage=stage, data=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Stage saved."))
            return redirect("settings:pipeline", pk=stage.pipeline_id)
    messages.error(request, " ".join(f"{e}" for errors in form.errors.values() for e in errors))
    return redirect("settings:pipeline", pk=stage.pipeline_id)


@admin_only
@require_POST
def stage_move(request: HttpRequest, pk: int) -> HttpResponse:
    stage = stage_get(pk)
    form = MoveDirectionForm(request.POST)
    if form.is_valid():
        ids = list(stages_of(stage.pipeline).values_list("pk", flat=True))
        stages_reorder(
            actor=_actor(request),
            pipeline=stage.pipeline,
            stage_ids=_reordered(ids, stage.pk, form.cleaned_data["direction"]),
        )
    return redirect("settings:pipeline", pk=stage.pipeline_id)


@admin_only
@require_http_methods(["GET", "POST"])
def stage_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks first; when the stage holds deals, asks where to move them."""
    stage = stage_get(pk)
    deal_count = stage_deal_count(stage)
    targets = [s for s in stages_of(stage.pipeline) if s.pk != stage.pk]
    form = StageDeleteForm(request.POST if request.method == "POST" else None, targets=targets)
    if request.method == "POST" and form.is_valid():
        target_id = form.cleaned_data["move_deals_to"]
        target = next((s for s in targets if s.pk == target_id), None)
        try:
            moved = stage_delete(actor=_actor(request), stage=stage, move_deals_to=target)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Stage “%(name)s” removed; %(n)d deals moved.") % {"name": stage.name, "n": moved},
            )
            return redirect("settings:pipeline", pk=stage.pipeline_id)
    context = {"stage": stage, "deal_count": deal_count, "form": form}
    return render(
        request, "crm/board/settings_stage_delete.html", context, status=422 if request.method == "POST" else 200
    )


# --- custom fields -----------------------------------------------------------------------------------------


@admin_only
@require_http_methods(["GET", "POST"])
def custom_fields(request: HttpRequest) -> HttpResponse:
    form = CustomFieldCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            field = custom_field_create(actor=_actor(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Field “%(label)s” added.") % {"label": field.label})
            return redirect("settings:custom_fields")
    fields = list(custom_fields_all())
    groups = [(t, [f for f in fields if f.record_type == t.value]) for t in CORE_RECORD_TYPES]
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/board/settings_custom_fields.html", {"form": form, "groups": groups}, status=status)


@admin_only
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field = custom_field_get(pk)
    initial = {
        "label": field.label,
        "choices": "\n".join(field.choices),
        "is_required": field.is_required,
        "show_in_list": field.show_in_list,
    }
    form = CustomFieldEditForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if field.field_type not in ("choice", "multi_choice"):
            data.pop("choices")
        try:
            custom_field_update(actor=_actor(request), field=field, data=data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Field saved."))
            return redirect("settings:custom_fields")
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/board/settings_custom_field.html", {"field": field, "form": form}, status=status)


@admin_only
@require_POST
def custom_field_move(request: HttpRequest, pk: int) -> HttpResponse:
    field = custom_field_get(pk)
    form = MoveDirectionForm(request.POST)
    if form.is_valid():
        ids = list(custom_fields_all().filter(record_type=field.record_type).values_list("pk", flat=True))
        custom_fields_reorder(
            actor=_actor(request),
            record_type=field.record_type,
            field_ids=_reordered(ids, field.pk, form.cleaned_data["direction"]),
        )
    return redirect("settings:custom_fields")


@admin_only
@require_http_methods(["GET", "POST"])
def custom_field_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page that says how many records hold a value; the POST removes field and values."""
    field = custom_field_get(pk)
    if request.method == "POST":
        count = custom_field_delete(actor=_actor(request), field=field)
        messages.success(
            request,
            _("Field “%(label)s” removed with its values on %(n)d records.") % {"label": field.label, "n": count},
        )
        return redirect("settings:custom_fields")
    context = {"field": field, "holders": custom_field_holders_count(field)}
    return render(request, "crm/board/settings_custom_field_delete.html", context)
