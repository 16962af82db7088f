"""Deals: stages and pipelines, board moves, line items and totals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.core.services import StaleVersion
from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline, Stage
from crm.deals.services import (
    deal_create,
    deal_move_to_stage,
    deal_set_line_items,
    deal_update,
    pipeline_create,
    stage_create,
    stage_delete,
    stage_update,
    stages_reorder,
)
from crm.history.models import ChangeRecord
from crm.history.selectors import history_of
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, ContactFactory, ProductFactory

pytestmark = pytest.mark.django_db


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__name="Sales", name=name)


def test_a_new_workspace_has_a_sales_pipeline(in_workspace) -> None:
    pipeline = Pipeline.objects.get()
    assert [(s.name, s.outcome) for s in pipeline.stages.order_by("position")] == [
        ("New", "open"),
        ("Qualification", "open"),
        ("Proposal", "open"),
        ("Negotiation", "open"),
        ("Won", "won"),
        ("Lost", "lost"),
    ]


def test_deal_create_defaults_to_the_first_open_stage(in_workspace) -> None:
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    deal = deal_create(
        actor=in_workspace.owner,
        data={"title": "Supply", "company": company.pk, "amount": "1200.50", "currency": "EUR"},
        contacts=[contact.pk],
    )
    assert deal.stage == stage("New") and deal.pipeline.name == "Sales"
    assert deal.amount == Decimal("1200.50") and deal.closed_at is None
    assert list(deal.contacts.all()) == [contact]


def test_deal_bad_input(in_workspace) -> None:
    other = pipeline_create(actor=in_workspace.owner, name="Service")
    foreign_stage = other.stages.first()
    with pytest.raises(ValidationError) as exc:
        deal_create(
            actor=in_workspace.owner, data={"title": "", "amount": "-5", "currency": "XXX", "stage": foreign_stage.pk}
        )
    assert "stage" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        deal_create(actor=in_workspace.owner, data={"title": "", "amount": "-5", "currency": "XXX"})
    assert {"title", "amount", "currency"} <= set(exc.value.message_dict)
    assert not Deal.objects.exists()


def test_move_to_stage_writes_history_and_closes_on_won(in_workspace) -> None:
    deal = deal_create(actor=in_workspace.owner, data={"title": "Big one"})
    deal = deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=stage("Proposal"))
    assert deal.stage == stage("Proposal") and deal.closed_at is None and deal.version == 2
    deal = deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=stage("Won"))
    assert deal.closed_at is not None
    moves = [
        h
        for h in history_of(record_type=RecordType.DEAL, record_id=deal.pk)
        if h.action == ChangeRecord.Action.STAGE_MOVED
    ]
    assert [(m.changes[0]["old"], m.changes[0]["new"]) for m in moves] == [("Proposal", "Won"), ("New", "Proposal")]
    deal = deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=stage("Negotiation"))
    assert deal.closed_at is None  # reopened


def test_moving_to_lost_needs_a_reason(in_workspace) -> None:
    deal = deal_create(actor=in_workspace.owner, data={"title": "Risky"})
    with pytest.raises(ValidationError) as exc:
        deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=stage("Lost"))
    assert "lost_reason" in exc.value.message_dict
    deal.refresh_from_db()
    assert deal.stage == stage("New")
    deal = deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=stage("Lost"), lost_reason="Budget cut")
    assert deal.lost_reason == "Budget cut" and deal.closed_at is not None


def test_move_to_a_stage_of_another_pipeline_is_refused(in_workspace) -> None:
    other = pipeline_create(actor=in_workspace.owner, name="Service")
    deal = deal_create(actor=in_workspace.owner, data={"title": "X"})
    with pytest.raises(ValidationError):
        deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=other.stages.first())


def test_stale_move_is_refused(in_workspace) -> None:
    deal = deal_create(actor=in_workspace.owner, data={"title": "X"})
    deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=stage("Proposal"), expected_version=1)
    with pytest.raises(StaleVersion):
        deal_move_to_stage(actor=in_workspace.owner, deal=deal, stage=stage("Negotiation"), expected_version=1)


def test_update_moves_between_pipelines_to_the_first_open_stage(in_workspace) -> None:
    other = pipeline_create(actor=in_workspace.owner, name="Service", stages=["Request", "In work"])
    deal = deal_create(actor=in_workspace.owner, data={"title": "X"})
    deal = deal_update(actor=in_workspace.owner, deal=deal, data={"pipeline": other.pk})
    assert deal.pipeline == other and deal.stage.name == "Request"


def test_line_items_compute_the_amount(in_workspace) -> None:
    product = ProductFactory(price=Decimal("100.00"), vat_rate=Decimal("20"))
    deal = deal_create(actor=in_workspace.owner, data={"title": "With items"})
    deal = deal_set_line_items(
        actor=in_workspace.owner,
        deal=deal,
        items=[
            {"product": product.pk, "quantity": Decimal("3")},  # 300, VAT 60 -> 360
            {
                "name": "Installation",
                "quantity": Decimal("1"),
                "price": Decimal("1000"),
                "discount_percent": Decimal("10"),
                "vat_rate": Decimal("0"),
            },  # 1000 - 100 -> 900
        ],
    )
    items = list(deal.line_items.all())
    assert [(i.subtotal, i.discount, i.vat, i.total) for i in items] == [
        (Decimal("300.00"), Decimal("0.00"), Decimal("60.00"), Decimal("360.00")),
        (Decimal("1000.00"), Decimal("100.00"), Decimal("0.00"), Decimal("900.00")),
    ]
    assert deal.amount == Decimal("1260.00")
    with pytest.raises(ValidationError):
        deal_update(actor=in_workspace.owner, deal=deal, data={"amount": "5"})


def test_bad_line_items_change_nothing(in_workspace) -> None:
    deal = deal_create(actor=in_workspace.owner, data={"title": "X", "amount": "10"})
    with pytest.raises(ValidationError) as exc:
        deal_set_line_items(
            actor=in_workspace.owner,
            deal=deal,
            items=[
                {"name": "ok", "price": Decimal("5")},
                {"name": "bad", "price": Decimal("-1"), "quantity": Decimal("1")},
            ],
        )
    assert "line_items.1.price" in exc.value.message_dict
    deal.refresh_from_db()
    assert deal.amount == Decimal("10.00") and not deal.line_items.exists()


def test_stage_admin_add_rename_reorder_remove(in_workspace) -> None:
    owner = in_workspace.owner
    pipeline = Pipeline.objects.get()
    added = stage_create(actor=owner, pipeline=pipeline, name="Demo", probability=40)
    names = list(pipeline.stages.order_by("position").values_list("name", flat=True))
    assert names.index("Demo") == 4 and names[-2:] == ["Won", "Lost"]  # before the closing stages
    stage_update(actor=owner, stage=added, data={"name": "Product demo"})
    ids = list(pipeline.stages.order_by("-position").values_list("pk", flat=True))
    stages_reorder(actor=owner, pipeline=pipeline, stage_ids=ids)
    assert pipeline.stages.order_by("position").first().name == "Lost"

    deal = deal_create(actor=owner, data={"title": "In demo", "stage": added.pk})
    with pytest.raises(ValidationError) as exc:
        stage_delete(actor=owner, stage=added)
    assert "move_deals_to" in exc.value.message_dict
    assert stage_delete(actor=owner, stage=added, move_deals_to=stage("Proposal")) == 1
    deal.refresh_from_db()
    assert deal.stage == stage("Proposal")
    assert not Stage.objects.filter(pk=added.pk).exists()


def test_only_admins_configure_pipelines(in_workspace) -> None:
    member = user_create(email="member@example.com", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        pipeline_create(actor=member, name="Mine")
    with pytest.raises(PermissionDenied):
        stage_create(actor=member, pipeline=Pipeline.objects.get(), name="Sneaky")
    assert Pipeline.objects.count() == 1 and not Stage.objects.filter(name="Sneaky").exists()
