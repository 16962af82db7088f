"""No operation of the API reaches another workspace's records.

The test walks every operation of the OpenAPI document, so an endpoint added later is covered too: each one
that takes a record id is called with the ids of another workspace's records and must answer 404, leak
nothing and change nothing in either workspace; each list is filtered by those ids and must find nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.customfields.models import CustomField
from crm.deals.models import Deal, DealLineItem, Pipeline, Stage
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from crm.products.models import Product
from crm.search.models import SearchTerm
from tenants.accounts.models import ApiKey, AuditEvent, Invitation, Role, Team, User
from tests.api.conftest import inside
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, LeadFactory, ProductFactory

pytestmark = pytest.mark.django_db

MARK = "Leakmark"
MODELS = (
    Company,
    Contact,
    Lead,
    Pipeline,
    Stage,
    Deal,
    DealLineItem,
    Product,
    Activity,
    CustomField,
    ChangeRecord,
    SearchTerm,
    User,
    ApiKey,
    Role,
    Team,
    Invitation,
    AuditEvent,
)


def _foreign_records(workspace) -> dict[str, int]:
    """Records of every kind in `workspace`, with ids no record of the caller's workspace has."""
    with inside(workspace):
        company = CompanyFactory(pk=900_001, name=f"{MARK} Company", tags=["leak"])
        contact = ContactFactory(pk=900_002, company=company, last_name=MARK)
        pipeline = Pipeline.objects.create(pk=900_003, name=f"{MARK} pipeline")
        stage = Stage.objects.create(pk=900_004, pipeline=pipeline, name=f"{MARK} stage", position=1)
        Stage.objects.create(pk=900_005, pipeline=pipeline, name=f"{MARK} later", position=2)
        deal = DealFactory(pk=900_006, title=f"{MARK} deal", company=company, pipeline=pipeline, stage=stage)
        deal.contacts.add(contact)
        product = ProductFactory(pk=900_007, name=f"{MARK} product")
        DealLineItem.objects.create(pk=900_008, deal=deal, product=product, name=MARK, price=Decimal("1.00"))
        lead = LeadFactory(pk=900_009, title=f"{MARK} lead")
        activity = ActivityFactory(pk=900_010, subject=f"{MARK} call", company=company, deal=deal, lead=lead)
        field = CustomField.objects.create(
            pk=900_011, record_type="company", key="leak", label=MARK, field_type=CustomField.Type.TEXT
        )
        return {
            "company": company.pk,
            "contact": contact.pk,
            "lead": lead.pk,
            "deal": deal.pk,
            "pipeline": pipeline.pk,
            "stage": stage.pk,
            "product": product.pk,
            "activity": activity.pk,
            "field": field.pk,
            "move_deals_to": 900_005,
        }


def _own_records(workspace) -> None:
    """The caller's workspace has records too, so a 404 is not merely an empty database."""
    with inside(workspace):
        company = CompanyFactory(name="Own company")
        DealFactory(company=company)
        LeadFactory()
        ProductFactory()
        ActivityFactory(company=company)


def _snapshot(*workspaces) -> list[dict[str, list[tuple]]]:
    snapshots = []
    for workspace in workspaces:
        with inside(workspace):
            rows = {m.__name__: sorted(map(repr, m.objects.values_list())) for m in MODELS}
            # The caller's key records when it was used; nothing else may change.
            rows["ApiKey"] = sorted(map(repr, ApiKey.objects.values_list("id", "prefix", "key_hash", "revoked_at")))
            snapshots.append(rows)
    return snapshots


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(doc, schema["allOf"][0])
    return schema


def _example(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The smallest value the schema accepts: required properties only."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        return _example(doc, next(s for s in schema["anyOf"] if s.get("type") != "null"))
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(doc, properties[name]) for name in schema.get("required", [])}
    return {"string": "x", "integer": 1, "number": 1, "boolean": True, "array": []}.get(kind, "x")


def _path_id(name: str, ids: dict[str, int]) -> int:
    key = name.removesuffix("_id")
    assert key in ids, f"the isolation test does not know path parameter {name!r}: add it to _foreign_records()"
    return ids[key]


def test_no_operation_reaches_another_workspaces_records(api, workspace, other_workspace) -> None:
    ids = _foreign_records(other_workspace)
    _own_records(workspace)
    before = _snapshot(workspace, other_workspace)
    doc = api.get("/openapi.json").json()

    walked = 0
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            path_params = [p["name"] for p in parameters if p["in"] == "path"]
            body = None
            if "requestBody" in operation:
                body = _example(doc, operation["requestBody"]["content"]["application/json"]["schema"])
            if path_params:
                url = path
                for name in path_params:
                    url = url.replace("{" + name + "}", str(_path_id(name, ids)))
                response = api.request(method.upper(), url, body)
                assert response.status_code == 404, (method, url, response.content)
                assert MARK.lower() not in response.content.decode().lower(), (method, url)
                walked += 1
            elif method == "get":
                # Lists filtered by the other workspace's ids find nothing (and reveal nothing).
                accepted = {p["name"] for p in parameters if p["in"] == "query"}
                query = {name: ids[name] for name in accepted if name in ids}
                searches = [{name: value} for name, value in (("q", MARK), ("tag", "leak")) if name in accepted]
                for params in ({}, query, *searches):
                    response = api.get(path, **params)
                    assert response.status_code == 200, (path, params, response.content)
                    assert MARK.lower() not in response.content.decode().lower(), (path, params)
                    body_json = response.json()
                    if params and isinstance(body_json, dict) and "items" in body_json:
                        assert body_json["items"] == [], (path, params)
                walked += 1
    assert walked >= 25
    assert _snapshot(workspace, other_workspace) == before


def test_another_workspaces_ids_in_a_body_are_field_errors(api, workspace, other_workspace) -> None:
    ids = _foreign_records(other_workspace)
    before = _snapshot(workspace, other_workspace)
    contact = api.post("/contacts/", {"last_name": "Ours", "company": ids["company"]})
    assert contact.status_code == 422 and "company" in contact.json()["errors"]
    deal = api.post("/deals/", {"title": "Ours", "contacts": [ids["contact"]], "pipeline": ids["pipeline"]})
    assert deal.status_code == 422 and "pipeline" in deal.json()["errors"]
    items = api.post("/deals/", {"title": "Ours", "line_items": [{"product": ids["product"]}]})
    assert items.status_code == 422 and "line_items.0.product" in items.json()["errors"]
    activity = api.post("/activities/", {"subject": "Ours", "deal": ids["deal"]})
    assert activity.status_code == 422 and "deal" in activity.json()["errors"]
    for response in (contact, deal, items, activity):
        assert MARK.lower() not in response.content.decode().lower()
    assert _snapshot(workspace, other_workspace) == before
