from __future__ import annotations

from django.db.models import QuerySet

from crm.core.types import RecordType
from crm.products.models import Product
from tenants.accounts import policy
from tenants.accounts.models import User


def products_visible_to(user: User) -> QuerySet[Product]:
    return policy.visible(user, Product.objects.all(), RecordType.PRODUCT)


def product_get(user: User, pk: object) -> Product:
    return policy.get_visible_or_404(user, Product.objects.all(), RecordType.PRODUCT, pk)
