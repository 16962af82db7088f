"""List pages: columns, filters (custom fields included), sorts, pagination, remembered settings, bulk actions,
isolation between workspaces and a query ceiling that does not grow with the data."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.core.bulk import BULK_LIMIT
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.services import pipelines_ensure_default
from crm.history.models import ChangeRecord
from crm.search.models import SearchTerm
from crm.web.models import ListPreference
from tenants.accounts.roles import READ_ONLY, builtin_role
from tests.conftest import Workspace
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NAMESPACES = ["companies", "contacts", "leads", "deals", "products", "activities"]
# Tenant, session, user, members, custom fields, preference, rows, a bounded count, stages (deals only).
MAX_LIST_QUERIES = 10
# django-tenants (TENANT_LIMIT_SET_CALLS off) issues a `SET search_path` before each of them.
MAX_WITH_SEARCH_PATH = 2 * MAX_LIST_QUERIES


def _real(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]


def _url(namespace: str, name: str = "list") -> str:
    return reverse(f"{namespace}:{name}", urlconf="platform_core.urls_tenant")


def _html(response) -> str:
    connection.set_schema_to_public()
    return response.content.decode()


def _row_names(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-testid="row-\d+">.*?<a href="[^"]*">([^<]*)</a>', html, re.S)


def _fill(ws: Workspace, namespace: str, n: int) -> None:
    with tenant_context(ws.tenant):
        if namespace == "companies":
            CompanyFactory.create_batch(n, owner=ws.owner, tags=["vip"])
        elif namespace == "contacts":
            ContactFactory.create_batch(n, owner=ws.owner)
        elif namespace == "leads":
            LeadFactory.create_batch(n, owner=ws.owner)
        elif namespace == "deals":
            pipelines_ensure_default()
            DealFactory.create_batch(n, owner=ws.owner)
        elif namespace == "products":
            ProductFactory.create_batch(n)
        else:
            ActivityFactory.create_batch(n, assignee=ws.owner, company=CompanyFactory())
        CustomField.objects.get_or_create(
            record_type=RecordType.COMPANY,
            key="tier",
            defaults={"label": "Tier", "field_type": "choice", "choices": ["gold", "silver"], "show_in_list": True},
        )


def test_lists_require_login(workspace) -> None:
    client = Client(HTTP_HOST=workspace.domain)
    for namespace in NAMESPACES:
        response = client.get(_url(namespace))
        assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.post(_url("companies", "bulk"), {"action": "delete", "ids": ["1"]})
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_query_count_does_not_grow_with_rows(workspace, owner_client, namespace, django_assert_max_num_queries) -> None:
    _fill(workspace, namespace, 3)
    with CaptureQueriesContext(connection) as few:
        assert owner_client.get(_url(namespace)).status_code == 200
    connection.set_schema_to_public()
    _fill(workspace, namespace, 60)
    with django_assert_max_num_queries(MAX_WITH_SEARCH_PATH), CaptureQueriesContext(connection) as many:
        response = owner_client.get(_url(namespace))
    assert response.status_code == 200
    assert len(_real(many)) <= MAX_LIST_QUERIES
    html = _html(response)
    assert html.count('name="ids"') == 50  # one page
    assert 'rel="next"' in html
    # The first page with few rows needs no separate count; with more than a page, one bounded count.
    assert len(_real(many)) <= len(_real(few)) + 1


def test_company_list_shows_columns_and_custom_field_values(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        CustomField.objects.create(
            record_type="company", key="tier", label="Tier", field_type="choice", choices=["gold"], show_in_list=True
        )
        CompanyFactory(name="Romashka", tax_id="7701234567", owner=workspace.owner, custom_fields={"tier": "gold"})
    html = _html(owner_client.get(_url("companies")))
    assert '<th scope="col"' in html and "Tier" in html and "gold" in html
    assert "Romashka" in html and "7701234567" in html and workspace.owner.full_name in html
    assert 'data-testid="list-count">' in html and "1 record" in html


def test_filters_by_owner_tag_search_and_custom_field(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        CustomField.objects.create(
            record_type="company", key="tier", label="Tier", field_type="choice", choices=["gold", "silver"]
        )
        other = UserFactory()
        CompanyFactory(name="Alpha Gold", owner=workspace.owner, tags=["vip"], custom_fields={"tier": "gold"})
        CompanyFactory(name="Beta Silver", owner=other, tags=["vip"], custom_fields={"tier": "silver"})
        CompanyFactory(name="Gamma Plain", owner=workspace.owner)
    url = _url("companies")
    assert _row_names(_html(owner_client.get(url, {"owner": "me"}))) == ["Alpha Gold", "Gamma Plain"]
    assert _row_names(_html(owner_client.get(url, {"owner": str(other.pk)}))) == ["Beta Silver"]
    assert _row_names(_html(owner_client.get(url, {"tag": "VIP"}))) == ["Alpha Gold", "Beta Silver"]
    assert _row_names(_html(owner_client.get(url, {"cf_tier": "silver"}))) == ["Beta Silver"]
    assert _row_names(_html(owner_client.get(url, {"q": "gam"}))) == ["Gamma Plain"]
    # Values outside the whitelists are ignored, never passed to the database.
    html = _html(owner_client.get(url, {"owner": "1 OR 1=1", "cf_tier": "bronze", "sort": "password", "page": "x"}))
    assert _row_names(html) == ["Alpha Gold", "Beta Silver", "Gamma Plain"]


def test_sorts_by_builtin_and_custom_fields(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        CustomField.objects.create(record_type="company", key="size", label="Size", field_type="number")
        CompanyFactory(name="b-corp", custom_fields={"size": "100"})
        CompanyFactory(name="A-corp", custom_fields={"size": "9"})
        CompanyFactory(name="C-corp")
    url = _url("companies")
    assert _row_names(_html(owner_client.get(url))) == ["A-corp", "b-corp", "C-corp"]
    assert _row_names(_html(owner_client.get(url, {"sort": "-name"}))) == ["C-corp", "b-corp", "A-corp"]
    # Numbers sort as numbers (9 before 100); records without a value come last either way.
    assert _row_names(_html(owner_client.get(url, {"sort": "cf_size"}))) == ["A-corp", "b-corp", "C-corp"]
    assert _row_names(_html(owner_client.get(url, {"sort": "-cf_size"}))) == ["b-corp", "A-corp", "C-corp"]
    html = _html(owner_client.get(url, {"sort": "-name"}))
    assert 'aria-sort="descending"' in html


def test_pagination_fetches_next_page(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        for i in range(53):
            CompanyFactory(name=f"Firm {i:03d}")
    first = _html(owner_client.get(_url("companies")))
    assert len(_row_names(first)) == 50 and 'rel="next"' in first and 'rel="prev"' not in first
    second = _html(owner_client.get(_url("companies"), {"page": "2"}))
    assert _row_names(second) == ["Firm 050", "Firm 051", "Firm 052"]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "53 records" in second


def test_columns_and_sort_are_remembered_per_user(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        CompanyFactory(name="Zeta", industry="Retail", website="https://zeta.test")
        colleague = UserFactory(role=builtin_role(READ_ONLY))
    response = owner_client.post(
        _url("companies", "columns"),
        {"columns": ["name", "website", "nonsense"], "pos_website": "1", "pos_name": "2", "sort": "-name"},
    )
    assert response.status_code == 302
    html = _html(owner_client.get(_url("companies")))
    table = html.split('data-testid="record-list"', 1)[1]
    headers = re.findall(r'<th scope="col"(?! class="select")[^>]*>\s*(?:<a [^>]*>)?([^<↑↓]+)', table)
    assert [h.strip() for h in headers] == ["Website", "Name"]
    assert "Retail" not in html
    with tenant_context(workspace.tenant):
        pref = ListPreference.objects.get(user=workspace.owner, record_type="company")
        assert pref.columns == ["website", "name"] and pref.sort == "-name"
        assert not ListPreference.objects.filter(user=colleague).exists()
    connection.set_schema_to_public()
    colleague_client = workspace.client(logged_in_as=colleague)
    assert "Retail" in _html(colleague_client.get(_url("companies")))
    owner_client.post(_url("companies", "columns"), {"reset": "1"})
    assert "Retail" in _html(owner_client.get(_url("companies")))


def test_bulk_assign_and_tag_go_through_services(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        colleague = UserFactory(full_name="Colleague")
        companies = CompanyFactory.create_batch(3, owner=workspace.owner)
    ids = [str(c.pk) for c in companies[:2]]
    response = owner_client.post(_url("companies", "bulk"), {"action": "assign", "user": colleague.pk, "ids": ids})
    assert response.status_code == 302
    response = owner_client.post(_url("companies", "bulk"), {"action": "tag", "tag": " Key ", "ids": ids})
    assert response.status_code == 302
    with tenant_context(workspace.tenant):
        changed = Company.objects.filter(pk__in=ids)
        assert {c.owner_id for c in changed} == {colleague.pk}
        assert all(c.tags == ["key"] for c in changed)
        untouched = Company.objects.get(pk=companies[2].pk)
        assert untouched.owner_id == workspace.owner.pk and untouched.tags == []
        assert ChangeRecord.objects.filter(record_id__in=ids, action=ChangeRecord.Action.UPDATED).count() == 4


def test_bulk_delete_asks_for_confirmation(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        companies = CompanyFactory.create_batch(2, name="Doomed")
    ids = [str(c.pk) for c in companies]
    response = owner_client.post(_url("companies", "bulk"), {"action": "delete", "ids": ids})
    assert response.status_code == 200 and 'data-testid="bulk-confirm"' in _html(response)
    with tenant_context(workspace.tenant):
        assert Company.objects.count() == 2
    response = owner_client.post(_url("companies", "bulk"), {"action": "delete", "ids": ids, "confirmed": "yes"})
    assert response.status_code == 302
    with tenant_context(workspace.tenant):
        assert not Company.objects.exists()
        assert not SearchTerm.objects.filter(record_type="company").exists()
        assert ChangeRecord.objects.filter(action=ChangeRecord.Action.DELETED).count() == 2


def test_bulk_batch_is_capped(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        company = CompanyFactory(owner=workspace.owner)
        colleague = UserFactory()
    ids = [str(company.pk)] + [str(i) for i in range(10_000, 10_000 + BULK_LIMIT)]
    response = owner_client.post(
        _url("companies", "bulk"), {"action": "assign", "user": colleague.pk, "ids": ids}, follow=True
    )
    assert f"at most {BULK_LIMIT}" in _html(response)
    with tenant_context(workspace.tenant):
        assert Company.objects.get(pk=company.pk).owner_id == workspace.owner.pk


def test_bulk_needs_csrf(workspace) -> None:
    with tenant_context(workspace.tenant):
        company = CompanyFactory()
    client = workspace.client(logged_in_as=workspace.owner)
    client.handler.enforce_csrf_checks = True
    response = client.post(_url("companies", "bulk"), {"action": "delete", "ids": [company.pk], "confirmed": "yes"})
    assert response.status_code == 403
    with tenant_context(workspace.tenant):
        assert Company.objects.filter(pk=company.pk).exists()


def test_other_workspace_data_never_appears_and_cannot_be_changed(workspace, other_workspace, owner_client) -> None:
    with tenant_context(other_workspace.tenant):
        theirs = CompanyFactory.create_batch(2, name="Foreign Secret", owner=other_workspace.owner)
        ActivityFactory(subject="Foreign task", assignee=other_workspace.owner)
    for namespace in NAMESPACES:
        html = _html(owner_client.get(_url(namespace), {"q": "foreign"}))
        assert "Foreign" not in html
    ids = [str(c.pk) for c in theirs]
    for action in ("delete", "tag", "assign"):
        owner_client.post(
            _url("companies", "bulk"),
            {"action": action, "ids": ids, "confirmed": "yes", "tag": "hacked", "user": workspace.owner.pk},
        )
    connection.set_schema_to_public()
    with tenant_context(other_workspace.tenant):
        survivors = Company.objects.filter(pk__in=ids)
        assert survivors.count() == 2
        assert all(c.tags == [] and c.owner_id == other_workspace.owner.pk for c in survivors)


def test_overdue_activities_are_marked_and_filterable(workspace, owner_client) -> None:
    now = timezone.now()
    with tenant_context(workspace.tenant):
        ActivityFactory(subject="Late call", due_at=now - datetime.timedelta(days=2), assignee=workspace.owner)
        ActivityFactory(subject="Future call", due_at=now + datetime.timedelta(days=2), assignee=workspace.owner)
        ActivityFactory(subject="Done call", due_at=now - datetime.timedelta(days=2), is_done=True)
    html = _html(owner_client.get(_url("activities")))
    late_row = re.search(r'<tr class="([^"]*)"[^>]*>(?:(?!</tr>).)*Late call', html, re.S)
    assert late_row is not None and "overdue" in late_row.group(1)
    assert "status-overdue" in html
    assert _row_names(_html(owner_client.get(_url("activities"), {"state": "overdue"}))) == ["Late call"]
    assert _row_names(_html(owner_client.get(_url("activities"), {"state": "open"}))) == ["Late call", "Future call"]


def test_my_day_marks_overdue_tasks(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        Activity.objects.create(
            subject="Overdue thing", due_at=timezone.now() - datetime.timedelta(hours=3), assignee=workspace.owner
        )
    html = _html(owner_client.get(reverse("home", urlconf="platform_core.urls_tenant")))
    assert 'data-testid="overdue-count"' in html and 'class="overdue"' in html
    assert "Your role: Administrator." in html


def test_deal_list_filters_by_stage_and_state(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        pipeline = pipelines_ensure_default()
        first, second = list(pipeline.stages.filter(outcome="open").order_by("position"))[:2]
        DealFactory(title="Early deal", stage=first, pipeline=pipeline)
        DealFactory(title="Later deal", stage=second, pipeline=pipeline)
    html = _html(owner_client.get(_url("deals"), {"stage": str(second.pk)}))
    assert "Later deal" in html and "Early deal" not in html
    assert "Early deal" in _html(owner_client.get(_url("deals"), {"state": "open"}))


def test_activities_open_on_open_tasks_and_any_shows_all(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        ActivityFactory(subject="Open task")
        ActivityFactory(subject="Finished task", is_done=True)
    assert _row_names(_html(owner_client.get(_url("activities")))) == ["Open task"]
    everything = _row_names(_html(owner_client.get(_url("activities"), {"state": ""})))
    assert sorted(everything) == ["Finished task", "Open task"]
