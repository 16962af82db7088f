"""REST endpoints for deals (/api/v1/deals/: stage moves, line items) and the workspace's pipelines and stages
(/api/v1/pipelines/)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import BeforeValidator, StrictBool, WithJsonSchema

from crm.contacts.models import Contact
from crm.core.api import (
    CUSTOM_FILTER_PATHS,
    MAX_LINES,
    ClearableText,
    Count,
    Currency,
    DecimalStr,
    Id,
    IdParam,
    In,
    Money,
    Name,
    PageParams,
    Percent,
    Quantity,
    RecordFilters,
    RecordIn,
    RecordOut,
    RecordPatch,
    Text,
    actor,
    custom_filters,
    hidden_of,
    json_integer,
    optional,
    paginate,
    patch_data,
    record_filter,
    reference,
    unset,
    with_custom_fields,
)
from crm.core.api_access import requires
from crm.core.types import RecordType
from crm.deals.models import Deal, DealLineItem, Pipeline, Stage
from crm.deals.selectors import deal_get, deals_visible_to, pipeline_get, pipelines_all, stages_of
from crm.deals.services import (
    deal_create,
    deal_delete,
    deal_move_to_stage,
    deal_set_line_items,
    deal_update,
    pipeline_create,
    pipeline_delete,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_update,
    stages_reorder,
)
from tenants.accounts.policy import Action, WorkspacePermission

router = Router()
CUSTOM_FILTER_PATHS["/deals/"] = RecordType.DEAL

DECIMAL = 'Decimal string, e.g. "1250.00".'
STAGE = "A stage of the deal's pipeline (422 otherwise)."
MAX_CONTACTS = 200
MAX_STAGES = 50
Probability = Annotated[int, Field(ge=0, le=100, description="Win probability, %."), BeforeValidator(json_integer)]
# Its own enum in the OpenAPI document (activities have a `Kind` too).
PipelineKind = Annotated[
    Pipeline.Kind,
    WithJsonSchema({"type": "string", "enum": [k.value for k in Pipeline.Kind], "title": "PipelineKind"}),
]


# --- deals ------------------------------------------------------------------------------------------------


class LineItemOut(Schema):
    id: int
    product: int | None
    name: str
    quantity: DecimalStr
    unit: str
    price: DecimalStr = Field(description="Per unit, VAT excluded. " + DECIMAL)
    discount_percent: DecimalStr
    vat_rate: DecimalStr
    subtotal: DecimalStr = Field(description="quantity × price.")
    discount: DecimalStr
    vat: DecimalStr = Field(description="VAT on the discounted amount.")
    total: DecimalStr = Field(description="subtotal − discount + vat.")

    @staticmethod
    def resolve_product(obj: DealLineItem) -> int | None:
        return obj.product_id


class LineItemIn(In):
    product: Id | None = Field(
        None,
        description="Fills name, unit, price and VAT from the catalogue. A product of another currency than the "
        "deal's is refused (422).",
    )
    name: Text | None = Field(None, max_length=255, description="Required unless a product gives it (422).")
    quantity: Quantity = Decimal("1")
    unit: Text | None = Field(None, max_length=20, description="The product's (or pcs) when left out or null.")
    price: Money | None = Field(None, description="Required unless a product gives it (422).")
    discount_percent: Percent = Decimal("0")
    vat_rate: Percent | None = Field(None, description="The product's (or 0) when left out or null.")


class TotalsOut(Schema):
    subtotal: DecimalStr
    discount: DecimalStr
    vat: DecimalStr
    total: DecimalStr
    currency: str


def _sum(items: list[DealLineItem], attribute: str) -> str:
    return str(sum((getattr(i, attribute) for i in items), Decimal("0.00")))


@with_custom_fields(RecordType.DEAL, "out")
class DealOut(RecordOut):
    title: str
    company: int | None
    contacts: list[int]
    pipeline: int
    stage: int
    amount: DecimalStr = Field(description=DECIMAL + " The total of the line items when there are any.")
    currency: str = Field(description="ISO 4217.")
    expected_close_date: datetime.date | None
    lost_reason: str
    closed_at: datetime.datetime | None
    stage_changed_at: datetime.datetime | None
    line_items: list[LineItemOut]
    totals: TotalsOut = Field(description="Of the line items; without any, the amount alone.")

    @staticmethod
    def resolve_company(obj: Deal) -> int | None:
        return obj.company_id

    @staticmethod
    def resolve_contacts(obj: Deal) -> list[int]:
        return [c.pk for c in obj.contacts.all()]

    @staticmethod
    def resolve_pipeline(obj: Deal) -> int:
        return obj.pipeline_id

    @staticmethod
    def resolve_stage(obj: Deal) -> int:
        return obj.stage_id

    @staticmethod
    def resolve_line_items(obj: Deal) -> list[DealLineItem]:
        return list(obj.line_items.all())

    @staticmethod
    def resolve_totals(obj: Deal) -> dict[str, str]:
        items = list(obj.line_items.all())
        if not items:
            zero = str(Decimal("0.00"))
            return {
                "subtotal": str(obj.amount),
                "discount": zero,
                "vat": zero,
                "total": str(obj.amount),
                "currency": obj.currency,
            }
        return {
            "subtotal": _sum(items, "subtotal"),
            "discount": _sum(items, "discount"),
            "vat": _sum(items, "vat"),
            "total": _sum(items, "total"),
            "currency": obj.currency,
        }


@with_custom_fields(RecordType.DEAL, "in")
class DealIn(RecordIn):
    title: Name = Field(max_length=255)
    company: Id | None = None
    contacts: Annotated[list[Id], Field(max_length=MAX_CONTACTS)] = Field(
        default_factory=list, description="Ids of the deal's contacts."
    )
    pipeline: Id | None = Field(None, description="The first active pipeline when left out.")
    stage: Id | None = Field(None, description=STAGE + " The pipeline's first open stage when left out.")
    amount: Money = Field(Decimal("0"), description="Ignored when line items are given: it becomes their total.")
    currency: Currency = optional(description="ISO 4217; the workspace's default when left out.")
    expected_close_date: datetime.date | None = None
    line_items: Annotated[list[LineItemIn], Field(max_length=MAX_LINES)] = Field(default_factory=list)


@with_custom_fields(RecordType.DEAL, "patch")
class DealPatch(RecordPatch):
    title: Name = unset(max_length=255)
    company: Id | None = None
    contacts: Annotated[list[Id], Field(max_length=MAX_CONTACTS)] | None = None
    pipeline: Id = unset()
    stage: Id = unset(description=STAGE)
    amount: Money = unset()
    currency: Currency = unset(description="ISO 4217.")
    expected_close_date: datetime.date | None = None
    lost_reason: ClearableText = Field(None, max_length=255)


class DealFilters(RecordFilters):
    pipeline: IdParam | None = None
    stage: IdParam | None = None
    company: IdParam | None = None
    contact: IdParam | None = None
    is_open: bool | None = None


class DealPage(Schema):
    items: list[DealOut]
    next_cursor: str | None


class MoveIn(In):
    stage: Id = Field(description=STAGE)
    lost_reason: Text = Field("", max_length=255, description="Required when moving to a lost stage (422).")
    version: Count | None = None


class LineItemsIn(In):
    items: Annotated[list[LineItemIn], Field(max_length=MAX_LINES)] = Field(
        description="Errors name them as in a deal's body: `line_items.<n>.<field>`."
    )


def _details() -> list[Prefetch]:
    return [
        Prefetch("line_items", queryset=DealLineItem.objects.order_by("position", "id")),
        Prefetch("contacts", queryset=Contact.objects.only("id")),
    ]


def _read(request: HttpRequest, deal_id: int) -> Deal:
    # Re-read after a write, so amounts come back as stored (two decimals), not as they were typed.
    deal = deal_get(actor(request), deal_id)
    prefetch_related_objects([deal], *_details())
    return deal


@router.get("/deals/", response=DealPage, summary="List deals", tags=["deals"])
@requires(Action.VIEW, RecordType.DEAL)
def list_deals(request: HttpRequest, filters: Query[DealFilters], page: Query[PageParams]) -> dict[str, Any]:
    deals = deals_visible_to(actor(request))
    for name in ("pipeline", "stage", "company"):
        if getattr(filters, name) is not None:
            deals = deals.filter(**{f"{name}_id": getattr(filters, name)})
    if filters.contact is not None:
        deals = deals.filter(contacts=filters.contact)
    if filters.is_open is not None:
        deals = deals.filter(closed_at__isnull=filters.is_open)
    deals = record_filter(deals, RecordType.DEAL, filters, custom_filters(request), hidden_of(request, RecordType.DEAL))
    return paginate(deals.prefetch_related(*_details()), page)


@router.post("/deals/", response={201: DealOut}, summary="Create a deal", tags=["deals"])
@requires(Action.CREATE, RecordType.DEAL)
def create_deal(request: HttpRequest, payload: DealIn) -> Deal:
    data = payload.model_dump(exclude_unset=True, exclude={"contacts", "line_items"})
    items = [i.model_dump(exclude_unset=True, exclude_none=True) for i in payload.line_items]
    deal = deal_create(actor=actor(request), data=data, contacts=payload.contacts, line_items=items)
    return _read(request, deal.pk)


@router.get("/deals/{deal_id}", response=DealOut, summary="Read a deal", tags=["deals"])
@requires(Action.VIEW, RecordType.DEAL, record="deal_id")
def read_deal(request: HttpRequest, deal_id: int) -> Deal:
    return _read(request, deal_id)


@router.patch("/deals/{deal_id}", response=DealOut, summary="Update a deal", tags=["deals"])
@requires(Action.EDIT, RecordType.DEAL, record="deal_id")
def update_deal(request: HttpRequest, deal_id: int, payload: DealPatch) -> Deal:
    deal = deal_get(actor(request), deal_id)
    data, version = patch_data(payload)
    contacts = data.pop("contacts", None)
    deal_update(actor=actor(request), deal=deal, data=data, contacts=contacts, expected_version=version)
    return _read(request, deal_id)


@router.delete("/deals/{deal_id}", response={204: None}, summary="Delete a deal", tags=["deals"])
@requires(Action.DELETE, RecordType.DEAL, record="deal_id")
def delete_deal(request: HttpRequest, deal_id: int) -> Status:
    deal_delete(actor=actor(request), deal=deal_get(actor(request), deal_id))
    return Status(204, None)


@router.post("/deals/{deal_id}/move", response=DealOut, summary="Move a deal to a stage", tags=["deals"])
@requires(Action.EDIT, RecordType.DEAL, record="deal_id")
def move_deal(request: HttpRequest, deal_id: int, payload: MoveIn) -> Deal:
    deal = deal_get(actor(request), deal_id)
    stage = reference(stages_of(deal.pipeline), payload.stage, "stage", _("Choose a stage of the deal's pipeline."))
    deal_move_to_stage(
        actor=actor(request), deal=deal, stage=stage, lost_reason=payload.lost_reason, expected_version=payload.version
    )
    return _read(request, deal_id)


@router.put("/deals/{deal_id}/line-items", response=DealOut, summary="Replace a deal's line items", tags=["deals"])
@requires(Action.EDIT, RecordType.DEAL, record="deal_id")
def set_deal_line_items(request: HttpRequest, deal_id: int, payload: LineItemsIn) -> Deal:
    deal = deal_get(actor(request), deal_id)
    items = [i.model_dump(exclude_unset=True, exclude_none=True) for i in payload.items]
    deal_set_line_items(actor=actor(request), deal=deal, items=items)
    return _read(request, deal_id)


# --- pipelines and stages ---------------------------------------------------------------------------------


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int = Field(description="Win probability, %.")
    outcome: Stage.Outcome


class PipelineOut(Schema):
    id: int
    name: str
    kind: PipelineKind
    position: int
    is_active: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj: Pipeline) -> list[Stage]:
        return list(obj.stages.all())


UNIQUE = "Unique among the workspace's pipelines (422 otherwise)."


class PipelineIn(In):
    name: Name = Field(max_length=100, description=UNIQUE)
    kind: PipelineKind = Pipeline.Kind.SALES
    stages: Annotated[list[Annotated[Text, Field(max_length=100)]], Field(max_length=MAX_STAGES)] = Field(
        default_factory=list, description="Names of the open stages; Won and Lost follow."
    )


class PipelinePatch(In):
    name: Name = unset(max_length=100, description=UNIQUE)
    kind: PipelineKind = unset()
    is_active: StrictBool = unset()
    position: Count = unset()


STAGE_NAME = "Unique within the pipeline (422 otherwise)."


class StageIn(In):
    name: Name = Field(max_length=100, description=STAGE_NAME)
    probability: Probability = 0
    outcome: Stage.Outcome = Stage.Outcome.OPEN
    position: Count | None = Field(None, ge=1, description="1-based; before the closing stages when left out.")


class StagePatch(In):
    name: Name = unset(STAGE_NAME, max_length=100)
    probability: Probability = unset()
    outcome: Stage.Outcome = unset()


class StageOrderIn(In):
    stage_ids: Annotated[list[Id], Field(max_length=MAX_STAGES)] = Field(
        description="Every stage of the pipeline, each once, in the new order (422 otherwise)."
    )


class StageDeleteParams(Schema):
    move_deals_to: IdParam | None = Field(
        None, description="Stage of the same pipeline that takes the stage's deals (422 otherwise)."
    )


def _pipelines() -> QuerySet[Pipeline]:
    return pipelines_all().prefetch_related(Prefetch("stages", queryset=Stage.objects.order_by("position", "id")))


def _pipeline(pipeline_id: int) -> Pipeline:
    return get_object_or_404(_pipelines(), pk=pipeline_get(pipeline_id).pk)


def _stage(pipeline_id: int, stage_id: int) -> Stage:
    return get_object_or_404(stages_of(pipeline_get(pipeline_id)), pk=stage_id)


@router.get("/pipelines/", response=list[PipelineOut], summary="List pipelines", tags=["pipelines"])
@requires()
def list_pipelines(request: HttpRequest) -> QuerySet[Pipeline]:
    return _pipelines()


@router.post("/pipelines/", response={201: PipelineOut}, summary="Create a pipeline", tags=["pipelines"])
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def create_pipeline(request: HttpRequest, payload: PipelineIn) -> Pipeline:
    pipeline = pipeline_create(actor=actor(request), name=payload.name, kind=payload.kind, stages=payload.stages)
    return _pipeline(pipeline.pk)


@router.get("/pipelines/{pipeline_id}", response=PipelineOut, summary="Read a pipeline", tags=["pipelines"])
@requires()
def read_pipeline(request: HttpRequest, pipeline_id: int) -> Pipeline:
    return _pipeline(pipeline_id)


@router.patch("/pipelines/{pipeline_id}", response=PipelineOut, summary="Update a pipeline", tags=["pipelines"])
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def update_pipeline(request: HttpRequest, pipeline_id: int, payload: PipelinePatch) -> Pipeline:
    pipeline_update(
        actor=actor(request), pipeline=pipeline_get(pipeline_id), data=payload.model_dump(exclude_unset=True)
    )
    return _pipeline(pipeline_id)


@router.delete(
    "/pipelines/{pipeline_id}",
    response={204: None},
    summary="Delete a pipeline",
    description="A pipeline that holds deals is refused (422, `pipeline`): move or delete them first.",
    tags=["pipelines"],
)
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def delete_pipeline(request: HttpRequest, pipeline_id: int) -> Status:
    pipeline_delete(actor=actor(request), pipeline=pipeline_get(pipeline_id))
    return Status(204, None)


@router.post("/pipelines/{pipeline_id}/stages", response={201: StageOut}, summary="Add a stage", tags=["pipelines"])
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def create_stage(request: HttpRequest, pipeline_id: int, payload: StageIn) -> Stage:
    return stage_create(actor=actor(request), pipeline=pipeline_get(pipeline_id), **payload.model_dump())


@router.put(
    "/pipelines/{pipeline_id}/stages/order", response=list[StageOut], summary="Reorder stages", tags=["pipelines"]
)
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def reorder_stages(request: HttpRequest, pipeline_id: int, payload: StageOrderIn) -> list[Stage]:
    return stages_reorder(actor=actor(request), pipeline=pipeline_get(pipeline_id), stage_ids=payload.stage_ids)


@router.patch(
    "/pipelines/{pipeline_id}/stages/{stage_id}", response=StageOut, summary="Update a stage", tags=["pipelines"]
)
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def update_stage(request: HttpRequest, pipeline_id: int, stage_id: int, payload: StagePatch) -> Stage:
    stage = _stage(pipeline_id, stage_id)
    return stage_update(actor=actor(request), stage=stage, data=payload.model_dump(exclude_unset=True))


@router.delete(
    "/pipelines/{pipeline_id}/stages/{stage_id}", response={204: None}, summary="Delete a stage", tags=["pipelines"]
)
@requires(permission=WorkspacePermission.MANAGE_PIPELINES)
def delete_stage(request: HttpRequest, pipeline_id: int, stage_id: int, params: Query[StageDeleteParams]) -> Status:
    stage = _stage(pipeline_id, stage_id)
    target = None
    if params.move_deals_to is not None:
        target = reference(stages_of(stage.pipeline), params.move_deals_to, "move_deals_to")
    stage_delete(actor=actor(request), stage=stage, move_deals_to=target)
    return Status(204, None)
