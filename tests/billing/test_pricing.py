"""The public price list: every active price of every plan, from the vendor's table, in the visitor's language."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from billing.models import Price
from billing.services import price_change
from tests.conftest import Workspace

pytestmark = pytest.mark.django_db


def test_pricing_lists_the_active_prices(public_client: Client) -> None:
    response = public_client.get("/pricing/")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('data-testid="price-row"') == 6  # two plans × EUR, RUB, USD
    assert "12.00" in body or "12,00" in body
    assert "14" in body  # the trial's days


def test_a_changed_price_replaces_the_old_one(public_client: Client, settings: object) -> None:
    old = Price.objects.get(lookup_key="kontor_standard_eur_month")
    new = price_change(price=old, unit_amount=Decimal("15.50"))
    old.refresh_from_db()
    assert not old.is_active and new.is_active and new.lookup_key == "kontor_standard_eur_month__v2"
    body = public_client.get("/pricing/").content.decode()
    assert "15.50" in body or "15,50" in body
    assert body.count('data-testid="price-row"') == 6


def test_pricing_speaks_russian(public_client: Client) -> None:
    response = public_client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200
    assert response["Content-Language"] == "ru"


def test_pricing_is_not_a_workspace_page(workspace: Workspace) -> None:
    assert workspace.client().get("/pricing/").status_code == 404
