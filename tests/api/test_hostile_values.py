"""Every API operation of the OpenAPI document, walked with hostile values in each of its path and query
parameters and body fields (dates out of the calendar or with impossible offsets, non-numbers, NUL characters,
lone surrogates, nulls, huge numbers, strings and lists, unknown choices) and with bodies that are not JSON:
no answer is a server error, and a refusal changes nothing. The cases come from the document, so a new
operation is walked without touching this test."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction

from crm.customfields.services import custom_field_create
from tests.api.conftest import ApiClient, inside
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

HUGE_TEXT = "x" * 200_000
HOSTILE: list[Any] = [
    None,
    "",
    "a\x00b",
    "a\ud8e4b",
    HUGE_TEXT,
    "not a choice",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-05-01T10:00:00+20:00",
    -1,
    1.5,
    10**30,
    True,
    "1e400",
    [],
    ["a\x00"] * 3,
    list(range(20_000)),
    {"nested": {"deeper": ["a\x00"]}},
]
# Query and path values are text: the same, as a client would put them in a URL.
HOSTILE_IN_URL = ["", "a%00b", "%ED%A3%A4", "abc", "-1", "1.5", "1" + "0" * 30, "x" * 5000]
HOSTILE_IN_URL += ["0001-01-01T00:00:00%2B14:00", "9999-12-31T23:59:59-14:00", "2026-05-01T10:00:00%2B20:00"]
NOT_JSON = [
    b'{"name": "Unclosed',
    b"\xff\xfe\x00",
    b"[]",
    b'"text"',
    b"null",
    b"{" * 5000,
    b'{"a": 1' + b"0" * 5000 + b"}",
]

CRM_APPS = ("companies", "contacts", "leads", "deals", "activities", "products", "customfields", "history", "search")


def _snapshot() -> str:
    """A digest of every row of the workspace's CRM tables (the connection is in the workspace's schema)."""
    tables = [m._meta.db_table for app in CRM_APPS for m in apps.get_app_config(app).get_models()]
    digests = [f"(SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \"{t}\" t)" for t in tables]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT concat_ws(',', {', '.join(digests)})")
        return str(cursor.fetchone()[0])


def _records(workspace: Any) -> dict[str, int]:
    with inside(workspace):
        custom_field_create(actor=workspace.owner, record_type="company", label="Motto", field_type="text")
        custom_field_create(
            actor=workspace.owner, record_type="deal", label="Size", field_type="choice", choices=["S", "L"]
        )
        pipeline = PipelineFactory()
        stages = list(pipeline.stages.order_by("position"))
        company = CompanyFactory()
        deal = DealFactory(pipeline=pipeline, stage=stages[0], company=company)
        field = custom_field_create(actor=workspace.owner, record_type="lead", label="Hot", field_type="boolean")
        return {
            "company": company.pk,
            "contact": ContactFactory(company=company).pk,
            "lead": LeadFactory().pk,
            "deal": deal.pk,
            "pipeline": pipeline.pk,
            "stage": stages[1].pk,
            "activity": ActivityFactory(company=company).pk,
            "product": ProductFactory().pk,
            "field": field.pk,
            "owner": workspace.owner.pk,
            "assignee": workspace.owner.pk,
        }


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _sample(document: dict[str, Any], name: str, schema: dict[str, Any], ids: dict[str, int]) -> Any:
    """A plain valid value for a required field, so that the other fields are what the server looks at."""
    schema = _resolve(document, schema)
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        return _sample(document, name, branches[0], ids)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return ids.get(name, schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return {"date": "2026-05-01", "date-time": "2026-05-01T10:00:00Z"}.get(schema.get("format", ""), "Walk")


def _cases(document: dict[str, Any], ids: dict[str, int]) -> list[tuple[str, str, str, bytes | None]]:
    """(method, url, what is hostile, body) for every operation, parameter and field of the document."""
    cases = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            path_values = {
                p["name"]: str(ids.get(p["name"].removesuffix("_id"), 1)) for p in parameters if p["in"] == "path"
            }

            def url(path_values: dict[str, str], query: str = "", path: str = path) -> str:
                for key, value in path_values.items():
                    path = path.replace("{" + key + "}", value)
                return f"{path}?{query}" if query else path

            body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            body = _resolve(document, body_schema.get("schema", {})) if body_schema else None
            base: dict[str, Any] = {}
            if body is not None:
                required = body.get("required", [])
                base = {n: _sample(document, n, body["properties"][n], ids) for n in required}
            encoded_base = json.dumps(base).encode() if body is not None else None
            for parameter in parameters:
                for value in HOSTILE_IN_URL:
                    if parameter["in"] == "path":
                        cases.append(
                            (method, url({**path_values, parameter["name"]: value}), parameter["name"], encoded_base)
                        )
                    elif parameter["in"] == "query":
                        cases.append(
                            (method, url(path_values, f"{parameter['name']}={value}"), parameter["name"], encoded_base)
                        )
            if body is None:
                continue
            for name in body.get("properties", {}):
                for value in HOSTILE:
                    content = json.dumps({**base, name: value}).encode()
                    cases.append((method, url(path_values), f"{name}={str(value)[:40]!r}", content))
            for content in NOT_JSON:
                cases.append((method, url(path_values), "body", content))
    # Deletions last, so that the other operations find the records.
    cases.sort(key=lambda case: case[0] == "delete")
    return cases


def test_hostile_values_never_reach_a_server_error_and_refusals_change_nothing(api: ApiClient, workspace) -> None:
    ids = _records(workspace)
    document = api.get("/openapi.json").json()
    cases = _cases(document, ids)
    assert len(cases) > 1000
    failures: list[str] = []
    api.client.raise_request_exception = False  # a server error is a failure to report, with the others
    with inside(workspace):
        before = _snapshot()
        for method, url, hostile, content in cases:
            kwargs: dict[str, Any] = {}
            if content is not None:
                kwargs = {"data": content, "content_type": "application/json"}
            savepoint = transaction.savepoint()
            response = getattr(api.client, method)(url, **kwargs)
            connection.set_tenant(workspace.tenant)
            if response.status_code >= 500:
                # A database error may have aborted the transaction: report it and go on with the next case.
                transaction.savepoint_rollback(savepoint)
                failures.append(f"{method.upper()} {url[:200]} [{hostile}] -> {response.status_code}")
                continue
            transaction.savepoint_commit(savepoint)
            after = _snapshot()
            if response.status_code >= 400 and after != before:
                failures.append(f"{method.upper()} {url[:200]} [{hostile}] -> {response.status_code} changed data")
            before = after
    assert not failures, "\n".join(failures[:50])
