"""CRUD of every resource over the REST API: bodies, field errors (422, nothing saved), stale versions (409),
filters and cursor pagination."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.customfields.models import CustomField
from crm.customfields.services import custom_field_create
from crm.deals.models import Deal, DealLineItem, Pipeline, Stage
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from crm.products.models import Product
from tests.api.conftest import bearer_client, inside, key_for
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _rows(workspace, *models) -> dict[str, list[tuple]]:
    """Everything stored in these tables, to assert a refused request changed nothing."""
    with inside(workspace):
        return {m.__name__: sorted(m.objects.values_list()) for m in (*models, ChangeRecord)}


# --- companies --------------------------------------------------------------------------------------------


def test_company_crud(api, workspace) -> None:
    created = api.post(
        "/companies/",
        {"name": "Romashka LLC", "tax_id": " 7701 234567 ", "phones": ["8 (916) 123-45-67"], "tags": ["VIP"]},
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["tax_id"] == "7701234567" and body["phones"] == ["+79161234567"] and body["tags"] == ["vip"]
    assert body["owner"] == workspace.owner.pk and body["version"] == 1
    company_id = body["id"]

    read = api.get(f"/companies/{company_id}")
    assert read.status_code == 200 and read.json()["name"] == "Romashka LLC"

    updated = api.patch(f"/companies/{company_id}", {"industry": "Retail", "version": 1})
    assert updated.status_code == 200, updated.json()
    assert updated.json()["industry"] == "Retail" and updated.json()["version"] == 2

    assert api.delete(f"/companies/{company_id}").status_code == 204
    assert api.get(f"/companies/{company_id}").status_code == 404
    with inside(workspace):
        assert not Company.objects.exists()
        actions = list(ChangeRecord.objects.order_by("id").values_list("action", flat=True))
    assert actions == [ChangeRecord.Action.CREATED, ChangeRecord.Action.UPDATED, ChangeRecord.Action.DELETED]


def test_bad_company_is_422_naming_each_field_and_saves_nothing(api, workspace) -> None:
    before = _rows(workspace, Company)
    response = api.post("/companies/", {"name": "", "phones": ["12"], "emails": ["nope"]})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] and {"name", "phones", "emails"} <= set(body["errors"])
    assert all(isinstance(m, str) for messages in body["errors"].values() for m in messages)
    assert _rows(workspace, Company) == before


def test_unparsable_input_is_422_naming_the_field(api, workspace) -> None:
    response = api.post("/companies/", {"name": "X", "phones": "not a list", "hacker": True})
    assert response.status_code == 422
    assert {"phones", "hacker"} <= set(response.json()["errors"])
    missing = api.post("/companies/", {})
    assert missing.status_code == 422 and "name" in missing.json()["errors"]
    with inside(workspace):
        assert not Company.objects.exists()


def test_bad_update_changes_nothing(api, workspace) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Before")
    before = _rows(workspace, Company)
    response = api.patch(f"/companies/{company.pk}", {"name": "After", "website": "not a url at all", "phones": ["1"]})
    assert response.status_code == 422
    assert {"website", "phones"} <= set(response.json()["errors"])
    assert _rows(workspace, Company) == before


def test_stale_update_is_409_with_the_current_version(api, workspace) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Shared")
    assert api.patch(f"/companies/{company.pk}", {"name": "First", "version": 1}).status_code == 200
    before = _rows(workspace, Company)
    stale = api.patch(f"/companies/{company.pk}", {"name": "Second", "version": 1})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2 and stale.json()["detail"]
    assert _rows(workspace, Company) == before
    # Without a version the update is last-writer-wins.
    assert api.patch(f"/companies/{company.pk}", {"name": "Third"}).json()["version"] == 3


def test_company_filters_and_custom_fields(api, workspace) -> None:
    with inside(workspace):
        custom_field_create(
            actor=workspace.owner,
            record_type="company",
            label="Segment",
            field_type="choice",
            choices=["SMB", "Enterprise"],
        )
        custom_field_create(actor=workspace.owner, record_type="company", label="Employees", field_type="number")
        custom_field_create(actor=workspace.owner, record_type="company", label="Partner", field_type="boolean")
        other_owner = UserFactory()
        CompanyFactory(name="Nothing special")
        CompanyFactory(name="Owned elsewhere", owner=other_owner)
        CompanyFactory(name="Tagged", tags=["vip"])
    made = api.post(
        "/companies/",
        {"name": "Zeta Trading", "custom_fields": {"segment": "Enterprise", "employees": "12.50", "partner": "yes"}},
    )
    assert made.status_code == 201, made.json()
    assert made.json()["custom_fields"] == {"segment": "Enterprise", "employees": "12.5", "partner": True}

    def names(**params):
        response = api.get("/companies/", **params)
        assert response.status_code == 200, response.json()
        return [c["name"] for c in response.json()["items"]]

    assert names(q="zeta") == ["Zeta Trading"]
    assert names(q="tradi zet") == ["Zeta Trading"]
    assert names(tag="VIP") == ["Tagged"]
    assert names(owner=other_owner.pk) == ["Owned elsewhere"]
    assert names(cf_segment="Enterprise") == ["Zeta Trading"]
    assert names(cf_employees="12.500") == ["Zeta Trading"]
    assert names(cf_partner="true") == ["Zeta Trading"]
    assert names(cf_segment="SMB") == []
    bad = api.get("/companies/", cf_nope="1", cf_segment="Giant")
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"cf_nope", "cf_segment"}

    refused = api.post("/companies/", {"name": "X", "custom_fields": {"segment": "Giant", "typo": 1}})
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"custom_fields.segment", "custom_fields.typo"}


def test_cursor_pagination_walks_every_record_once(api, workspace) -> None:
    with inside(workspace):
        ids = [CompanyFactory().pk for _ in range(7)]
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/companies/", **params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert api.get("/companies/", limit=201).status_code == 422
    assert api.get("/companies/", limit=0).status_code == 422
    assert api.get("/companies/", cursor="garbage!").json()["errors"] == {"cursor": ["This cursor is not valid."]}
    assert len(api.get("/companies/").json()["items"]) == 7


# --- contacts ---------------------------------------------------------------------------------------------


def test_contact_crud_and_filters(api, workspace) -> None:
    with inside(workspace):
        company = CompanyFactory()
        ContactFactory()
    created = api.post(
        "/contacts/",
        {"first_name": "Anna", "last_name": "Petrova", "company": company.pk, "emails": ["Anna@Example.com"]},
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["company"] == company.pk and body["emails"] == ["anna@example.com"]
    assert body["full_name"] == "Anna Petrova"
    contact_id = body["id"]
    listed = api.get("/contacts/", company=company.pk).json()["items"]
    assert [c["id"] for c in listed] == [contact_id]
    assert [c["id"] for c in api.get("/contacts/", q="petrova").json()["items"]] == [contact_id]

    consent = api.patch(f"/contacts/{contact_id}", {"consent_to_contact": True, "version": 1})
    assert consent.status_code == 200 and consent.json()["consent_at"] is not None
    assert api.patch(f"/contacts/{contact_id}", {"last_name": "X", "version": 1}).status_code == 409
    assert api.delete(f"/contacts/{contact_id}").status_code == 204
    with inside(workspace):
        assert not Contact.objects.filter(pk=contact_id).exists()


def test_contact_without_name_or_unknown_company_is_422(api, workspace) -> None:
    before = _rows(workspace, Contact)
    nameless = api.post("/contacts/", {"position": "CEO"})
    assert nameless.status_code == 422 and "last_name" in nameless.json()["errors"]
    dangling = api.post("/contacts/", {"last_name": "Orphan", "company": 999999})
    assert dangling.status_code == 422 and "company" in dangling.json()["errors"]
    assert _rows(workspace, Contact) == before


# --- leads ------------------------------------------------------------------------------------------------


def test_lead_crud_status_filter_and_conversion(api, workspace) -> None:
    with inside(workspace):
        LeadFactory(status=Lead.Status.REJECTED)
    created = api.post(
        "/leads/",
        {"title": "Website request", "contact_name": "Ivan Sidorov", "company_name": "Vector", "phone": "89161112233"},
    )
    assert created.status_code == 201, created.json()
    lead_id = created.json()["id"]
    assert created.json()["phone"] == "+79161112233" and created.json()["status"] == "new"
    assert [x["id"] for x in api.get("/leads/", status="new").json()["items"]] == [lead_id]
    assert api.get("/leads/", status="bogus").status_code == 422
    assert api.patch(f"/leads/{lead_id}", {"status": "in_progress"}).json()["status"] == "in_progress"
    refused = api.patch(f"/leads/{lead_id}", {"status": "converted"})
    assert refused.status_code == 422 and "status" in refused.json()["errors"]

    converted = api.post(f"/leads/{lead_id}/convert", {"deal": {"amount": "5000.00"}})
    assert converted.status_code == 200, converted.json()
    body = converted.json()
    assert body["lead"]["status"] == "converted" and body["company"] and body["contact"] and body["deal"]
    with inside(workspace):
        deal = Deal.objects.get(pk=body["deal"])
        assert deal.amount == Decimal("5000.00") and deal.company_id == body["company"]
    again = api.post(f"/leads/{lead_id}/convert", {})
    assert again.status_code == 422 and "status" in again.json()["errors"]
    assert api.delete(f"/leads/{lead_id}").status_code == 204


def test_conversion_with_unknown_company_is_422_and_changes_nothing(api, workspace) -> None:
    with inside(workspace):
        lead = LeadFactory()
    before = _rows(workspace, Lead, Company, Contact, Deal)
    response = api.post(f"/leads/{lead.pk}/convert", {"company": 999999})
    assert response.status_code == 422 and "company" in response.json()["errors"]
    assert _rows(workspace, Lead, Company, Contact, Deal) == before


# --- deals ------------------------------------------------------------------------------------------------


def test_deal_with_line_items_contacts_and_totals(api, workspace) -> None:
    with inside(workspace):
        company = CompanyFactory()
        contact = ContactFactory(company=company)
        product = ProductFactory(price=Decimal("100.00"), vat_rate=Decimal("20"))
        pipeline = Pipeline.objects.order_by("position", "id").first()
        first_stage = pipeline.stages.filter(outcome="open").order_by("position").first()
    created = api.post(
        "/deals/",
        {
            "title": "Supply contract",
            "company": company.pk,
            "contacts": [contact.pk],
            "currency": "RUB",
            "line_items": [
                {"product": product.pk, "quantity": "3"},
                {"name": "Installation", "price": "1000.00", "discount_percent": "10", "vat_rate": "20"},
            ],
        },
    )
    assert created.status_code == 201, created.json()
    deal = created.json()
    assert deal["pipeline"] == pipeline.pk and deal["stage"] == first_stage.pk
    assert deal["contacts"] == [contact.pk] and deal["company"] == company.pk
    first, second = deal["line_items"]
    assert (first["name"], first["price"], first["subtotal"], first["vat"], first["total"]) == (
        product.name,
        "100.00",
        "300.00",
        "60.00",
        "360.00",
    )
    assert (second["subtotal"], second["discount"], second["vat"], second["total"]) == (
        "1000.00",
        "100.00",
        "180.00",
        "1080.00",
    )
    assert deal["totals"] == {
        "subtotal": "1300.00",
        "discount": "100.00",
        "vat": "240.00",
        "total": "1440.00",
        "currency": "RUB",
    }
    assert deal["amount"] == "1440.00"

    replaced = api.put(f"/deals/{deal['id']}/line-items", {"items": [{"name": "Consulting", "price": "50.50"}]})
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["amount"] == "50.50" and len(replaced.json()["line_items"]) == 1

    bad_items = api.put(f"/deals/{deal['id']}/line-items", {"items": [{"name": "Free"}, {"product": 999999}]})
    assert bad_items.status_code == 422
    assert {"line_items.0.price", "line_items.1.product"} <= set(bad_items.json()["errors"])
    with inside(workspace):
        assert list(DealLineItem.objects.values_list("name", flat=True)) == ["Consulting"]


def test_deal_stage_moves_versions_and_lost_reason(api, workspace) -> None:
    with inside(workspace):
        deal = DealFactory()
        stages = {s.outcome if s.outcome != "open" else s.name: s for s in deal.pipeline.stages.all()}
        proposal = deal.pipeline.stages.filter(outcome="open").order_by("position")[1]
        other_pipeline_stage = PipelineFactory().stages.first()
    moved = api.post(f"/deals/{deal.pk}/move", {"stage": proposal.pk, "version": 1})
    assert moved.status_code == 200, moved.json()
    assert moved.json()["stage"] == proposal.pk and moved.json()["version"] == 2

    before = _rows(workspace, Deal)
    assert api.post(f"/deals/{deal.pk}/move", {"stage": stages["won"].pk, "version": 1}).status_code == 409
    lost = api.post(f"/deals/{deal.pk}/move", {"stage": stages["lost"].pk})
    assert lost.status_code == 422 and "lost_reason" in lost.json()["errors"]
    elsewhere = api.post(f"/deals/{deal.pk}/move", {"stage": other_pipeline_stage.pk})
    assert elsewhere.status_code == 422 and "stage" in elsewhere.json()["errors"]
    assert _rows(workspace, Deal) == before

    closed = api.post(f"/deals/{deal.pk}/move", {"stage": stages["lost"].pk, "lost_reason": "Too expensive"})
    assert closed.status_code == 200 and closed.json()["closed_at"] and closed.json()["lost_reason"] == "Too expensive"
    assert [d["id"] for d in api.get("/deals/", is_open="false").json()["items"]] == [deal.pk]
    assert api.get("/deals/", is_open="true").json()["items"] == []


def test_deal_update_filters_and_delete(api, workspace) -> None:
    with inside(workspace):
        company = CompanyFactory()
        contact = ContactFactory()
        deal = DealFactory(company=company)
        DealFactory()
        proposal = deal.pipeline.stages.filter(outcome="open").order_by("position")[1]
    updated = api.patch(
        f"/deals/{deal.pk}",
        {"title": "Renamed", "contacts": [contact.pk], "stage": proposal.pk, "amount": "99.90", "version": 1},
    )
    assert updated.status_code == 200, updated.json()
    body = updated.json()
    assert (body["title"], body["contacts"], body["stage"], body["amount"]) == (
        "Renamed",
        [contact.pk],
        proposal.pk,
        "99.90",
    )
    assert [d["id"] for d in api.get("/deals/", company=company.pk).json()["items"]] == [deal.pk]
    assert [d["id"] for d in api.get("/deals/", stage=proposal.pk).json()["items"]] == [deal.pk]
    assert [d["id"] for d in api.get("/deals/", contact=contact.pk).json()["items"]] == [deal.pk]
    assert [d["id"] for d in api.get("/deals/", q="renamed").json()["items"]] == [deal.pk]
    bad = api.patch(f"/deals/{deal.pk}", {"currency": "XXX", "contacts": [999999]})
    assert bad.status_code == 422 and "currency" in bad.json()["errors"]
    assert api.delete(f"/deals/{deal.pk}").status_code == 204
    with inside(workspace):
        assert not Deal.objects.filter(pk=deal.pk).exists()


def test_deal_money_is_never_a_float(api, workspace) -> None:
    with inside(workspace):
        deal = DealFactory(amount=Decimal("0.10"))
    body = api.get(f"/deals/{deal.pk}").json()
    assert body["amount"] == "0.10" and isinstance(body["totals"]["total"], str)


# --- pipelines and stages ---------------------------------------------------------------------------------


def test_pipeline_and_stage_crud(api, workspace) -> None:
    created = api.post("/pipelines/", {"name": "Service", "kind": "service", "stages": ["Request", "In work"]})
    assert created.status_code == 201, created.json()
    pipeline = created.json()
    assert [s["name"] for s in pipeline["stages"]] == ["Request", "In work", "Won", "Lost"]
    pid = pipeline["id"]
    assert api.post("/pipelines/", {"name": "Service"}).status_code == 422
    assert "Service" in [p["name"] for p in api.get("/pipelines/").json()]

    assert api.patch(f"/pipelines/{pid}", {"name": "Support", "is_active": False}).json()["name"] == "Support"
    stage = api.post(f"/pipelines/{pid}/stages", {"name": "Review", "probability": 60})
    assert stage.status_code == 201, stage.json()
    stage_id = stage.json()["id"]
    names = [s["name"] for s in api.get(f"/pipelines/{pid}").json()["stages"]]
    assert names == ["Request", "In work", "Review", "Won", "Lost"]
    assert api.patch(f"/pipelines/{pid}/stages/{stage_id}", {"probability": 70}).json()["probability"] == 70
    assert api.patch(f"/pipelines/{pid}/stages/{stage_id}", {"probability": 170}).status_code == 422

    ids = [s["id"] for s in api.get(f"/pipelines/{pid}").json()["stages"]]
    reordered = api.put(f"/pipelines/{pid}/stages/order", {"stage_ids": list(reversed(ids))})
    assert reordered.status_code == 200 and [s["id"] for s in reordered.json()] == list(reversed(ids))
    assert api.put(f"/pipelines/{pid}/stages/order", {"stage_ids": ids[:2]}).status_code == 422

    assert api.delete(f"/pipelines/{pid}/stages/{stage_id}").status_code == 204
    assert api.delete(f"/pipelines/{pid}").status_code == 204
    with inside(workspace):
        assert not Pipeline.objects.filter(pk=pid).exists()


def test_stage_holding_deals_needs_a_target(api, workspace) -> None:
    with inside(workspace):
        deal = DealFactory()
        stage, target = deal.pipeline.stages.filter(outcome="open").order_by("position")[:2]
    before = _rows(workspace, Stage, Deal)
    refused = api.delete(f"/pipelines/{deal.pipeline_id}/stages/{stage.pk}")
    assert refused.status_code == 422 and "move_deals_to" in refused.json()["errors"]
    assert _rows(workspace, Stage, Deal) == before
    moved = api.delete(f"/pipelines/{deal.pipeline_id}/stages/{stage.pk}?move_deals_to={target.pk}")
    assert moved.status_code == 204
    assert api.get(f"/deals/{deal.pk}").json()["stage"] == target.pk


def test_members_cannot_change_pipelines_or_custom_fields(workspace) -> None:
    with inside(workspace):
        member = UserFactory()
    api = bearer_client(workspace, key_for(workspace, member))
    before = _rows(workspace, Pipeline, Stage, CustomField)
    assert api.post("/pipelines/", {"name": "Mine"}).status_code == 403
    assert api.post("/custom-fields/", {"record_type": "deal", "label": "X", "field_type": "text"}).status_code == 403
    assert _rows(workspace, Pipeline, Stage, CustomField) == before
    # ...but they read them and work the records.
    assert api.get("/pipelines/").status_code == 200
    assert api.post("/companies/", {"name": "Member's"}).status_code == 201


# --- products ---------------------------------------------------------------------------------------------


def test_product_crud(api, workspace) -> None:
    created = api.post("/products/", {"sku": "A-1", "name": "Widget", "price": "19.99", "currency": "eur"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["price"], body["currency"], body["vat_rate"]) == ("19.99", "EUR", "0.00")
    pid = body["id"]
    assert api.post("/products/", {"sku": "A-1", "name": "Dup", "price": "1", "currency": "EUR"}).status_code == 422
    bad = api.post("/products/", {"sku": "B", "name": "Bad", "price": "-1", "currency": "ZZZ"})
    assert bad.status_code == 422 and {"price", "currency"} <= set(bad.json()["errors"])
    assert [p["id"] for p in api.get("/products/", q="widg").json()["items"]] == [pid]
    assert api.patch(f"/products/{pid}", {"price": "21"}).json()["price"] == "21.00"
    assert api.delete(f"/products/{pid}").status_code == 204
    with inside(workspace):
        assert not Product.objects.exists()


# --- activities -------------------------------------------------------------------------------------------


def test_activity_crud_and_filters(api, workspace) -> None:
    with inside(workspace):
        contact = ContactFactory()
        colleague = UserFactory()
        ActivityFactory(assignee=colleague, subject="Theirs")
        ActivityFactory(assignee=workspace.owner, subject="Done", is_done=True)
    created = api.post(
        "/activities/",
        {
            "kind": "call",
            "subject": "Call Anna",
            "contact": contact.pk,
            "due_at": "2030-01-10T10:00:00Z",
            "call_phone": "8 916 000 11 22",
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["assignee"] == workspace.owner.pk and body["company"] == contact.company_id
    assert body["call_phone"] == "+79160001122"
    aid = body["id"]

    def subjects(**params):
        return [a["subject"] for a in api.get("/activities/", **params).json()["items"]]

    assert subjects(assignee=colleague.pk) == ["Theirs"]
    assert subjects(is_done="true") == ["Done"]
    assert subjects(due_from="2030-01-01T00:00:00Z", due_to="2030-02-01T00:00:00Z") == ["Call Anna"]
    assert subjects(contact=contact.pk) == ["Call Anna"]
    done = api.patch(f"/activities/{aid}", {"is_done": True, "result": "Agreed"})
    assert done.status_code == 200 and done.json()["is_done"] and done.json()["done_at"]
    bad = api.patch(f"/activities/{aid}", {"call_phone": "12", "subject": ""})
    assert bad.status_code == 422 and {"call_phone", "subject"} <= set(bad.json()["errors"])
    assert api.delete(f"/activities/{aid}").status_code == 204
    with inside(workspace):
        assert not Activity.objects.filter(pk=aid).exists()


# --- custom field definitions -----------------------------------------------------------------------------


def test_custom_field_crud(api, workspace) -> None:
    created = api.post(
        "/custom-fields/", {"record_type": "deal", "label": "Region", "field_type": "choice", "choices": ["North"]}
    )
    assert created.status_code == 201, created.json()
    fid = created.json()["id"]
    assert created.json()["key"] == "region"
    assert [f["key"] for f in api.get("/custom-fields/", record_type="deal").json()] == ["region"]
    assert api.get("/custom-fields/", record_type="company").json() == []
    patched = api.patch(f"/custom-fields/{fid}", {"label": "Sales region", "choices": ["North", "South"]})
    assert patched.json()["label"] == "Sales region" and patched.json()["choices"] == ["North", "South"]
    bad = api.post("/custom-fields/", {"record_type": "product", "label": "X", "field_type": "choice"})
    assert bad.status_code == 422 and "record_type" in bad.json()["errors"]
    assert api.delete(f"/custom-fields/{fid}").status_code == 204
    assert api.get(f"/custom-fields/{fid}").status_code == 404


# --- across resources -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "factory", "change"),
    [
        ("/companies/", CompanyFactory, {"name": "Changed"}),
        ("/contacts/", ContactFactory, {"last_name": "Changed"}),
        ("/leads/", LeadFactory, {"title": "Changed"}),
        ("/deals/", DealFactory, {"title": "Changed"}),
    ],
)
def test_every_record_refuses_a_stale_update(api, workspace, path, factory, change) -> None:
    with inside(workspace):
        record = factory()
        model = type(record)
    assert api.patch(f"{path}{record.pk}", {"tags": ["first"], "version": 1}).json()["version"] == 2
    before = _rows(workspace, model)
    stale = api.patch(f"{path}{record.pk}", {**change, "version": 1})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert _rows(workspace, model) == before


def test_a_refused_stage_change_leaves_the_other_fields_unchanged(api, workspace) -> None:
    with inside(workspace):
        deal = DealFactory(title="Original")
        lost = deal.pipeline.stages.get(outcome="lost")
    before = _rows(workspace, Deal)
    response = api.patch(f"/deals/{deal.pk}", {"title": "Renamed", "stage": lost.pk})
    assert response.status_code == 422 and "lost_reason" in response.json()["errors"]
    assert _rows(workspace, Deal) == before


def test_a_body_that_is_not_json_is_422(api, workspace) -> None:
    response = api.client.post("/api/v1/companies/", data="{not json", content_type="application/json")
    assert response.status_code == 422 and response.json()["detail"] and response.json()["errors"]
    with inside(workspace):
        assert not Company.objects.exists()


def test_missing_records_are_404_with_a_json_body(api) -> None:
    for path in ("/companies/999999", "/deals/999999", "/pipelines/999999/stages/1", "/custom-fields/999999"):
        response = api.get(path) if "stages" not in path else api.patch(path, {})
        assert response.status_code == 404 and response.json() == {"detail": "Not Found"}, path
