"""Workspace configuration cached for the pages (crm.web.fragments): a change shows on the very next page, through
every write path; another workspace, a reused schema name or another role never gets an entry not its own."""

from __future__ import annotations

import re

import pytest
import redis
from django.db import connection
from django.urls import reverse
from django_tenants.utils import tenant_context

from crm.customfields.models import CustomField
from crm.customfields.services import (
    custom_field_create,
    custom_field_delete,
    custom_field_update,
    custom_fields_reorder,
)
from crm.deals.models import Pipeline, Stage
from crm.deals.services import (
    pipeline_create,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_update,
    stages_reorder,
)
from crm.web import fragments
from tests.factories import CompanyFactory
from tests.hiding_support import CF_VALUE, body, make_hiding

pytestmark = pytest.mark.django_db

BOARD = "/deals/board/"


def _columns(client) -> list[str]:
    html = client.get(BOARD).content.decode()
    return re.findall(r'<h2 id="stage-name-\d+">([^<]*)</h2>', html)


def _switcher(client) -> list[str]:
    html = client.get(BOARD).content.decode()
    switch = re.search(r'data-testid="pipeline-switch">(.*?)</select>', html, re.S)
    return re.findall(r">([^<]+)</option>", switch.group(1)) if switch else []


def _sales(workspace) -> Pipeline:
    with tenant_context(workspace.tenant):
        return Pipeline.objects.get(name="Sales")


def test_board_shows_stage_changes_at_once(workspace, owner_client) -> None:
    sales = _sales(workspace)
    before = _columns(owner_client)
    assert before and _columns(owner_client) == before  # the second read comes from the cache
    with tenant_context(workspace.tenant):
        stages = list(Stage.objects.filter(pipeline=sales, outcome=Stage.Outcome.OPEN).order_by("position"))
        stage_update(actor=workspace.owner, stage=stages[0], data={"name": "Renamed first"})
    assert _columns(owner_client)[0] == "Renamed first"

    # A reorder is one bulk UPDATE, which sends no model signal.
    with tenant_context(workspace.tenant):
        ids = list(Stage.objects.filter(pipeline=sales).order_by("position").values_list("pk", flat=True))
        stages_reorder(actor=workspace.owner, pipeline=sales, stage_ids=[ids[1], ids[0], *ids[2:]])
    after = _columns(owner_client)
    assert after[:2] == [before[1], "Renamed first"]

    with tenant_context(workspace.tenant):
        stage_create(actor=workspace.owner, pipeline=sales, name="Brand new stage")
    assert "Brand new stage" in _columns(owner_client)
    with tenant_context(workspace.tenant):
        stage_delete(actor=workspace.owner, stage=Stage.objects.get(name="Brand new stage"))
    assert "Brand new stage" not in _columns(owner_client)


def test_pipeline_switcher_follows_pipeline_changes(workspace, owner_client) -> None:
    assert _switcher(owner_client) == []  # one pipeline: no switcher
    with tenant_context(workspace.tenant):
        service = pipeline_create(actor=workspace.owner, name="Service", stages=["Open"])
    assert _switcher(owner_client) == ["Sales", "Service"]
    with tenant_context(workspace.tenant):
        pipeline_update(actor=workspace.owner, pipeline=service, data={"name": "Support", "is_active": True})
    assert _switcher(owner_client) == ["Sales", "Support"]
    with tenant_context(workspace.tenant):
        pipeline_update(actor=workspace.owner, pipeline=service, data={"is_active": False})
    assert _switcher(owner_client) == []


def test_raw_sql_writes_invalidate_too(workspace, owner_client) -> None:
    _columns(owner_client)
    with tenant_context(workspace.tenant), connection.cursor() as cursor:
        cursor.execute("update deals_stage set name = name || ' (raw)' where position = 1")
    assert _columns(owner_client)[0].endswith(" (raw)")


def test_custom_field_changes_show_at_once_in_list_and_card(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        company = CompanyFactory(name="Fields Co", owner=workspace.owner, custom_fields={"tier": "Gold", "size": "XL"})
    card, companies = reverse("companies:detail", args=[company.pk]), reverse("companies:list")
    assert "Gold" not in body(owner_client.get(card)) and "Gold" not in body(owner_client.get(companies))

    with tenant_context(workspace.tenant):
        tier = custom_field_create(
            actor=workspace.owner, record_type="company", label="Tier", field_type="text", key="tier", show_in_list=True
        )
        size = custom_field_create(
            actor=workspace.owner, record_type="company", label="Size", field_type="text", key="size"
        )
    page = body(owner_client.get(card))
    assert "Gold" in page and page.index(">Tier<") < page.index(">Size<")
    assert "Gold" in body(owner_client.get(companies))

    with tenant_context(workspace.tenant):
        custom_field_update(actor=workspace.owner, field=tier, data={"label": "Level"})
        custom_fields_reorder(actor=workspace.owner, record_type="company", field_ids=[size.pk, tier.pk])
    page = body(owner_client.get(card))
    assert ">Tier<" not in page and page.index(">Size<") < page.index(">Level<")
    assert ">Level<" in body(owner_client.get(companies))

    with tenant_context(workspace.tenant):
        custom_field_delete(actor=workspace.owner, field=CustomField.objects.get(pk=tier.pk))
    assert "Gold" not in body(owner_client.get(card))
    assert "Gold" not in body(owner_client.get(companies))


def test_another_workspace_never_reads_the_entries(workspace, other_workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        stage = Stage.objects.filter(outcome=Stage.Outcome.OPEN).order_by("position").first()
        stage_update(actor=workspace.owner, stage=stage, data={"name": "Only in the first"})
    assert "Only in the first" in _columns(owner_client)
    other = other_workspace.client(logged_in_as=other_workspace.owner)
    assert "Only in the first" not in _columns(other)
    # ...and the first workspace's entries are still its own.
    assert "Only in the first" in _columns(owner_client)


def test_an_entry_of_an_earlier_workspace_with_the_same_schema_is_not_served(workspace) -> None:
    with tenant_context(workspace.tenant):
        assert fragments.cached("pipelines", "probe", lambda: "mine") == "mine"
        # Entries keep the workspace's id: one written for another workspace under this schema name (a deleted
        # workspace whose schema name came back) is read as missing.
        scope = fragments.scope_of("pipelines", workspace.schema)
        _found, _entry, generation = fragments._fragments.get(scope, "probe")
        fragments._fragments.put(scope, "probe", generation, (workspace.tenant.pk + 10_000, "theirs"))
        assert fragments.cached("pipelines", "probe", lambda: "mine again") == "mine again"
        assert fragments.cached("pipelines", "probe", lambda: "not computed") == "mine again"


def test_a_role_that_hides_a_field_does_not_get_it_from_the_cache(workspace, owner_client) -> None:
    hiding = make_hiding(workspace)
    blind = workspace.client(logged_in_as=hiding.member)
    for url in (reverse("companies:list"), reverse("companies:detail", args=[hiding.company.pk])):
        assert CF_VALUE in body(owner_client.get(url))  # the administrator's read fills the cache
        page = body(blind.get(url))
        assert CF_VALUE not in page and ">Tier<" not in page


def test_the_commit_replaces_the_version_again(workspace, django_capture_on_commit_callbacks) -> None:
    with tenant_context(workspace.tenant):
        stage = Stage.objects.order_by("position").first()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            stage_update(actor=workspace.owner, stage=stage, data={"name": "Before commit"})
        scope = fragments.scope_of("pipelines", workspace.schema)
        written = fragments._fragments.generation(scope)
        assert written is not None
        for callback in callbacks:
            callback()
        # A reader that filled the cache from the data as it was before the commit is not served afterwards.
        assert fragments._fragments.generation(scope) not in (None, written)


def test_pages_read_the_database_when_the_cache_is_unreachable(workspace, owner_client, settings) -> None:
    with tenant_context(workspace.tenant):
        stage = Stage.objects.filter(outcome=Stage.Outcome.OPEN).order_by("position").first()
        stage_update(actor=workspace.owner, stage=stage, data={"name": "Read without a cache"})
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},
        "shared": {**settings.CACHES["shared"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    assert "Read without a cache" in _columns(owner_client)
    assert owner_client.get(reverse("companies:list")).status_code == 200
    # A change that could not be announced to the cache would leave a stale entry behind: it is refused.
    with tenant_context(workspace.tenant):
        with pytest.raises(redis.exceptions.ConnectionError):
            stage_update(actor=workspace.owner, stage=stage, data={"name": "Not announced"})
        assert Stage.objects.get(pk=stage.pk).name == "Read without a cache"
