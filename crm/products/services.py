"""Writes on the product catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from crm.core.bulk import Ids, bulk_records
from crm.core.types import RecordType
from crm.core.validation import refuse_bad_values
from crm.products.models import Product
from crm.products.selectors import products_visible_to
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User

_FIELDS = {"sku", "name", "unit", "price", "currency", "vat_rate", "is_active", "description"}


def _apply(actor: User, product: Product, data: Mapping[str, Any]) -> None:
    # A field the actor's role hides (the price) can be neither read nor written by them.
    allowed = _FIELDS - policy.hidden_fields(actor, RecordType.PRODUCT)
    if unknown := set(data) - allowed:
        raise ValidationError({n: [_("This field cannot be set.")] for n in sorted(unknown)})
    refuse_bad_values(data)
    for name, value in data.items():
        setattr(product, name, value.strip() if isinstance(value, str) and name != "description" else value)
    if product.currency:
        product.currency = product.currency.upper()
    product.full_clean()


@workspace_write
def product_create(*, actor: User, data: Mapping[str, Any]) -> Product:
    policy.require(actor, policy.Action.CREATE, RecordType.PRODUCT)
    product = Product()
    _apply(actor, product, data)
    product.save()
    return product


@workspace_write
def product_update(*, actor: User, product: Product, data: Mapping[str, Any]) -> Product:
    policy.require_on(actor, policy.Action.EDIT, RecordType.PRODUCT, product)
    _apply(actor, product, data)
    product.save()
    return product


@workspace_write
def product_delete(*, actor: User, product: Product) -> None:
    """Products used in deals are deactivated rather than deleted, so old deals keep their lines."""
    policy.require_on(actor, policy.Action.DELETE, RecordType.PRODUCT, product)
    if product.line_items.exists():
        product.is_active = False
        product.save(update_fields=["is_active", "updated_at"])
    else:
        audit_record(actor=actor, action=AuditEvent.Action.RECORD_DELETED, target=product, target_type="product")
        product.delete()


@workspace_write
def product_bulk_delete(*, actor: User, ids: Ids) -> int:
    """Delete (or, when used in deals, deactivate) the products among `ids`, each through product_delete."""
    products = bulk_records(products_visible_to(actor), ids)
    for product in products:
        product_delete(actor=actor, product=product)
    return len(products)
