"""CSV export of the lists: exactly the current filters, search and sort, every page, streamed as UTF-8 with a
BOM; only for a role with the export right and within its scope; hidden fields left out; audited."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from crm.deals.services import pipelines_ensure_default
from tenants.accounts.models import AuditEvent, Role
from tenants.accounts.roles import ACTIONS, SALES_MANAGER, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, LeadFactory, ProductFactory
from tests.hiding_support import AMOUNT, CF_VALUE, EMAIL, PHONE, assert_nothing_hidden_in, body, make_hiding
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
NAMESPACES = ["companies", "contacts", "leads", "deals", "products", "activities"]
NAMESPACE_TYPES = ("company", "contact", "lead", "deal", "product", "activity", "file")


def _csv(response) -> list[list[str]]:
    text = body(response)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _exports(workspace) -> int:
    with inside(workspace):
        return AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count()


def _role(name: str, export: str) -> Role:
    grants = {t: {a: ("all" if a != "export" else export) for a in ACTIONS} for t in NAMESPACE_TYPES}
    return Role.objects.create(name=name, grants=grants)


def test_export_is_the_whole_filtered_sorted_list_as_csv(workspace, owner_client) -> None:
    with inside(workspace):
        for i in range(60):  # more than a page
            CompanyFactory(name=f"Acme {i:02d}", industry="Mining", tags=["vip"] if i % 2 else [])
        CompanyFactory(name="Other Corp", industry="Retail", tags=["vip"])
    response = owner_client.get(reverse("companies:export"), {"q": "acme", "tag": "vip", "sort": "-name"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="companies-')
    rows = _csv(response)
    header, data = rows[0], rows[1:]
    assert header[:4] == ["Name", "Tax id", "Industry", "Phone"]
    names = [r[0] for r in data]
    assert names == [f"Acme {i:02d}" for i in range(59, 0, -2)]
    with inside(workspace):
        event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
        assert event.actor == workspace.owner and event.target_type == "company"
        assert event.details["rows"] == 30
        assert event.details["filters"] == {"q": "acme", "tag": "vip", "sort": "-name"}


def test_the_list_page_offers_the_export_of_what_it_shows(workspace, owner_client) -> None:
    page = body(owner_client.get(reverse("deals:list"), {"state": "open"}))
    assert 'data-testid="export-csv"' in page
    assert reverse("deals:export") + "?state=open" in page


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_list_exports(workspace, owner_client, namespace) -> None:
    with inside(workspace):
        pipelines_ensure_default()
        company = CompanyFactory(name="Export Co", owner=workspace.owner)
        ContactFactory(company=company, first_name="Anna", last_name="Export", owner=workspace.owner)
        DealFactory(title="Export deal", company=company, amount=Decimal("250.50"), owner=workspace.owner)
        LeadFactory(title="Export lead", owner=workspace.owner)
        ProductFactory(name="Export product")
        ActivityFactory(subject="Export task", company=company, assignee=workspace.owner)
    response = owner_client.get(reverse(f"{namespace}:export"))
    assert response.status_code == 200
    rows = _csv(response)
    assert len(rows) == 2, rows
    assert any("Export" in value for value in rows[1])
    if namespace == "deals":
        amount = rows[0].index("Amount")
        assert rows[1][amount : amount + 2] == ["250.50", "RUB"]


def test_a_role_without_the_export_right_gets_403_no_file_no_audit(workspace) -> None:
    with inside(workspace):
        CompanyFactory(name="Secret Client")
        member = user_create(email="noexport@example.com", password=PASSWORD, role=_role("No export", "none"))
    client = workspace.client(logged_in_as=member)
    assert 'data-testid="export-csv"' not in body(client.get(reverse("companies:list")))
    for namespace in NAMESPACES:
        response = client.get(reverse(f"{namespace}:export"))
        assert response.status_code == 403, namespace
        assert "Secret Client" not in body(response)
    assert _exports(workspace) == 0
    # The built-in sales manager cannot export either.
    with inside(workspace):
        manager = user_create(email="mgr@example.com", password=PASSWORD, role=builtin_role(SALES_MANAGER))
    response = workspace.client(logged_in_as=manager).get(reverse("companies:export"))
    assert response.status_code == 403
    assert _exports(workspace) == 0


def test_export_is_limited_to_the_export_scope(workspace) -> None:
    with inside(workspace):
        member = user_create(email="own@example.com", password=PASSWORD, role=_role("Export own", "own"))
        CompanyFactory(name="Mine Co", owner=member)
        CompanyFactory(name="Theirs Co", owner=workspace.owner)
    client = workspace.client(logged_in_as=member)
    # The member sees both companies in the list...
    page = body(client.get(reverse("companies:list")))
    assert "Mine Co" in page and "Theirs Co" in page
    # ...but may export only their own.
    rows = _csv(client.get(reverse("companies:export")))
    assert [r[0] for r in rows[1:]] == ["Mine Co"]
    with inside(workspace):
        assert AuditEvent.objects.get(action=AuditEvent.Action.EXPORT).details["rows"] == 1


def test_hidden_fields_are_left_out_of_the_export(workspace, owner_client) -> None:
    hiding = make_hiding(workspace, export="all")
    client = workspace.client(logged_in_as=hiding.member)
    for namespace in ("deals", "contacts", "companies"):
        response = client.get(reverse(f"{namespace}:export"))
        assert response.status_code == 200
        text = body(response)
        assert_nothing_hidden_in(text)
    contacts = _csv(client.get(reverse("contacts:export")))
    assert "Phone" not in contacts[0] and "Email" not in contacts[0]
    assert any("Ivan Secretov" in row for row in contacts[1:])
    assert "Amount" not in _csv(client.get(reverse("deals:export")))[0]
    # Filtering or sorting by a hidden field does not narrow the export: it is ignored.
    filtered = _csv(client.get(reverse("companies:export"), {f"cf_{hiding.cf_key}": "nothing-matches"}))
    assert any(r[0] == "Hidden Values Co" for r in filtered[1:])
    # The administrator's export carries them: every phone and email, the amount, the custom field.
    owner_text = body(owner_client.get(reverse("contacts:export")))
    assert PHONE in owner_text and EMAIL in owner_text
    assert str(AMOUNT) in body(owner_client.get(reverse("deals:export")))
    assert CF_VALUE in body(owner_client.get(reverse("companies:export")))


def test_formulas_are_not_exported_as_formulas(workspace, owner_client) -> None:
    with inside(workspace):
        CompanyFactory(name='=HYPERLINK("http://evil.test")', industry="+1")
    rows = _csv(owner_client.get(reverse("companies:export")))
    assert rows[1][0] == '\'=HYPERLINK("http://evil.test")' and rows[1][2] == "'+1"


def test_another_workspace_data_cannot_be_exported(workspace, other_workspace, owner_client) -> None:
    with inside(other_workspace):
        other_company = CompanyFactory(name="Beta Secret Co", owner=other_workspace.owner)
    with inside(workspace):
        CompanyFactory(name="Alpha Co", owner=workspace.owner)
    # The ids and filters of workspace B mean nothing in workspace A.
    for query in ({"q": "Beta"}, {"owner": str(other_workspace.owner.pk)}, {"ids": str(other_company.pk)}):
        text = body(owner_client.get(reverse("companies:export"), query))
        assert "Beta Secret" not in text
    # A's session is no session in B: no file.
    response = owner_client.get(reverse("companies:export"), HTTP_HOST=other_workspace.domain)
    assert response.status_code == 302
    assert "Beta Secret" not in body(response)
    assert _exports(other_workspace) == 0
