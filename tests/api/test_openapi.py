"""The OpenAPI document: well-formed, for members only, and describing the workspace's own custom fields."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from crm.customfields.services import custom_field_create
from tests.api.conftest import ApiClient, inside

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_openapi_document_is_well_formed(api) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Kontor API"
    components = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in components, ref
    operation_ids = []
    for path, methods in doc["paths"].items():
        assert path.startswith("/api/v1/")
        for method, operation in methods.items():
            assert method in METHODS
            operation_ids.append(operation["operationId"])
            assert {"401", "404", "422"} <= set(operation["responses"]), (method, path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert "{" + parameter["name"] + "}" in path
            if method == "patch" and path.split("/")[3] in ("companies", "contacts", "leads", "deals"):
                assert "409" in operation["responses"], path
    assert len(operation_ids) == len(set(operation_ids))
    assert "409" in doc["paths"]["/api/v1/deals/{deal_id}/move"]["post"]["responses"]
    assert "409" not in doc["paths"]["/api/v1/products/{product_id}"]["patch"]["responses"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["SessionAuth"]["in"] == "cookie"
    for resource in ("companies", "contacts", "leads", "deals", "pipelines", "products", "activities", "custom-fields"):
        assert f"/api/v1/{resource}/" in doc["paths"]


def test_openapi_lists_the_workspaces_custom_fields(api, workspace, other_workspace) -> None:
    with inside(workspace):
        owner = workspace.owner
        custom_field_create(
            actor=owner,
            record_type="company",
            label="Segment",
            field_type="choice",
            choices=["SMB", "Enterprise"],
            is_required=True,
        )
        custom_field_create(actor=owner, record_type="company", label="Employees", field_type="number")
        custom_field_create(actor=owner, record_type="deal", label="Budget", field_type="money")
        custom_field_create(actor=owner, record_type="deal", label="Signed on", field_type="date")
        custom_field_create(actor=owner, record_type="contact", label="Newsletter", field_type="boolean")
        custom_field_create(
            actor=owner, record_type="lead", label="Interests", field_type="multi_choice", choices=["A", "B"]
        )
        custom_field_create(actor=owner, record_type="lead", label="Manager", field_type="user")
    with inside(other_workspace):
        custom_field_create(actor=other_workspace.owner, record_type="company", label="Secret plan", field_type="text")

    doc = api.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]

    company = schemas["CompanyOut"]["properties"]["custom_fields"]
    assert company["additionalProperties"] is False
    assert set(company["properties"]) == {"segment", "employees"}
    assert company["properties"]["segment"]["enum"] == ["SMB", "Enterprise"]
    assert company["properties"]["employees"]["type"] == "string"
    assert company["properties"]["employees"]["format"] == "decimal"
    assert schemas["CompanyIn"]["properties"]["custom_fields"]["required"] == ["segment"]
    assert "required" not in schemas["CompanyPatch"]["properties"]["custom_fields"]

    deal = schemas["DealOut"]["properties"]["custom_fields"]["properties"]
    assert deal["budget"]["type"] == "object" and set(deal["budget"]["properties"]) == {"amount", "currency"}
    assert deal["signed_on"] == {"type": "string", "format": "date", "title": "Signed on"}
    assert schemas["ContactOut"]["properties"]["custom_fields"]["properties"]["newsletter"]["type"] == "boolean"
    lead = schemas["LeadOut"]["properties"]["custom_fields"]["properties"]
    assert lead["interests"]["type"] == "array" and lead["interests"]["items"]["enum"] == ["A", "B"]
    assert lead["manager"]["type"] == "integer"

    list_companies = doc["paths"]["/api/v1/companies/"]["get"]
    assert {"cf_segment", "cf_employees"} <= {p["name"] for p in list_companies["parameters"]}
    list_deals = doc["paths"]["/api/v1/deals/"]["get"]
    assert "cf_budget" not in {p["name"] for p in list_deals["parameters"]}  # money: no equality filter
    # Nothing of the other workspace.
    assert "secret" not in str(doc).lower()


def test_openapi_and_docs_are_for_members_only(workspace, owner_client) -> None:
    anonymous = ApiClient(Client(HTTP_HOST=workspace.domain))
    assert anonymous.get("/openapi.json").status_code == 401
    docs = anonymous.get("/docs")
    assert docs.status_code == 302 and "/login/" in docs.headers["Location"]
    session = ApiClient(owner_client)
    assert session.get("/openapi.json").status_code == 200
    page = session.get("/docs")
    assert page.status_code == 200 and b"openapi.json" in page.content
    # Served from our own static files: pages must work offline.
    assert b"cdn." not in page.content
