"""A property-based run of the workspace's OpenAPI document (schemathesis): for every operation, requests
generated from the document are sent to the app in-process, and every answer must be no server error, conform
to the document (status, content type, body), and a request the document says is valid must not be refused,
except where the document says the server checks more than a schema can say (a field described as refused
with 422 otherwise: references to records, phone numbers, cursors...)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.customfields.services import custom_field_create
from platform_core.wsgi import application
from tests.api.conftest import inside, key_for
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

EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def in_process() -> Iterator[None]:
    """Requests through the WSGI app in this process share the test's connection (and its transaction), as
    Django's test client does: the handler must not close it at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
        connection.set_schema_to_public()


def _records(workspace: Any) -> dict[str, int]:
    """A record of every kind, so that operations on one (`/deals/{deal_id}`) do more than answer 404."""
    with inside(workspace):
        for record_type, field_type, choices in (
            ("company", "choice", ["Small", "Large"]),
            ("deal", "number", []),
            ("contact", "date", []),
            ("lead", "boolean", []),
        ):
            custom_field_create(
                actor=workspace.owner, record_type=record_type, label="Grade", field_type=field_type, choices=choices
            )
        pipeline = PipelineFactory()
        deal = DealFactory(pipeline=pipeline, stage=pipeline.stages.order_by("position").first())
        field = custom_field_create(actor=workspace.owner, record_type="company", label="Motto", field_type="text")
        return {
            "company_id": CompanyFactory().pk,
            "contact_id": ContactFactory().pk,
            "lead_id": LeadFactory().pk,
            "deal_id": deal.pk,
            "pipeline_id": pipeline.pk,
            "stage_id": pipeline.stages.order_by("position").last().pk,
            "activity_id": ActivityFactory().pk,
            "product_id": ProductFactory().pk,
            "field_id": field.pk,
        }


# Long texts are generated at most this long: drawing 100,000 characters that match a pattern takes seconds.
GENERATED_MAX_LENGTH = 300


def _shorten(node: Any) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("maxLength"), int) and node["maxLength"] > GENERATED_MAX_LENGTH:
            node["maxLength"] = GENERATED_MAX_LENGTH
        for value in node.values():
            _shorten(value)
    elif isinstance(node, list):
        for value in node:
            _shorten(value)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _notes_refusal(schema: dict[str, Any]) -> bool:
    """Whether this schema itself says the server may refuse a value it allows (with 422)."""
    return "422" in str(schema.get("description", "")) or "x-reference" in schema


def _documented(document: dict[str, Any], schema: dict[str, Any], path: list[str]) -> bool:
    """Whether the value at `path` inside `schema`, or anything on the way to it, documents a refusal."""
    schema = _resolve(document, schema)
    if _notes_refusal(schema):
        return True
    if any(_documented(document, branch, path) for branch in schema.get("anyOf", [])):
        return True
    if not path:
        # A refusal documented on a list's items covers the list.
        return "items" in schema and _documented(document, schema["items"], [])
    head, rest = path[0], path[1:]
    if head.isdigit() and "items" in schema:
        return _documented(document, schema["items"], rest)
    if head in schema.get("properties", {}):
        return _documented(document, schema["properties"][head], rest)
    return False


def _documented_refusal(document: dict[str, Any], operation: dict[str, Any], errors: dict[str, Any]) -> bool:
    """Whether every field a 422 names is one the document says the server checks beyond the schema."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    body = _resolve(document, body) if body else {}
    properties = body.get("properties", {})
    parameters = {p["name"]: p for p in operation.get("parameters", [])}
    for key in errors:
        if f"(422, `{key}`)" in operation.get("description", ""):
            continue  # the operation says when it refuses (a pipeline that holds deals...)
        path = key.split(".")
        if path[0] == "line_items" and "line_items" not in properties and "items" in properties:
            path[0] = "items"  # the line items of PUT .../line-items are named as in a deal's body
        parameter = parameters.get(path[0])
        if parameter is not None:
            if not (_notes_refusal(parameter) or _documented(document, parameter.get("schema", {}), path[1:])):
                return False
        elif not _documented(document, body, path):
            return False
    return True


def test_every_operation_conforms_to_the_document(workspace, in_process) -> None:
    key = key_for(workspace)
    headers = {"Host": workspace.domain, "Authorization": f"Bearer {key}"}
    ids = _records(workspace)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, headers=headers)
    document = schema.raw_schema
    _shorten(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so that the other operations find the records.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    failures: list[str] = []
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]

    for operation in operations:
        raw = document["paths"][operation.path][operation.method.lower()]

        @given(case=operation.as_strategy(), existing=st.booleans())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: Any, existing: bool) -> None:
            if existing and case.path_parameters:
                case.path_parameters = {
                    name: ids.get(name, value) for name, value in (case.path_parameters or {}).items()
                }
            savepoint = transaction.savepoint()
            response = case.call(headers=headers)
            where = f"{case.method} {case.formatted_path} {case.query} {json.dumps(case.body, default=str)[:300]}"
            if response.status_code >= 500:
                # A database error may have aborted the transaction: report it and go on.
                transaction.savepoint_rollback(savepoint)
                failures.append(f"{where} -> {response.status_code}")
                return
            transaction.savepoint_commit(savepoint)
            try:
                case.validate_response(response, checks=checks, headers=headers)
            except (Exception, BaseExceptionGroup) as exc:  # every non-conformance is reported, with the others
                failures.append(f"{where} -> {response.status_code}: {str(exc)[:300]}")
                return
            if response.status_code == 422 and not _documented_refusal(
                document, raw, response.json().get("errors", {})
            ):
                failures.append(f"{where} -> 422 {response.text[:600]}")

        run()
    assert not failures, "\n".join(failures)
