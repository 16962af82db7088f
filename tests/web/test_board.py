"""The pipeline board: columns with counts and sums, "show more", filters, and moving deals through the service."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline, Stage
from crm.history.models import ChangeRecord
from crm.web.board.selectors import CARDS_PER_COLUMN
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import DealFactory, PipelineFactory

pytestmark = pytest.mark.django_db

BOARD = "/deals/board/"
MOVE = "/deals/board/move/"
XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}
# Host, session, user, pipelines, members, stages, totals, card ids, cards: nine, whatever the data; django-tenants
# sets the search_path before each of them, so the connection sees twice as many.
BOARD_QUERY_CEILING = 2 * 9


def _stages(pipeline: Pipeline) -> dict[str, Stage]:
    return {s.name: s for s in pipeline.stages.all()}


@pytest.fixture
def sales(in_workspace) -> tuple[Pipeline, dict[str, Stage]]:
    pipeline = Pipeline.objects.get(name="Sales")
    return pipeline, _stages(pipeline)


def _many_deals(pipeline: Pipeline, stage: Stage, n: int, *, start: int = 0, **extra: object) -> None:
    now = timezone.now()
    Deal.objects.bulk_create(
        Deal(
            title=f"Bulk deal {start + i}",
            pipeline=pipeline,
            stage=stage,
            amount=Decimal("10.00"),
            currency="RUB",
            created_at=now - datetime.timedelta(minutes=start + i),
            **extra,
        )
        for i in range(n)
    )


def test_board_shows_open_stages_with_counts_and_sums_per_currency(workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(workspace.tenant):
        DealFactory.create_batch(2, title="Rouble deal", stage=stages["New"], amount=Decimal("1000.50"), currency="RUB")
        DealFactory(title="Dollar deal", stage=stages["New"], amount=Decimal("500"), currency="USD")
        DealFactory(title="Proposal deal", stage=stages["Proposal"], amount=Decimal("7"))
        DealFactory(title="Closed deal", stage=stages["Won"], closed_at=timezone.now())
    response = owner_client.get(BOARD)
    assert response.status_code == 200
    columns = {c.stage.name: c for c in response.context["columns"]}
    assert list(columns) == ["New", "Qualification", "Proposal", "Negotiation"]
    assert columns["New"].totals.count == 3
    assert columns["New"].totals.sums == {"RUB": Decimal("2001.00"), "USD": Decimal("500.00")}
    assert columns["Proposal"].totals.count == 1 and columns["Qualification"].totals.count == 0
    html = response.content.decode()
    assert "Dollar deal" in html and "Proposal deal" in html and "Closed deal" not in html
    assert "RUB\xa02,001.00" in html and "$500.00" in html and "3 deals" in html
    # Won and lost are drop zones, not columns.
    assert 'data-testid="drop-won"' in html and 'data-testid="drop-lost"' in html


def test_a_column_shows_the_newest_cards_first_and_the_rest_on_demand(workspace, sales, owner_client) -> None:
    pipeline, stages = sales
    with tenant_context(workspace.tenant):
        _many_deals(pipeline, stages["New"], 35)
    response = owner_client.get(BOARD)
    [new, *_] = response.context["columns"]
    assert [d.title for d in new.cards] == [f"Bulk deal {i}" for i in range(CARDS_PER_COLUMN)]
    assert new.totals.count == 35 and new.cursor is not None
    more = owner_client.get(
        f"/deals/board/column/{stages['New'].pk}/",
        {"after": new.cursor.encode(), "owner": "any"},
        HTTP_HX_REQUEST="true",
    )
    assert more.status_code == 200
    assert [d.title for d in more.context["column"].cards] == [f"Bulk deal {i}" for i in range(CARDS_PER_COLUMN, 35)]
    assert 'data-testid="show-more"' not in more.content.decode()
    assert owner_client.get(f"/deals/board/column/{stages['New'].pk}/", {"after": "garbage"}).status_code == 400


def test_the_board_issues_a_fixed_number_of_queries_whatever_the_data(
    workspace, sales, owner_client, django_assert_max_num_queries
) -> None:
    pipeline, stages = sales
    owner_client.get(BOARD)  # warm up the session and the host lookup caches
    with django_assert_max_num_queries(BOARD_QUERY_CEILING):
        assert owner_client.get(BOARD).status_code == 200
    with tenant_context(workspace.tenant):
        for name in ("New", "Qualification", "Proposal", "Negotiation"):
            _many_deals(pipeline, stages[name], 1500)
        DealFactory.create_batch(3, stage=stages["New"])  # with companies and owners on the cards
    with django_assert_max_num_queries(BOARD_QUERY_CEILING):
        response = owner_client.get(BOARD)
    assert sum(len(c.cards) for c in response.context["columns"]) == 4 * CARDS_PER_COLUMN
    assert response.context["columns"][0].totals.count == 1503


def test_the_board_can_show_my_deals_or_a_colleagues(workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(workspace.tenant):
        colleague = user_create(email="kate@example.com", password=PASSWORD, full_name="Kate Colleague")
        DealFactory(title="Mine", stage=stages["New"], owner=workspace.owner)
        DealFactory(title="Kate's", stage=stages["New"], owner=colleague)
        DealFactory(title="Nobody's", stage=stages["New"], owner=None)

    def titles(owner: str) -> set[str]:
        response = owner_client.get(BOARD, {"owner": owner})
        assert response.status_code == 200
        return {d.title for c in response.context["columns"] for d in c.cards}

    assert titles("any") == {"Mine", "Kate's", "Nobody's"}
    assert titles("me") == {"Mine"}
    assert titles(str(colleague.pk)) == {"Kate's"}
    assert owner_client.get(BOARD, {"owner": "999999"}).status_code == 404


def test_the_pipeline_switcher_opens_another_pipeline(workspace, sales, owner_client) -> None:
    with tenant_context(workspace.tenant):
        service = PipelineFactory(name="Service", kind=Pipeline.Kind.SERVICE, position=5)
        DealFactory(title="Repair", pipeline=service)
    response = owner_client.get(BOARD, {"pipeline": service.pk})
    assert response.context["pipeline"] == service
    assert [c.stage.name for c in response.context["columns"]] == ["New", "Proposal"]
    assert "Repair" in response.content.decode()
    assert 'data-testid="pipeline-switch"' in response.content.decode()
    assert owner_client.get(BOARD, {"pipeline": 999999}).status_code == 404


def test_moving_a_deal_goes_through_the_service_and_answers_the_changed_columns(workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(workspace.tenant):
        deal = DealFactory(title="Big order", stage=stages["New"], amount=Decimal("300"))
        DealFactory(stage=stages["New"], amount=Decimal("5"))
    response = owner_client.post(
        MOVE, {"deal": deal.pk, "stage": stages["Proposal"].pk, "version": deal.version, "owner": "any"}, **XHR
    )
    assert response.status_code == 200, response.content
    heads = {c.stage.name: c.totals for c in response.context["heads"]}
    assert heads["New"].count == 1 and heads["Proposal"].count == 1
    assert heads["Proposal"].sums == {"RUB": Decimal("300.00")}
    html = response.content.decode()
    assert f'id="stage-head-{stages["Proposal"].pk}"' in html and f'id="deal-{deal.pk}"' in html
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["Proposal"]
        [moved] = ChangeRecord.objects.filter(
            record_type=RecordType.DEAL, record_id=deal.pk, action=ChangeRecord.Action.STAGE_MOVED
        )
        assert moved.actor == workspace.owner
        assert moved.changes[0] == {"field": "stage", "label": "stage", "old": "New", "new": "Proposal"}


def test_closing_as_lost_needs_a_reason(workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(workspace.tenant):
        deal = DealFactory(stage=stages["New"])
    refused = owner_client.post(MOVE, {"deal": deal.pk, "stage": stages["Lost"].pk}, **XHR)
    assert refused.status_code == 422
    assert "Say why the deal was lost." in refused.content.decode()
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["New"] and deal.closed_at is None
        assert not ChangeRecord.objects.filter(action=ChangeRecord.Action.STAGE_MOVED).exists()

    closed = owner_client.post(MOVE, {"deal": deal.pk, "stage": stages["Lost"].pk, "lost_reason": "Too pricey"}, **XHR)
    assert closed.status_code == 200
    assert closed.context["deal"] is None  # a closed deal leaves the board
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["Lost"] and deal.closed_at is not None and deal.lost_reason == "Too pricey"


def test_a_stage_of_another_pipeline_is_refused(workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(workspace.tenant):
        deal = DealFactory(stage=stages["New"])
        other = PipelineFactory(name="Service").stages.get(name="Proposal")
    response = owner_client.post(MOVE, {"deal": deal.pk, "stage": other.pk}, **XHR)
    assert response.status_code == 422
    assert "Choose a stage of the deal's pipeline." in response.content.decode()
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["New"] and deal.version == 1
        assert not ChangeRecord.objects.filter(action=ChangeRecord.Action.STAGE_MOVED).exists()


def test_another_workspaces_deal_or_stage_is_a_404(workspace, other_workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(other_workspace.tenant):
        # Ids beyond anything in the first workspace, so they can only name the other workspace's rows.
        foreign_pipeline = PipelineFactory(name="Theirs", stages=[(f"S{i}", "open") for i in range(12)])
        foreign_stage = foreign_pipeline.stages.order_by("-id").first()
        foreign_deals = DealFactory.create_batch(3, pipeline=foreign_pipeline, stage=foreign_stage)
        foreign_deal = foreign_deals[-1]
    with tenant_context(workspace.tenant):
        deal = DealFactory(stage=stages["New"])
        assert not Deal.objects.filter(pk=foreign_deal.pk).exists()
        assert not Stage.objects.filter(pk=foreign_stage.pk).exists()

    assert owner_client.post(MOVE, {"deal": foreign_deal.pk, "stage": stages["Proposal"].pk}, **XHR).status_code == 404
    assert owner_client.post(MOVE, {"deal": deal.pk, "stage": foreign_stage.pk}, **XHR).status_code == 404
    assert owner_client.get(f"/deals/board/column/{foreign_stage.pk}/", {"after": "x|1"}).status_code == 404
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["New"]
        assert not ChangeRecord.objects.filter(action=ChangeRecord.Action.STAGE_MOVED).exists()
    with tenant_context(other_workspace.tenant):
        foreign_deal.refresh_from_db()
        assert foreign_deal.stage == foreign_stage
        assert not ChangeRecord.objects.filter(action=ChangeRecord.Action.STAGE_MOVED).exists()


def test_a_move_made_against_an_old_version_is_refused(workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(workspace.tenant):
        deal = DealFactory(stage=stages["New"], version=3)
    response = owner_client.post(MOVE, {"deal": deal.pk, "stage": stages["Proposal"].pk, "version": 2}, **XHR)
    assert response.status_code == 409
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["New"]


def test_without_script_a_move_redirects_back_to_the_board_with_a_message(workspace, sales, owner_client) -> None:
    pipeline, stages = sales
    with tenant_context(workspace.tenant):
        deal = DealFactory(title="Plain form", stage=stages["New"])
    response = owner_client.post(MOVE, {"deal": deal.pk, "stage": stages["Negotiation"].pk, "owner": "me"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{BOARD}?pipeline={pipeline.pk}&owner=me"
    assert "“Plain form” moved to Negotiation." in response.content.decode()
    refused = owner_client.post(MOVE, {"deal": deal.pk, "stage": stages["Lost"].pk}, follow=True)
    assert "Say why the deal was lost." in refused.content.decode()
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["Negotiation"]


def test_moves_need_a_logged_in_post(workspace, sales, owner_client) -> None:
    stages = sales[1]
    with tenant_context(workspace.tenant):
        deal = DealFactory(stage=stages["New"])
    assert owner_client.get(MOVE).status_code == 405
    anonymous = workspace.client().post(MOVE, {"deal": deal.pk, "stage": stages["Proposal"].pk})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    with tenant_context(workspace.tenant):
        deal.refresh_from_db()
        assert deal.stage == stages["New"]


def test_moving_and_showing_more_issue_a_fixed_number_of_queries(
    workspace, sales, owner_client, django_assert_max_num_queries
) -> None:
    pipeline, stages = sales
    with tenant_context(workspace.tenant):
        _many_deals(pipeline, stages["New"], 500)
        _many_deals(pipeline, stages["Proposal"], 500, start=500)
        deal = DealFactory(stage=stages["New"])
    owner_client.get(BOARD)
    # Host, session, user, deal, stage, the service's locked read, old stage, update and history, the changed
    # columns' totals, the stages for the card's select and its company and owner, plus savepoints; most
    # after a search_path SET (django-tenants). None of it grows with the number of deals.
    with django_assert_max_num_queries(30):
        response = owner_client.post(MOVE, {"deal": deal.pk, "stage": stages["Proposal"].pk}, **XHR)
    assert response.status_code == 200
    assert {c.stage.name: c.totals.count for c in response.context["heads"]} == {"New": 500, "Proposal": 501}
    cursor = owner_client.get(BOARD).context["columns"][0].cursor
    # Host, session, user, stage, card ids, cards, stages for the select; each after a search_path SET.
    with django_assert_max_num_queries(2 * 7):
        more = owner_client.get(f"/deals/board/column/{stages['New'].pk}/", {"after": cursor.encode()})
    assert len(more.context["column"].cards) == CARDS_PER_COLUMN
