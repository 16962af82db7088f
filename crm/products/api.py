"""REST endpoints for the product catalogue: /api/v1/products/."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool

from crm.core.api import (
    LONG_TEXT,
    ClearableText,
    Currency,
    DecimalStr,
    HidingOut,
    In,
    Money,
    Name,
    PageParams,
    Percent,
    Text,
    actor,
    hidden_of,
    rows_page,
    rows_record,
    unset,
)
from crm.core.api_access import requires
from crm.core.rows import Rows
from crm.core.types import RecordType
from crm.products.models import Product
from crm.products.selectors import product_get, products_visible_to
from crm.products.services import product_create, product_delete, product_update
from tenants.accounts.policy import Action

router = Router(tags=["products"])


class ProductOut(HidingOut):
    hidden_type = RecordType.PRODUCT

    id: int
    sku: str
    name: str
    unit: str
    price: DecimalStr = Field(description="VAT excluded.")
    currency: str = Field(description="ISO 4217.")
    vat_rate: DecimalStr = Field(description="VAT, %.")
    is_active: bool
    description: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


SKU = "Unique in the catalogue (422 otherwise)."


class ProductIn(In):
    sku: Name = Field(max_length=64, description=SKU)
    name: Name = Field(max_length=255)
    unit: Name = Field("pcs", max_length=20)
    price: Money
    currency: Currency
    vat_rate: Percent = Decimal("0")
    is_active: StrictBool = True
    description: Text = Field("", max_length=LONG_TEXT)


class ProductPatch(In):
    sku: Name = unset(max_length=64, description=SKU)
    name: Name = unset(max_length=255)
    unit: Name = unset(max_length=20)
    price: Money = unset()
    currency: Currency = unset()
    vat_rate: Percent = unset()
    is_active: StrictBool = unset()
    description: ClearableText = Field(None, max_length=LONG_TEXT)


class ProductFilters(Schema):
    q: Text | None = Field(None, max_length=200, description="Part of the name, or the start of the SKU.")
    is_active: bool | None = None
    currency: Text | None = Field(None, max_length=3)


PRODUCT_ROWS = Rows(ProductOut, Product)


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: str | None


@router.get("/products/", response=ProductPage, summary="List products")
@requires(Action.VIEW, RecordType.PRODUCT)
def list_products(request: HttpRequest, filters: Query[ProductFilters], page: Query[PageParams]) -> HttpResponse:
    products = products_visible_to(actor(request))
    if filters.q and filters.q.strip():
        q = filters.q.strip()
        products = products.filter(Q(name__icontains=q) | Q(sku__istartswith=q))
    if filters.is_active is not None:
        products = products.filter(is_active=filters.is_active)
    if filters.currency:
        products = products.filter(currency=filters.currency.upper())
    return rows_page(request, products, page, PRODUCT_ROWS)


def _refuse_hidden(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    """A field the caller's role hides can be neither read nor written by them."""
    if names := sorted(set(data) & hidden_of(request, RecordType.PRODUCT)):
        raise ValidationError({name: [_("This field cannot be set.")] for name in names})
    return data


@router.post("/products/", response={201: ProductOut}, summary="Create a product")
@requires(Action.CREATE, RecordType.PRODUCT)
def create_product(request: HttpRequest, payload: ProductIn) -> Product:
    data = _refuse_hidden(request, payload.model_dump(exclude_unset=True))
    product = product_create(actor=actor(request), data=data)
    # Re-read, so amounts come back as stored (two decimals), not as they were typed.
    return product_get(actor(request), product.pk)


@router.get("/products/{product_id}", response=ProductOut, summary="Read a product")
@requires(Action.VIEW, RecordType.PRODUCT, record="product_id")
def read_product(request: HttpRequest, product_id: int) -> HttpResponse:
    return rows_record(request, products_visible_to(actor(request)), product_id, PRODUCT_ROWS)


@router.patch("/products/{product_id}", response=ProductOut, summary="Update a product")
@requires(Action.EDIT, RecordType.PRODUCT, record="product_id")
def update_product(request: HttpRequest, product_id: int, payload: ProductPatch) -> Product:
    product = product_get(actor(request), product_id)
    data = _refuse_hidden(request, payload.model_dump(exclude_unset=True))
    product_update(actor=actor(request), product=product, data=data)
    return product_get(actor(request), product_id)


@router.delete(
    "/products/{product_id}",
    response={204: None},
    summary="Delete a product",
    description="A product used in deals is deactivated instead, so the deals keep their lines.",
)
@requires(Action.DELETE, RecordType.PRODUCT, record="product_id")
def delete_product(request: HttpRequest, product_id: int) -> Status:
    product_delete(actor=actor(request), product=product_get(actor(request), product_id))
    return Status(204, None)
