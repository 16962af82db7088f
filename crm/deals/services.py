"""Writes on deals, their line items, and the workspace's pipelines and stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.bulk import Ids, bulk_records, bulk_tag
from crm.core.money import quantize
from crm.core.normalize import clean_tags
from crm.core.services import StaleVersion, record_create, record_delete, record_touch, record_update
from crm.core.types import RecordType
from crm.core.validation import refuse_bad_values, value_errors
from crm.deals.guards import stage_guards_check
from crm.deals.models import Deal, DealLineItem, Pipeline, Stage
from crm.deals.selectors import deals_visible_to
from crm.history.models import ChangeRecord
from crm.history.services import history_write
from crm.products.selectors import products_visible_to
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.models import User
from tenants.events.outbox import Type as EventType
from tenants.events.outbox import event_record

# Named in the language active when the workspace is created (its default language).
DEFAULT_PIPELINE_NAME = gettext_lazy("Sales")
DEFAULT_PIPELINES: dict[str, list[tuple[Any, int, str]]] = {
    "Sales": [
        (gettext_lazy("New"), 10, Stage.Outcome.OPEN),
        (gettext_lazy("Qualification"), 20, Stage.Outcome.OPEN),
        (gettext_lazy("Proposal"), 50, Stage.Outcome.OPEN),
        (gettext_lazy("Negotiation"), 80, Stage.Outcome.OPEN),
        (gettext_lazy("Won"), 100, Stage.Outcome.WON),
        (gettext_lazy("Lost"), 0, Stage.Outcome.LOST),
    ],
}


# --- pipelines and stages (workspace configuration, admins only) -------------------------------------------


@workspace_write
def pipelines_ensure_default() -> Pipeline:
    """A new workspace starts with one sales pipeline; idempotent."""
    existing = Pipeline.objects.order_by("position", "id").first()
    if existing is not None:
        return existing
    stages = DEFAULT_PIPELINES["Sales"]
    pipeline = Pipeline.objects.create(name=str(DEFAULT_PIPELINE_NAME), kind=Pipeline.Kind.SALES, position=1)
    Stage.objects.bulk_create(
        Stage(pipeline=pipeline, name=str(n), probability=p, outcome=o, position=i)
        for i, (n, p, o) in enumerate(stages, start=1)
    )
    return pipeline


@workspace_write
def pipeline_create(*, actor: User, name: str, kind: str = Pipeline.Kind.SALES, stages: Sequence[str] = ()) -> Pipeline:
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    refuse_bad_values({"name": name, "stages": list(stages)})
    position = (Pipeline.objects.aggregate(m=Max("position"))["m"] or 0) + 1
    pipeline = Pipeline(name=name.strip(), kind=kind, position=position)
    pipeline.full_clean()
    pipeline.save()
    names = [s.strip() for s in stages if s.strip()] or [str(s[0]) for s in DEFAULT_PIPELINES["Sales"][:-2]]
    for i, stage_name in enumerate(names, start=1):
        Stage.objects.create(pipeline=pipeline, name=stage_name, position=i, probability=min(90, i * 20))
    Stage.objects.create(
        pipeline=pipeline, name=_("Won"), position=len(names) + 1, probability=100, outcome=Stage.Outcome.WON
    )
    Stage.objects.create(pipeline=pipeline, name=_("Lost"), position=len(names) + 2, outcome=Stage.Outcome.LOST)
    return pipeline


@workspace_write
def pipeline_update(*, actor: User, pipeline: Pipeline, data: Mapping[str, Any]) -> Pipeline:
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    refuse_bad_values(data)
    for name in ("name", "kind", "is_active", "position"):
        if name in data:
            setattr(pipeline, name, data[name].strip() if name == "name" else data[name])
    if unknown := set(data) - {"name", "kind", "is_active", "position"}:
        raise ValidationError({n: [_("This field cannot be set.")] for n in sorted(unknown)})
    pipeline.full_clean()
    pipeline.save()
    return pipeline


@workspace_write
def pipeline_delete(*, actor: User, pipeline: Pipeline) -> None:
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    if Deal.objects.filter(pipeline=pipeline).exists():
        raise ValidationError({"pipeline": [_("This pipeline holds deals; move or delete them first.")]})
    pipeline.delete()


@workspace_write
def stage_create(
    *,
    actor: User,
    pipeline: Pipeline,
    name: str,
    probability: int = 0,
    outcome: str = Stage.Outcome.OPEN,
    position: int | None = None,
) -> Stage:
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    refuse_bad_values({"name": name})
    stages = list(Stage.objects.select_for_update().filter(pipeline=pipeline).order_by("position", "id"))
    stage = Stage(pipeline=pipeline, name=name.strip(), probability=probability, outcome=outcome)
    _refuse_taken_name(stage)
    stage.full_clean()
    # New open stages go before the closing (won/lost) ones unless a position is given.
    index = len([s for s in stages if s.outcome == Stage.Outcome.OPEN]) if position is None else position - 1
    stages.insert(max(0, min(index, len(stages))), stage)
    stage.position = 0
    stage.save()
    _renumber(stages)
    return stage


@workspace_write
def stage_update(*, actor: User, stage: Stage, data: Mapping[str, Any]) -> Stage:
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    if unknown := set(data) - {"name", "probability", "outcome"}:
        raise ValidationError({n: [_("This field cannot be set.")] for n in sorted(unknown)})
    refuse_bad_values(data)
    outcome_changed = "outcome" in data and data["outcome"] != stage.outcome
    for name, value in data.items():
        setattr(stage, name, value.strip() if name == "name" else value)
    _refuse_taken_name(stage)
    stage.full_clean()
    stage.save()
    if outcome_changed:
        # Deals in it open or close with it, so the board and totals stay truthful.
        closed_at = None if stage.outcome == Stage.Outcome.OPEN else timezone.now()
        Deal.objects.filter(stage=stage).update(closed_at=closed_at)
    return stage


@workspace_write
def stages_reorder(*, actor: User, pipeline: Pipeline, stage_ids: Sequence[int]) -> list[Stage]:
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    stages = {s.pk: s for s in Stage.objects.select_for_update().filter(pipeline=pipeline)}
    if sorted(stage_ids) != sorted(stages):
        raise ValidationError({"stage_ids": [_("Give every stage of this pipeline exactly once.")]})
    ordered = [stages[i] for i in stage_ids]
    _renumber(ordered)
    return ordered


@workspace_write
def stage_delete(*, actor: User, stage: Stage, move_deals_to: Stage | None = None) -> int:
    """Remove a stage; its deals move to `move_deals_to` (required when it holds any). Returns deals moved."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_PIPELINES)
    deals = list(Deal.objects.select_for_update().filter(stage=stage))
    if deals and move_deals_to is None:
        raise ValidationError({"move_deals_to": [_("This stage holds deals: choose where to move them.")]})
    if move_deals_to is not None and (move_deals_to.pk == stage.pk or move_deals_to.pipeline_id != stage.pipeline_id):
        raise ValidationError({"move_deals_to": [_("Choose another stage of the same pipeline.")]})
    if Stage.objects.filter(pipeline_id=stage.pipeline_id).count() <= 1:
        raise ValidationError({"stage": [_("A pipeline needs at least one stage.")]})
    for deal in deals:
        assert move_deals_to is not None
        _move(actor=actor, deal=deal, stage=move_deals_to, note=_("stage %(name)s removed") % {"name": stage.name})
    pipeline = stage.pipeline
    stage.delete()
    _renumber(list(Stage.objects.filter(pipeline=pipeline).order_by("position", "id")))
    return len(deals)


def _refuse_taken_name(stage: Stage) -> None:
    """Two stages of a pipeline never share a name: an error on the name, not on the whole stage."""
    if Stage.objects.filter(pipeline_id=stage.pipeline_id, name=stage.name).exclude(pk=stage.pk).exists():
        raise ValidationError({"name": [_("This pipeline already has a stage of this name.")]})


def _renumber(stages: list[Stage]) -> None:
    for i, stage in enumerate(stages, start=1):
        stage.position = i
    Stage.objects.bulk_update(stages, ["position"])


# --- deals -----------------------------------------------------------------------------------------------


def _resolve_stage(data: dict[str, Any], *, current: Deal | None = None) -> dict[str, Any]:
    """Fill in and check pipeline/stage: a stage must belong to the deal's pipeline."""
    pipeline_id = data.get("pipeline", current.pipeline_id if current else None)
    pipeline_id = getattr(pipeline_id, "pk", pipeline_id)
    stage_id = data.get("stage")
    stage_id = getattr(stage_id, "pk", stage_id)
    if pipeline_id is None:
        default = Pipeline.objects.filter(is_active=True).order_by("position", "id").first()
        if default is None:
            raise ValidationError({"pipeline": [_("Create a pipeline first.")]})
        pipeline_id = default.pk
    if stage_id is None and (current is None or ("pipeline" in data and pipeline_id != current.pipeline_id)):
        first = Stage.objects.filter(pipeline_id=pipeline_id, outcome=Stage.Outcome.OPEN).order_by("position").first()
        if first is None:
            raise ValidationError({"pipeline": [_("This pipeline has no open stage.")]})
        stage_id = first.pk
    out = {k: v for k, v in data.items() if k not in ("pipeline", "stage")}
    out["pipeline"] = pipeline_id
    if stage_id is not None:
        if not Stage.objects.filter(pk=stage_id, pipeline_id=pipeline_id).exists():
            raise ValidationError({"stage": [_("Choose a stage of the deal's pipeline.")]})
        out["stage"] = stage_id
    if "tags" in out:
        out["tags"] = clean_tags(out["tags"])
    return out


@workspace_write
def deal_create(
    *,
    actor: User,
    data: Mapping[str, Any],
    contacts: Sequence[int] = (),
    line_items: Sequence[Mapping[str, Any]] | None = None,
) -> Deal:
    deal = record_create(
        actor=actor, model=Deal, record_type=RecordType.DEAL, data=data, normalize=lambda d: _resolve_stage(d)
    )
    stage = Stage.objects.get(pk=deal.stage_id)
    deal.stage_changed_at = timezone.now()
    deal.closed_at = None if stage.outcome == Stage.Outcome.OPEN else deal.stage_changed_at
    deal.save(update_fields=["stage_changed_at", "closed_at"])
    if contacts:
        _set_contacts(actor, deal, contacts)
    if line_items:
        _replace_line_items(actor, deal, line_items)
    return deal


@workspace_write
def deal_update(
    *,
    actor: User,
    deal: Deal,
    data: Mapping[str, Any],
    contacts: Sequence[int] | None = None,
    expected_version: int | None = None,
) -> Deal:
    """Update fields; a stage or pipeline change goes through the same rules as a board move."""
    data = dict(data)
    new_stage = data.pop("stage", None)
    new_pipeline = data.pop("pipeline", None)
    if deal.line_items.exists() and "amount" in data:
        raise ValidationError({"amount": [_("The amount of a deal with line items is their total.")]})
    deal = record_update(
        actor=actor,
        record=deal,
        record_type=RecordType.DEAL,
        data=data,
        normalize=lambda d: {**d, **({"tags": clean_tags(d["tags"])} if "tags" in d else {})},
        expected_version=expected_version,
    )
    if new_stage is not None or new_pipeline is not None:
        resolved = _resolve_stage(
            {
                **({"pipeline": new_pipeline} if new_pipeline is not None else {}),
                **({"stage": new_stage} if new_stage is not None else {}),
            },
            current=deal,
        )
        stage = Stage.objects.get(pk=resolved.get("stage", deal.stage_id))
        if stage.pk != deal.stage_id:
            stage_guards_check(actor=actor, deal=deal, stage=stage)
            _move(actor=actor, deal=deal, stage=stage, lost_reason=data.get("lost_reason", deal.lost_reason))
    if contacts is not None:
        before = sorted(deal.contacts.values_list("pk", flat=True))
        if sorted(set(contacts)) != before:
            _set_contacts(actor, deal, contacts)
            history_write(
                actor=actor,
                record_type=RecordType.DEAL,
                record_id=deal.pk,
                action=ChangeRecord.Action.UPDATED,
                changes=[{"field": "contacts", "label": _("contacts"), "old": before, "new": sorted(set(contacts))}],
            )
            event_record(
                type=EventType.RECORD_UPDATED, kind=RecordType.DEAL.value, record=deal, actor=actor, fields=["contacts"]
            )
    return deal


def _set_contacts(actor: User, deal: Deal, contact_ids: Sequence[int]) -> None:
    from crm.contacts.selectors import contacts_visible_to

    ids = set(contact_ids)
    linked = set(deal.contacts.values_list("pk", flat=True)) if deal.pk else set()
    seen = set(contacts_visible_to(actor).filter(pk__in=ids | linked).values_list("pk", flat=True))
    # Only contacts the actor may see can be linked; the others are "no such contact", as in a read.
    if missing := ids - seen - linked:
        raise ValidationError(
            {"contacts": [_("No such contact: %(ids)s") % {"ids": ", ".join(map(str, sorted(missing)))}]}
        )
    # The actor decides about the contacts they see; those they cannot see stay linked as they were.
    deal.contacts.set((ids & seen) | (linked - seen))


@workspace_write
def deal_move_to_stage(
    *, actor: User, deal: Deal, stage: Stage, lost_reason: str = "", expected_version: int | None = None
) -> Deal:
    """Move a deal to another stage of its pipeline (the board's drag and drop)."""
    policy.require_on(actor, policy.Action.EDIT, RecordType.DEAL, deal)
    refuse_bad_values({"lost_reason": lost_reason})
    deal = Deal.objects.select_for_update().select_related("stage").get(pk=deal.pk)
    if expected_version is not None and expected_version != deal.version:
        raise StaleVersion(deal.version)
    if stage.pipeline_id != deal.pipeline_id:
        raise ValidationError({"stage": [_("Choose a stage of the deal's pipeline.")]})
    if stage.pk == deal.stage_id:
        return deal
    stage_guards_check(actor=actor, deal=deal, stage=stage)
    return _move(actor=actor, deal=deal, stage=stage, lost_reason=lost_reason)


def _move(*, actor: User, deal: Deal, stage: Stage, lost_reason: str = "", note: str = "") -> Deal:
    old_stage = Stage.objects.get(pk=deal.stage_id)
    if stage.outcome == Stage.Outcome.LOST and not (lost_reason or deal.lost_reason):
        raise ValidationError({"lost_reason": [_("Say why the deal was lost.")]})
    now = timezone.now()
    changes: list[dict[str, Any]] = [{"field": "stage", "label": _("stage"), "old": old_stage.name, "new": stage.name}]
    deal.stage = stage
    deal.pipeline_id = stage.pipeline_id
    deal.stage_changed_at = now
    was_closed = deal.closed_at is not None
    deal.closed_at = None if stage.outcome == Stage.Outcome.OPEN else (deal.closed_at or now)
    if was_closed != (deal.closed_at is not None):
        changes.append(
            {
                "field": "closed_at",
                "label": _("closed"),
                "old": None if not was_closed else "closed",
                "new": deal.closed_at.isoformat() if deal.closed_at else None,
            }
        )
    fields = ["stage", "pipeline", "stage_changed_at", "closed_at"]
    if stage.outcome == Stage.Outcome.LOST and lost_reason and lost_reason != deal.lost_reason:
        changes.append({"field": "lost_reason", "label": _("lost reason"), "old": deal.lost_reason, "new": lost_reason})
        deal.lost_reason = lost_reason
        fields.append("lost_reason")
    record_touch(record=deal, fields=fields)
    history_write(
        actor=actor,
        record_type=RecordType.DEAL,
        record_id=deal.pk,
        action=ChangeRecord.Action.STAGE_MOVED,
        changes=changes,
        note=note,
    )
    event_record(
        type=_STAGE_EVENTS.get(stage.outcome, EventType.DEAL_STAGE_CHANGED),
        kind=RecordType.DEAL.value,
        record=deal,
        actor=actor,
        fields=[change["field"] for change in changes],
        context={"from_stage_id": old_stage.pk, "to_stage_id": stage.pk},
    )
    return deal


# A move into a won or lost stage is that event; any other move is a stage change.
_STAGE_EVENTS: dict[str, str] = {Stage.Outcome.WON: EventType.DEAL_WON, Stage.Outcome.LOST: EventType.DEAL_LOST}


@workspace_write
def deal_set_line_items(*, actor: User, deal: Deal, items: Sequence[Mapping[str, Any]]) -> Deal:
    """Replace the deal's line items; the deal's amount becomes their total."""
    policy.require_on(actor, policy.Action.EDIT, RecordType.DEAL, deal)
    if policy.hides(actor, RecordType.DEAL, "line_items"):
        raise PermissionDenied
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    old_amount = deal.amount
    _replace_line_items(actor, deal, items)
    history_write(
        actor=actor,
        record_type=RecordType.DEAL,
        record_id=deal.pk,
        action=ChangeRecord.Action.UPDATED,
        changes=[{"field": "line_items", "label": _("line items"), "old": str(old_amount), "new": str(deal.amount)}],
    )
    event_record(
        type=EventType.RECORD_UPDATED,
        kind=RecordType.DEAL.value,
        record=deal,
        actor=actor,
        fields=["line_items", *(["amount"] if deal.amount != old_amount else [])],
    )
    return deal


def _replace_line_items(actor: User, deal: Deal, items: Sequence[Mapping[str, Any]]) -> None:
    errors: dict[str, list[str]] = {}
    rows: list[DealLineItem] = []
    product_ids = {int(i["product"]) for i in items if i.get("product")}
    products = {p.pk: p for p in products_visible_to(actor).filter(pk__in=product_ids)}
    for index, item in enumerate(items):
        if bad := value_errors(item):
            errors.update({f"line_items.{index}.{k}": v for k, v in bad.items()})
            continue
        product = products.get(int(item["product"])) if item.get("product") else None
        if item.get("product") and product is None:
            errors[f"line_items.{index}.product"] = [_("No such product.")]
            continue
        if product is not None and product.currency != deal.currency:
            errors[f"line_items.{index}.product"] = [_("The product is priced in another currency than the deal.")]
            continue
        row = DealLineItem(
            deal=deal,
            product=product,
            name=item.get("name") or (product.name if product else ""),
            quantity=item.get("quantity", Decimal("1")),
            unit=item.get("unit") or (product.unit if product else "pcs"),
            price=item.get("price", product.price if product else None),
            discount_percent=item.get("discount_percent", Decimal("0")),
            vat_rate=item.get("vat_rate", product.vat_rate if product else Decimal("0")),
            position=index + 1,
        )
        try:
            row.full_clean(exclude=["deal"])
        except ValidationError as exc:
            errors.update({f"line_items.{index}.{k}": v for k, v in exc.message_dict.items()})
            continue
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    DealLineItem.objects.filter(deal=deal).delete()
    DealLineItem.objects.bulk_create(rows)
    if rows:
        deal.amount = quantize(sum((r.total for r in rows), Decimal("0")))
        record_touch(record=deal, fields=["amount"])


@workspace_write
def deal_delete(*, actor: User, deal: Deal) -> None:
    record_delete(actor=actor, record=deal, record_type=RecordType.DEAL)


# --- bulk actions from the lists: each record goes through its own service, so history and search stay right.


@workspace_write
def deal_bulk_assign_owner(*, actor: User, ids: Ids, owner: User) -> int:
    deals = bulk_records(deals_visible_to(actor), ids)
    for deal in deals:
        deal_update(actor=actor, deal=deal, data={"owner": owner.pk})
    return len(deals)


@workspace_write
def deal_bulk_add_tag(*, actor: User, ids: Ids, tag: str) -> int:
    tag = bulk_tag(tag)
    deals = bulk_records(deals_visible_to(actor), ids)
    for deal in deals:
        if tag not in deal.tags:
            deal_update(actor=actor, deal=deal, data={"tags": [*deal.tags, tag]})
    return len(deals)


@workspace_write
def deal_bulk_delete(*, actor: User, ids: Ids) -> int:
    deals = bulk_records(deals_visible_to(actor), ids)
    for deal in deals:
        deal_delete(actor=actor, deal=deal)
    return len(deals)
