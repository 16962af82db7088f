"""Odd input through the API is refused at the door (422 naming the field, nothing saved), never a 500: moments
outside the calendar or with impossible offsets, NUL characters and lone surrogates, nulls for text fields,
unbounded lists, booleans where numbers are expected, bodies that are not JSON."""

from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError

from crm.activities.models import Activity
from crm.activities.services import activity_create
from crm.companies.models import Company
from crm.core.bulk import bulk_tag
from crm.core.normalize import clean_tags
from crm.customfields.services import custom_field_create
from crm.deals.models import Pipeline, Stage
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from crm.products.models import Product
from tests.api.conftest import inside
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, PipelineFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _rows(workspace, *models) -> dict[str, list[tuple]]:
    with inside(workspace):
        return {m.__name__: sorted(m.objects.values_list()) for m in (*models, ChangeRecord)}


@pytest.mark.parametrize(
    "due_at",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2026-05-01T10:00:00+20:00",
        "2026-05-01T10:00:00-15:30",
    ],
)
def test_a_moment_out_of_the_calendar_is_refused(api, workspace, due_at) -> None:
    before = _rows(workspace, Activity)
    response = api.post("/activities/", {"subject": "Call back", "due_at": due_at})
    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == ["due_at"]
    assert _rows(workspace, Activity) == before
    listed = api.get("/activities/", due_from=due_at)
    assert listed.status_code == 422 and list(listed.json()["errors"]) == ["due_from"]


def test_the_widest_real_offsets_are_accepted(api) -> None:
    for due_at in ("2026-05-01T10:00:00+14:00", "2026-05-01T10:00:00-12:00"):
        response = api.post("/activities/", {"subject": "Call back", "due_at": due_at})
        assert response.status_code == 201, response.json()
    assert api.get("/activities/", due_from="2026-05-01T10:00:00+14:00").status_code == 200


def test_services_refuse_such_moments_whatever_calls_them(in_workspace) -> None:
    # The web forms go through the same service.
    moment = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=14)))
    with pytest.raises(ValidationError) as refused:
        activity_create(actor=in_workspace.owner, data={"subject": "Old", "due_at": moment})
    assert "due_at" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        activity_create(actor=in_workspace.owner, data={"subject": "Nul\x00", "body": "fine"})
    assert set(refused.value.message_dict) == {"subject"}
    assert not Activity.objects.exists()


CLEARABLE = {
    "companies": (
        CompanyFactory,
        [
            "legal_name",
            "tax_id",
            "registration_id",
            "legal_address",
            "actual_address",
            "website",
            "industry",
            "source",
            "notes",
        ],
    ),
    "contacts": (ContactFactory, ["first_name", "middle_name", "position", "notes"]),
    "leads": (
        LeadFactory,
        ["source", "contact_name", "company_name", "email", "phone", "message", "rejection_reason"],
    ),
    "products": (ProductFactory, ["description"]),
}


@pytest.mark.parametrize("resource", sorted(CLEARABLE))
def test_null_clears_an_optional_text(api, workspace, resource) -> None:
    factory, fields = CLEARABLE[resource]
    with inside(workspace):
        record = factory()
    for name in fields:
        response = api.patch(f"/{resource}/{record.pk}", {name: None})
        assert response.status_code == 200, (name, response.json())
        assert response.json()[name] == "", name


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/companies/{company}", {"name": None}, "name"),
        ("/leads/{lead}", {"title": None}, "title"),
        ("/pipelines/{pipeline}", {"name": None}, "name"),
        ("/pipelines/{pipeline}/stages/{stage}", {"name": None}, "name"),
        ("/products/{product}", {"name": None}, "name"),
        ("/products/{product}", {"currency": None}, "currency"),
        ("/companies/{company}", {"name": ""}, "name"),
        ("/pipelines/{pipeline}", {"name": "  "}, "name"),
    ],
)
def test_null_for_a_required_text_is_422(api, workspace, path, body, field) -> None:
    with inside(workspace):
        pipeline = PipelineFactory()
        ids = {
            "company": CompanyFactory().pk,
            "lead": LeadFactory().pk,
            "pipeline": pipeline.pk,
            "stage": Stage.objects.create(pipeline=pipeline, name="First", position=1).pk,
            "product": ProductFactory().pk,
        }
    before = _rows(workspace, Company, Lead, Pipeline, Stage, Product)
    response = api.patch(path.format(**ids), body)
    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == [field]
    assert _rows(workspace, Company, Lead, Pipeline, Stage, Product) == before


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud8e4b"])
def test_nul_and_lone_surrogates_are_422_naming_the_field(api, workspace, bad) -> None:
    with inside(workspace):
        custom_field_create(actor=workspace.owner, record_type="company", label="Motto", field_type="text")
        company = CompanyFactory()
    before = _rows(workspace, Company, Pipeline)
    cases = [
        ("POST", "/companies/", {"name": bad}, "name"),
        ("POST", "/companies/", {"name": "Fine", "tags": ["ok", bad]}, "tags.1"),
        ("POST", "/companies/", {"name": "Fine", "custom_fields": {"motto": bad}}, "custom_fields.motto"),
        ("PATCH", f"/companies/{company.pk}", {"notes": bad}, "notes"),
        ("POST", "/pipelines/", {"name": "Fine", "stages": ["One", bad]}, "stages.1"),
        ("POST", "/leads/", {"title": bad}, "title"),
    ]
    for method, path, body, field in cases:
        # The JSON escapes a lone surrogate, as a client would.
        response = api.client.generic(method, f"/api/v1{path}", json.dumps(body), content_type="application/json")
        assert response.status_code == 422, (path, body, response.content)
        assert field in response.json()["errors"], (field, response.json())
    # In a URL a surrogate arrives as bytes that are not UTF-8 (read as U+FFFD); a NUL as %00.
    encoded = quote(bad.encode("utf-8", "surrogatepass"))
    for param in ("tag", "q", "cf_motto"):
        response = api.get(f"/companies/?{param}={encoded}")
        assert response.status_code == (422 if "\x00" in bad else 200), response.content
        if "\x00" in bad:
            assert param in response.json()["errors"]
    assert _rows(workspace, Company, Pipeline) == before


def test_lists_are_bounded_and_tags_deduplicated_in_linear_time(api, workspace) -> None:
    before = _rows(workspace, Company)
    response = api.post("/companies/", {"name": "Many", "tags": [f"t{i}" for i in range(1000)]})
    assert response.status_code == 422 and "tags" in response.json()["errors"]
    response = api.post("/companies/", {"name": "Long", "tags": ["x" * 51]})
    assert response.status_code == 422 and "tags.0" in response.json()["errors"]
    assert _rows(workspace, Company) == before
    # 60,000 tags (each repeated) are normalised at once.
    tags = [f"Tag{i % 30000}" for i in range(60000)]
    assert clean_tags(tags) == [f"tag{i}" for i in range(30000)]


def test_a_lead_email_that_normalises_to_nothing_is_422(api, workspace) -> None:
    before = _rows(workspace, Lead)
    response = api.post("/leads/", {"title": "Web form", "email": ","})
    assert response.status_code == 422 and list(response.json()["errors"]) == ["email"]
    assert _rows(workspace, Lead) == before


def test_booleans_are_not_numbers(api, workspace) -> None:
    with inside(workspace):
        pipeline = PipelineFactory()
    before = _rows(workspace, Stage, Activity)
    response = api.post(f"/pipelines/{pipeline.pk}/stages", {"name": "Talks", "probability": True})
    assert response.status_code == 422 and list(response.json()["errors"]) == ["probability"]
    response = api.post("/activities/", {"subject": "x", "duration_minutes": True, "assignee": "1"})
    assert response.status_code == 422 and set(response.json()["errors"]) == {"duration_minutes", "assignee"}
    response = api.post("/activities/", {"subject": "x", "is_done": 1})
    assert response.status_code == 422 and list(response.json()["errors"]) == ["is_done"]
    assert _rows(workspace, Stage, Activity) == before


def test_a_body_that_is_not_json_is_422_with_the_error_body(api, workspace) -> None:
    for body in ('{"name": "Unclosed', b"\xff\xfe", '{"name": 1' + "0" * 5000 + "}"):
        response = api.client.post("/api/v1/companies/", body, content_type="application/json")
        assert response.status_code == 422, response.content
        assert response.json()["detail"] and response.json()["errors"]["__all__"]
    with inside(workspace):
        assert not Company.objects.exists()


def test_the_document_states_the_constraints(api) -> None:
    document = api.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["PipelineOut"]["properties"]["kind"]["enum"] == ["sales", "service", "other"] or (
        "call" not in json.dumps(schemas["PipelineOut"]["properties"]["kind"])
    )
    assert "call" not in json.dumps(schemas["PipelineIn"]["properties"]["kind"])
    name = schemas["CompanyIn"]["properties"]["name"]
    assert name["minLength"] == 1 and name["maxLength"] == 255 and name["pattern"]
    assert schemas["CompanyIn"]["properties"]["tags"]["maxItems"] == 100
    assert schemas["StageIn"]["properties"]["probability"]["maximum"] == 100
    line_name = schemas["LineItemIn"]["properties"]["name"]
    assert {"type": "null"} in line_name["anyOf"]  # null: the product's name
    assert "null" not in json.dumps(schemas["CompanyPatch"]["properties"]["name"])
    notes = schemas["CompanyPatch"]["properties"]["notes"]
    assert {"type": "null"} in notes["anyOf"]
    assert "422" in document["paths"]["/api/v1/companies/"]["post"]["responses"]


def test_a_conversion_names_the_errors_of_its_deal(api, workspace) -> None:
    with inside(workspace):
        PipelineFactory()
        lead = LeadFactory(company_name="", contact_name="", email="", phone="")
    before = _rows(workspace, Lead)
    response = api.post(f"/leads/{lead.pk}/convert", {"deal": {"stage": 999999}})
    assert response.status_code == 422 and "deal.stage" in response.json()["errors"], response.json()
    assert all(key.startswith("deal.") for key in response.json()["errors"])
    response = api.post(f"/leads/{lead.pk}/convert", {"deal": {"title": "a\x00", "line_items": []}})
    assert response.status_code == 422 and set(response.json()["errors"]) == {"deal.title", "deal.line_items"}
    assert _rows(workspace, Lead) == before
    document = api.get("/openapi.json").json()["components"]["schemas"]
    assert document["ConversionDealIn"]["properties"]["title"]["pattern"]


def test_a_bulk_tag_with_a_nul_character_is_refused(in_workspace) -> None:
    with pytest.raises(ValidationError):
        bulk_tag("vip\x00")
    assert bulk_tag(" VIP ") == "vip"
