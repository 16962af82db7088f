"""Workspace settings: pipelines, stages and custom fields, for admins only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.customfields.services import custom_field_create
from crm.deals.models import Deal, Pipeline, Stage
from crm.history.models import ChangeRecord
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(workspace) -> Client:
    with tenant_context(workspace.tenant):
        member = user_create(email="member@example.com", password=PASSWORD, full_name="Plain Member")
    return workspace.client(logged_in_as=member)


def _in(workspace, fn: Callable[[], Any]) -> Any:
    with tenant_context(workspace.tenant):
        return fn()


def _sales(workspace) -> tuple[Pipeline, dict[str, Stage]]:
    with tenant_context(workspace.tenant):
        pipeline = Pipeline.objects.get(name="Sales")
        return pipeline, {s.name: s for s in pipeline.stages.all()}


def _stage_names(workspace, pipeline: Pipeline) -> list[str]:
    return _in(workspace, lambda: list(pipeline.stages.order_by("position").values_list("name", flat=True)))


# --- pipelines and stages ----------------------------------------------------------------------------------


def test_admin_creates_renames_and_deactivates_a_pipeline(workspace, owner_client) -> None:
    assert owner_client.get("/settings/pipelines/").status_code == 200
    response = owner_client.post("/settings/pipelines/", {"name": "Service desk", "kind": "service"})
    assert response.status_code == 302
    pipeline = _in(workspace, lambda: Pipeline.objects.get(name="Service desk"))
    assert pipeline.kind == "service" and response["Location"] == f"/settings/pipelines/{pipeline.pk}/"
    assert _stage_names(workspace, pipeline)[-2:] == ["Won", "Lost"]

    response = owner_client.post(f"/settings/pipelines/{pipeline.pk}/", {"name": "Support", "kind": "resales"})
    assert response.status_code == 302
    pipeline = _in(workspace, lambda: Pipeline.objects.get(pk=pipeline.pk))
    assert (pipeline.name, pipeline.kind, pipeline.is_active) == ("Support", "resales", False)
    # Gone from the board's switcher, still reachable in settings.
    board = owner_client.get("/deals/board/")
    assert pipeline not in board.context["pipelines"]
    assert owner_client.get(f"/settings/pipelines/{pipeline.pk}/").status_code == 200


def test_a_duplicate_pipeline_name_is_a_form_error(workspace, owner_client) -> None:
    response = owner_client.post("/settings/pipelines/", {"name": "Sales", "kind": "sales"})
    assert response.status_code == 422
    assert response.context["form"].errors["name"]
    assert _in(workspace, lambda: Pipeline.objects.count()) == 1


def test_admin_adds_edits_and_reorders_stages(workspace, owner_client) -> None:
    pipeline, stages = _sales(workspace)
    response = owner_client.post(
        f"/settings/pipelines/{pipeline.pk}/stages/",
        {"new-name": "Contract", "new-probability": "90", "new-outcome": "open"},
    )
    assert response.status_code == 302
    # New open stages go before Won and Lost.
    assert _stage_names(workspace, pipeline) == [
        "New", "Qualification", "Proposal", "Negotiation", "Contract", "Won", "Lost",
    ]  # fmt: skip
    new = stages["New"]
    response = owner_client.post(
        f"/settings/stages/{new.pk}/",
        {f"s{new.pk}-name": "Incoming", f"s{new.pk}-probability": "5", f"s{new.pk}-outcome": "open"},
    )
    assert response.status_code == 302
    new = _in(workspace, lambda: Stage.objects.get(pk=new.pk))
    assert (new.name, new.probability) == ("Incoming", 5)

    owner_client.post(f"/settings/stages/{new.pk}/move/", {"direction": "down"})
    assert _stage_names(workspace, pipeline)[:2] == ["Qualification", "Incoming"]
    owner_client.post(f"/settings/stages/{new.pk}/move/", {"direction": "up"})
    owner_client.post(f"/settings/stages/{new.pk}/move/", {"direction": "up"})  # already first: no change
    assert _stage_names(workspace, pipeline)[:2] == ["Incoming", "Qualification"]


def test_a_bad_probability_is_refused(workspace, owner_client) -> None:
    stages = _sales(workspace)[1]
    new = stages["New"]
    response = owner_client.post(
        f"/settings/stages/{new.pk}/",
        {f"s{new.pk}-name": "New", f"s{new.pk}-probability": "150", f"s{new.pk}-outcome": "open"},
        follow=True,
    )
    assert "Ensure this value is less than or equal to 100." in response.content.decode()
    assert _in(workspace, lambda: Stage.objects.get(pk=new.pk).probability) == 10


def test_removing_a_stage_with_deals_asks_where_to_move_them(workspace, owner_client) -> None:
    stages = _sales(workspace)[1]
    deals = _in(workspace, lambda: DealFactory.create_batch(2, stage=stages["Qualification"]))
    url = f"/settings/stages/{stages['Qualification'].pk}/remove/"
    page = owner_client.get(url)
    assert page.status_code == 200 and "This stage holds 2 deals." in page.content.decode()

    refused = owner_client.post(url, {})
    assert refused.status_code == 422
    assert "choose where to move them" in refused.content.decode()
    assert _in(workspace, lambda: Stage.objects.filter(pk=stages["Qualification"].pk).exists())

    response = owner_client.post(url, {"move_deals_to": stages["Proposal"].pk})
    assert response.status_code == 302
    with tenant_context(workspace.tenant):
        assert not Stage.objects.filter(pk=stages["Qualification"].pk).exists()
        assert set(Deal.objects.filter(pk__in=[d.pk for d in deals]).values_list("stage", flat=True)) == {
            stages["Proposal"].pk
        }
        assert ChangeRecord.objects.filter(
            record_type=RecordType.DEAL, action=ChangeRecord.Action.STAGE_MOVED, record_id=deals[0].pk
        ).exists()


def test_an_empty_stage_is_removed_after_a_confirmation(workspace, owner_client) -> None:
    pipeline, stages = _sales(workspace)
    url = f"/settings/stages/{stages['Negotiation'].pk}/remove/"
    assert "No deal is in this stage." in owner_client.get(url).content.decode()
    assert owner_client.post(url, {}).status_code == 302
    assert "Negotiation" not in _stage_names(workspace, pipeline)


# --- custom fields -----------------------------------------------------------------------------------------


def test_admin_adds_a_choice_field_renames_it_and_values_stay(workspace, owner_client) -> None:
    response = owner_client.post(
        "/settings/custom-fields/",
        {"record_type": "company", "label": "Segment", "field_type": "choice", "choices": "SMB\nEnterprise\n\n"},
    )
    assert response.status_code == 302
    field = _in(workspace, lambda: CustomField.objects.get(label="Segment"))
    assert (field.key, field.choices) == ("segment", ["SMB", "Enterprise"])
    company = _in(workspace, lambda: CompanyFactory(custom_fields={"segment": "SMB"}))

    response = owner_client.post(
        f"/settings/custom-fields/{field.pk}/",
        {"label": "Customer segment", "choices": "SMB\nEnterprise\nPublic", "show_in_list": "on"},
    )
    assert response.status_code == 302
    with tenant_context(workspace.tenant):
        field.refresh_from_db()
        assert (field.label, field.key, field.show_in_list) == ("Customer segment", "segment", True)
        assert field.choices == ["SMB", "Enterprise", "Public"]
        company.refresh_from_db()
        assert company.custom_fields == {"segment": "SMB"}


def test_a_choice_field_needs_choices(workspace, owner_client) -> None:
    response = owner_client.post(
        "/settings/custom-fields/", {"record_type": "deal", "label": "Channel", "field_type": "multi_choice"}
    )
    assert response.status_code == 422
    assert "Give at least one choice." in response.content.decode()
    assert not _in(workspace, lambda: CustomField.objects.exists())


def test_custom_fields_reorder_within_their_record_type(workspace, owner_client) -> None:
    def make() -> list[CustomField]:
        return [
            custom_field_create(actor=workspace.owner, record_type="deal", label=label, field_type="text")
            for label in ("First", "Second", "Third")
        ]

    *_, third = _in(workspace, make)
    assert owner_client.post(f"/settings/custom-fields/{third.pk}/move/", {"direction": "up"}).status_code == 302
    order = _in(workspace, lambda: list(CustomField.objects.filter(record_type="deal").values_list("label", flat=True)))
    assert order == ["First", "Third", "Second"]


def test_removing_a_field_says_how_many_records_hold_a_value_and_then_removes_them(workspace, owner_client) -> None:
    def make() -> CustomField:
        field = custom_field_create(actor=workspace.owner, record_type="company", label="Region", field_type="text")
        CompanyFactory.create_batch(3, custom_fields={"region": "North"})
        CompanyFactory(custom_fields={})
        return field

    field = _in(workspace, make)
    page = owner_client.get(f"/settings/custom-fields/{field.pk}/remove/")
    assert "3 records hold a value in this field" in page.content.decode()
    assert _in(workspace, lambda: CustomField.objects.filter(pk=field.pk).exists())  # the GET removed nothing

    assert owner_client.post(f"/settings/custom-fields/{field.pk}/remove/").status_code == 302
    with tenant_context(workspace.tenant):
        from crm.companies.models import Company

        assert not CustomField.objects.filter(pk=field.pk).exists()
        assert not Company.objects.filter(custom_fields__has_key="region").exists()


# --- permissions -------------------------------------------------------------------------------------------


def test_non_admins_get_403_on_every_settings_page_and_nothing_changes(workspace, member_client) -> None:
    pipeline, stages = _sales(workspace)
    field = _in(
        workspace,
        lambda: custom_field_create(actor=workspace.owner, record_type="deal", label="Source", field_type="text"),
    )
    deal = _in(workspace, lambda: DealFactory(stage=stages["New"]))
    s = stages["New"].pk
    requests = [
        ("get", "/settings/pipelines/", {}),
        ("post", "/settings/pipelines/", {"name": "Hijack", "kind": "sales"}),
        ("get", f"/settings/pipelines/{pipeline.pk}/", {}),
        ("post", f"/settings/pipelines/{pipeline.pk}/", {"name": "Renamed", "kind": "sales"}),
        (
            "post",
            f"/settings/pipelines/{pipeline.pk}/stages/",
            {"new-name": "X", "new-probability": 1, "new-outcome": "open"},
        ),
        ("post", f"/settings/stages/{s}/", {f"s{s}-name": "Renamed", f"s{s}-probability": 1, f"s{s}-outcome": "open"}),
        ("post", f"/settings/stages/{s}/move/", {"direction": "down"}),
        ("get", f"/settings/stages/{s}/remove/", {}),
        ("post", f"/settings/stages/{s}/remove/", {"move_deals_to": stages["Proposal"].pk}),
        ("get", "/settings/custom-fields/", {}),
        ("post", "/settings/custom-fields/", {"record_type": "deal", "label": "Y", "field_type": "text"}),
        ("get", f"/settings/custom-fields/{field.pk}/", {}),
        ("post", f"/settings/custom-fields/{field.pk}/", {"label": "Renamed"}),
        ("post", f"/settings/custom-fields/{field.pk}/move/", {"direction": "up"}),
        ("get", f"/settings/custom-fields/{field.pk}/remove/", {}),
        ("post", f"/settings/custom-fields/{field.pk}/remove/", {}),
    ]
    for method, url, data in requests:
        response = getattr(member_client, method)(url, data)
        assert response.status_code == 403, (method, url)
    with tenant_context(workspace.tenant):
        assert list(Pipeline.objects.values_list("name", flat=True)) == ["Sales"]
        assert list(pipeline.stages.order_by("position").values_list("name", flat=True)) == [
            "New", "Qualification", "Proposal", "Negotiation", "Won", "Lost",
        ]  # fmt: skip
        assert list(CustomField.objects.values_list("label", flat=True)) == ["Source"]
        deal.refresh_from_db()
        assert deal.stage_id == s
    # And the menu does not offer them.
    assert "/settings/pipelines/" not in member_client.get("/deals/board/").content.decode()


def test_settings_pages_issue_a_fixed_number_of_queries(workspace, owner_client, django_assert_max_num_queries) -> None:
    def make() -> None:
        for i in range(8):
            pipeline = Pipeline.objects.create(name=f"P{i}", position=i + 2)
            Stage.objects.bulk_create(Stage(pipeline=pipeline, name=f"S{j}", position=j) for j in range(6))
            custom_field_create(actor=workspace.owner, record_type="lead", label=f"F{i}", field_type="text")

    _in(workspace, make)
    pipeline, _ = _sales(workspace)
    owner_client.get("/settings/pipelines/")
    # Host, session, user, then the page's own reads; each after a search_path SET (django-tenants).
    with django_assert_max_num_queries(2 * 5):
        assert owner_client.get("/settings/pipelines/").status_code == 200
    with django_assert_max_num_queries(2 * 5):
        assert owner_client.get(f"/settings/pipelines/{pipeline.pk}/").status_code == 200
    with django_assert_max_num_queries(2 * 4):
        assert owner_client.get("/settings/custom-fields/").status_code == 200
