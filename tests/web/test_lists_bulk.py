"""Bulk services: each record goes through its own service (history, search index), batches are capped, and
only what the actor may see is touched."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.activities.services import activity_bulk_assign, activity_bulk_delete
from crm.companies.services import company_bulk_add_tag
from crm.contacts.models import Contact
from crm.contacts.services import contact_bulk_add_tag
from crm.core.bulk import BULK_LIMIT
from crm.deals.models import Deal
from crm.deals.services import deal_bulk_assign_owner, deal_bulk_delete, pipelines_ensure_default
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from crm.leads.services import lead_bulk_add_tag
from crm.products.models import Product
from crm.products.services import product_bulk_delete
from crm.search.models import SearchTerm
from crm.search.selectors import global_search
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


def test_batch_over_the_limit_is_refused_and_changes_nothing(in_workspace) -> None:
    company = CompanyFactory()
    with pytest.raises(ValidationError) as exc:
        company_bulk_add_tag(actor=in_workspace.owner, ids=[company.pk, *range(10**6, 10**6 + BULK_LIMIT)], tag="x")
    assert str(BULK_LIMIT) in " ".join(exc.value.messages)
    company.refresh_from_db()
    assert company.tags == []


def test_empty_tag_is_refused(in_workspace) -> None:
    with pytest.raises(ValidationError):
        company_bulk_add_tag(actor=in_workspace.owner, ids=[CompanyFactory().pk], tag="  ")


def test_tagging_keeps_existing_tags_and_writes_history_once(in_workspace) -> None:
    tagged = ContactFactory(tags=["old"])
    already = ContactFactory(tags=["new"])
    assert contact_bulk_add_tag(actor=in_workspace.owner, ids=[tagged.pk, already.pk], tag="New") == 2
    assert Contact.objects.get(pk=tagged.pk).tags == ["old", "new"]
    assert ChangeRecord.objects.filter(record_type="contact", record_id=tagged.pk).count() == 1
    assert not ChangeRecord.objects.filter(record_type="contact", record_id=already.pk).exists()


def test_converted_leads_can_still_be_tagged(in_workspace) -> None:
    lead = LeadFactory(status=Lead.Status.CONVERTED)
    lead_bulk_add_tag(actor=in_workspace.owner, ids=[lead.pk], tag="won")
    assert Lead.objects.get(pk=lead.pk).tags == ["won"]


def test_deal_bulk_assign_and_delete(in_workspace) -> None:
    pipelines_ensure_default()
    colleague = UserFactory()
    deals = DealFactory.create_batch(2, title="Pump order")
    ids = [d.pk for d in deals]
    assert deal_bulk_assign_owner(actor=in_workspace.owner, ids=ids, owner=colleague) == 2
    assert set(Deal.objects.values_list("owner_id", flat=True)) == {colleague.pk}
    assert deal_bulk_delete(actor=in_workspace.owner, ids=ids) == 2
    assert not Deal.objects.exists() and global_search(in_workspace.owner, "pump") == []
    assert not SearchTerm.objects.filter(record_type="deal").exists()


def test_activity_bulk_assign_and_delete(in_workspace) -> None:
    colleague = UserFactory()
    tasks = ActivityFactory.create_batch(3, assignee=in_workspace.owner)
    ids = [t.pk for t in tasks]
    assert activity_bulk_assign(actor=in_workspace.owner, ids=ids[:2], assignee=colleague) == 2
    assert Activity.objects.filter(assignee=colleague).count() == 2
    assert activity_bulk_delete(actor=in_workspace.owner, ids=ids) == 3
    assert not Activity.objects.exists()


def test_product_bulk_delete_deactivates_products_used_in_deals(in_workspace) -> None:
    pipelines_ensure_default()
    used, unused = ProductFactory(), ProductFactory()
    DealFactory().line_items.create(product=used, name=used.name, price=used.price)
    assert product_bulk_delete(actor=in_workspace.owner, ids=[used.pk, unused.pk]) == 2
    assert list(Product.objects.values_list("pk", "is_active")) == [(used.pk, False)]


def test_someone_who_may_not_see_the_records_changes_nothing(in_workspace) -> None:
    ghost = UserFactory(is_active=False)
    company = CompanyFactory()
    assert company_bulk_add_tag(actor=ghost, ids=[company.pk], tag="x") == 0
    company.refresh_from_db()
    assert company.tags == []


@pytest.mark.parametrize(
    ("namespace", "factory", "model"),
    [("contacts", ContactFactory, Contact), ("leads", LeadFactory, Lead), ("deals", DealFactory, Deal)],
)
def test_bulk_tag_and_delete_from_each_list(workspace, owner_client, namespace, factory, model) -> None:
    with tenant_context(workspace.tenant):
        pipelines_ensure_default()
        records = factory.create_batch(2)
    ids = [str(r.pk) for r in records]
    url = reverse(f"{namespace}:bulk")
    assert owner_client.post(url, {"action": "tag", "tag": "hot", "ids": ids}).status_code == 302
    connection.set_schema_to_public()
    with tenant_context(workspace.tenant):
        assert all(r.tags == ["hot"] for r in model.objects.all())
    assert owner_client.post(url, {"action": "delete", "ids": ids, "confirmed": "yes"}).status_code == 302
    connection.set_schema_to_public()
    with tenant_context(workspace.tenant):
        assert not model.objects.exists()


def test_unknown_action_is_a_bad_request(owner_client) -> None:
    response = owner_client.post(reverse("companies:bulk"), {"action": "drop_table", "ids": ["1"]})
    assert response.status_code == 400


def test_assigning_to_someone_outside_the_workspace_is_refused(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        company = CompanyFactory(owner=workspace.owner)
    response = owner_client.post(
        reverse("companies:bulk"), {"action": "assign", "user": "999999", "ids": [company.pk]}, follow=True
    )
    assert "Choose a person" in response.content.decode()
    connection.set_schema_to_public()
    with tenant_context(workspace.tenant):
        company.refresh_from_db()
        assert company.owner_id == workspace.owner.pk
