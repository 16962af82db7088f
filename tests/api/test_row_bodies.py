"""Lists and reads answered straight from rows (crm/core/rows.py) carry exactly the body the response schema
would have built from model instances, for the administrator and for a role that hides fields."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.utils import timezone
from ninja.responses import NinjaJSONEncoder

from crm.activities.api import ACTIVITY_ROWS
from crm.companies.api import COMPANY_ROWS
from crm.contacts.api import CONTACT_ROWS
from crm.core.rows import Rows, json_bytes
from crm.leads.api import LEAD_ROWS
from crm.products.api import PRODUCT_ROWS
from tests.api.conftest import bearer_client, inside, key_for
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, LeadFactory, ProductFactory
from tests.hiding_support import make_hiding

pytestmark = pytest.mark.django_db

PLANS: dict[str, Rows] = {
    "companies": COMPANY_ROWS,
    "contacts": CONTACT_ROWS,
    "leads": LEAD_ROWS,
    "activities": ACTIVITY_ROWS,
    "products": PRODUCT_ROWS,
}


class _Request:
    """What HidingOut's serializer reads of a request: the caller."""

    def __init__(self, user: Any) -> None:
        self.auth = user


def _pydantic_body(rows: Rows, record: Any, user: Any) -> Any:
    """The body as django-ninja builds it: validated from the instance, dumped, encoded by its encoder."""
    validated = rows.schema.model_validate(record, context={"request": _Request(user)})
    data = validated.model_dump(context={"request": _Request(user)})
    return json.loads(json.dumps(data, cls=NinjaJSONEncoder))


def _records(workspace) -> dict[str, Any]:
    with inside(workspace):
        company = CompanyFactory(
            phones=["+79161234567"], emails=["a@b.test"], tags=["vip", "ёлка"], custom_fields={"x": 1}
        )
        contact = ContactFactory(company=company, first_name="", middle_name="", last_name="", emails=["z@y.test"])
        moment = datetime.datetime(2026, 5, 17, 9, 30, 15, 123456, tzinfo=datetime.UTC)
        activity = ActivityFactory(company=company, contact=contact, due_at=moment, assignee=workspace.owner)
        return {
            "companies": company,
            "contacts": contact,
            "leads": LeadFactory(company_name="Лид", converted_at=timezone.now()),
            "activities": activity,
            "products": ProductFactory(),
        }


def test_rows_give_the_schema_s_body(workspace, api) -> None:
    records = _records(workspace)
    for path, record in records.items():
        rows = PLANS[path]
        with inside(workspace):
            record.refresh_from_db()
            expected = _pydantic_body(rows, record, workspace.owner)
        assert api.get(f"/{path}/{record.pk}").json() == expected, path
        listed = api.get(f"/{path}/").json()["items"]
        assert [item for item in listed if item["id"] == record.pk] == [expected], path
    # The full name is computed from the columns as the model computes it.
    assert api.get(f"/contacts/{records['contacts'].pk}").json()["full_name"] == "z@y.test"


def test_rows_leave_out_what_a_role_hides_as_the_schema_does(workspace) -> None:
    hiding = make_hiding(workspace)
    blind = bearer_client(workspace, key_for(workspace, hiding.member))
    for path, record in (("companies", hiding.company), ("contacts", hiding.contact)):
        with inside(workspace):
            record.refresh_from_db()
            expected = _pydantic_body(PLANS[path], record, hiding.member)
        assert blind.get(f"/{path}/{record.pk}").json() == expected, path
        assert [i for i in blind.get(f"/{path}/").json()["items"] if i["id"] == record.pk] == [expected], path


def test_json_is_written_as_django_ninja_wrote_it() -> None:
    from decimal import Decimal

    value = {
        "at": datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
        "day": datetime.date(2026, 1, 2),
        "whole": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "naive": datetime.datetime(2026, 1, 2, 3, 4, 5, 1000),
        "offset": datetime.datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=3))),
        "time": datetime.time(3, 4, 5, 678901),
        "amount": Decimal("1500.50"),
        "name": 'Ёжик \u2028 "quoted"',
        "none": None,
    }
    assert json.loads(json_bytes(value)) == json.loads(json.dumps(value, cls=NinjaJSONEncoder))


def test_a_record_out_of_sight_or_missing_is_404_by_rows(workspace, other_workspace) -> None:
    with inside(workspace):
        theirs = CompanyFactory()
    with inside(other_workspace):
        mine = CompanyFactory()
    outsider = bearer_client(other_workspace, key_for(other_workspace))
    assert outsider.get(f"/companies/{mine.pk}").status_code == 200
    assert outsider.get(f"/companies/{mine.pk + theirs.pk + 10_000}").status_code == 404
    if theirs.pk != mine.pk:
        assert outsider.get(f"/companies/{theirs.pk}").status_code == 404
    items = outsider.get("/companies/").json()["items"]
    assert [i["id"] for i in items] == [mine.pk]
