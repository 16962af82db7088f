"""The REST API leaves out the fields a caller's role hides: the keys are absent from bodies (and documented as
optional), custom field values of hidden fields are dropped, and a filter by a hidden field is refused."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from crm.deals.models import Deal, DealLineItem
from crm.products.models import Product
from tenants.accounts.models import Role
from tests.api.conftest import bearer_client, inside, key_for
from tests.factories import ProductFactory
from tests.hiding_support import (
    AMOUNT,
    CF_VALUE,
    EMAIL,
    PHONE,
    PHONE_DIGITS,
    assert_nothing_hidden_in,
    make_hiding,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def hiding(workspace):
    return make_hiding(workspace)


@pytest.fixture
def blind(hiding):
    return bearer_client(hiding.workspace, key_for(hiding.workspace, hiding.member))


def test_bodies_leave_hidden_fields_out(hiding, blind, api) -> None:
    with inside(hiding.workspace):
        DealLineItem.objects.create(deal=hiding.deal, name="Widget", quantity=1, unit="pcs", price=AMOUNT, position=1)
    paths = [
        "/deals/",
        f"/deals/{hiding.deal.pk}",
        "/contacts/",
        f"/contacts/{hiding.contact.pk}",
        "/companies/",
        f"/companies/{hiding.company.pk}",
    ]
    for path in paths:
        response = blind.get(path)
        assert response.status_code == 200, path
        assert_nothing_hidden_in(response.content.decode())
    deal = blind.get(f"/deals/{hiding.deal.pk}").json()
    assert deal["title"] == "Big secret deal" and deal["currency"] == "RUB"
    assert not {"amount", "line_items", "totals"} & set(deal)
    contact = blind.get(f"/contacts/{hiding.contact.pk}").json()
    assert contact["last_name"] == "Secretov" and not {"phones", "emails"} & set(contact)
    company = blind.get(f"/companies/{hiding.company.pk}").json()
    assert company["custom_fields"] == {} and company["name"] == "Hidden Values Co"
    # The administrator gets every key.
    full = api.get(f"/deals/{hiding.deal.pk}").json()
    assert full["amount"] == str(AMOUNT) and full["line_items"] and full["totals"]["total"]
    assert api.get(f"/contacts/{hiding.contact.pk}").json()["phones"] == [PHONE]
    assert api.get(f"/companies/{hiding.company.pk}").json()["custom_fields"] == {hiding.cf_key: CF_VALUE}


def test_the_answer_to_a_write_leaves_hidden_fields_out_too(hiding, blind) -> None:
    response = blind.patch(f"/contacts/{hiding.contact.pk}", {"position": "Director"})
    assert response.status_code == 200
    assert "phones" not in response.json()
    assert_nothing_hidden_in(response.content.decode())
    response = blind.post("/deals/", {"title": "Fresh"})
    assert response.status_code == 201 and "amount" not in response.json()
    # Writing a hidden field is refused, and changes nothing.
    refused = blind.patch(f"/deals/{hiding.deal.pk}", {"amount": "1.00"})
    assert refused.status_code == 422 and "amount" in refused.json()["errors"]
    with inside(hiding.workspace):
        assert Deal.objects.get(pk=hiding.deal.pk).amount == AMOUNT


def test_search_and_filters_do_not_go_through_hidden_fields(hiding, blind, api) -> None:
    for q in (PHONE_DIGITS, EMAIL):
        assert blind.get("/contacts/", q=q).json()["items"] == []
        assert [c["id"] for c in api.get("/contacts/", q=q).json()["items"]] == [hiding.contact.pk]
    assert [c["id"] for c in blind.get("/contacts/", q="Secretov").json()["items"]] == [hiding.contact.pk]
    cf = f"cf_{hiding.cf_key}"
    refused = blind.get("/companies/", **{cf: CF_VALUE})
    assert refused.status_code == 422 and cf in refused.json()["errors"]
    assert CF_VALUE not in refused.content.decode()
    assert [c["id"] for c in api.get("/companies/", **{cf: CF_VALUE}).json()["items"]] == [hiding.company.pk]


def test_product_prices_hidden_by_a_role(workspace) -> None:
    with inside(workspace):
        product = ProductFactory(name="Priced", price=Decimal("4321.00"))
        role = Role.objects.create(
            name="No prices",
            grants={"product": {"view": "all", "edit": "all", "create": "all"}},
            hidden_fields={"product": ["price"]},
        )
        from tenants.accounts.services import user_create
        from tests.conftest import PASSWORD

        member = user_create(email="noprice@example.com", password=PASSWORD, role=role)
    client = bearer_client(workspace, key_for(workspace, member))
    body = client.get(f"/products/{product.pk}").json()
    assert body["name"] == "Priced" and "price" not in body
    assert "4321" not in client.get("/products/").content.decode()
    refused = client.patch(f"/products/{product.pk}", {"price": "1.00"})
    assert refused.status_code == 422 and "price" in refused.json()["errors"]
    renamed = client.patch(f"/products/{product.pk}", {"name": "Renamed"})
    assert renamed.status_code == 200 and "price" not in renamed.json()
    with inside(workspace):
        product = Product.objects.get(pk=product.pk)
        assert product.price == Decimal("4321.00") and product.name == "Renamed"


def test_openapi_documents_hideable_keys_as_optional(api) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert "amount" in schemas["DealOut"]["properties"]
    assert not {"amount", "line_items", "totals"} & set(schemas["DealOut"]["required"])
    assert "title" in schemas["DealOut"]["required"]
    assert not {"phones", "emails", "notes"} & set(schemas["ContactOut"]["required"])
    assert "price" not in schemas["ProductOut"]["required"]
    assert "role hides" in schemas["ContactOut"]["properties"]["phones"]["description"]


def test_another_workspace_key_reads_nothing(hiding, other_workspace) -> None:
    other = bearer_client(other_workspace, key_for(other_workspace))
    for path in (f"/deals/{hiding.deal.pk}", f"/contacts/{hiding.contact.pk}"):
        response = other.get(path)
        assert response.status_code == 404
        assert_nothing_hidden_in(response.content.decode())
    assert json.loads(other.get("/contacts/", q=PHONE_DIGITS).content)["items"] == []
