"""Lists cost a fixed number of SQL queries whatever the page size (no query per row)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.customfields.models import CustomField
from crm.customfields.services import custom_field_create
from crm.deals.models import DealLineItem
from tests.api.conftest import inside
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

# Per request: the tenant's domain, the API key with its user, the page; deals add their line items and
# contacts, pipelines their stages, a custom field filter the field definitions. django-tenants sets the
# search_path before each, and that statement counts too, hence twice as many.
CEILINGS = {
    "/companies/?cf_segment=SMB&q=company&tag=vip": 2 * 4,
    "/contacts/?q=person": 2 * 3,
    "/leads/?status=new": 2 * 3,
    "/deals/?cf_segment=SMB": 2 * 6,
    "/pipelines/": 2 * 4,
    "/products/": 2 * 3,
    "/activities/?is_done=false": 2 * 3,
    "/custom-fields/": 2 * 3,
}


def _make(workspace, n: int) -> None:
    with inside(workspace):
        for _ in range(n):
            company = CompanyFactory(tags=["vip"], custom_fields={"segment": "SMB"})
            contact = ContactFactory(company=company)
            deal = DealFactory(company=company, custom_fields={"segment": "SMB"})
            deal.contacts.add(contact)
            product = ProductFactory()
            DealLineItem.objects.create(deal=deal, product=product, name="Line", price=Decimal("10.00"))
            DealLineItem.objects.create(deal=deal, name="Another", price=Decimal("5.00"))
            LeadFactory()
            ActivityFactory(company=company, contact=contact, deal=deal, assignee=workspace.owner)
            PipelineFactory()
            CustomField.objects.create(
                record_type="lead", key=f"f{CustomField.objects.count()}", label="Extra", field_type="text"
            )


@pytest.mark.parametrize("path", list(CEILINGS))
def test_list_queries_do_not_grow_with_the_page(api, workspace, path, django_assert_max_num_queries) -> None:
    with inside(workspace):
        for record_type in ("company", "deal"):
            custom_field_create(
                actor=workspace.owner,
                record_type=record_type,
                label="Segment",
                field_type="choice",
                choices=["SMB", "Enterprise"],
            )
    api.get("/companies/")  # the key's first use records it; later requests only read
    counts = []
    for batch in (2, 20):
        _make(workspace, batch)
        with CaptureQueriesContext(connection) as queries:
            response = api.get(path + ("&" if "?" in path else "?") + "limit=200")
        assert response.status_code == 200, response.content
        body = response.json()
        rows = body["items"] if isinstance(body, dict) else body
        assert len(rows) >= batch
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(CEILINGS[path]):
        api.get(path)
