"""Dates already stored that Python cannot represent never take a page down.

PostgreSQL keeps `0001-01-01T00:00:00+14:00` (year 0 once in UTC) or `9999-12-31T23:59:59-14:00` (year 10000);
Python's datetime stops at years 1 and 9999. Such a row, written before the API refused it or by hand, is read
as the earliest or latest moment Python holds, and every page, the API and the export work around it.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from platform_core.dbtypes import EARLIEST, LATEST
from tenants.accounts.services import api_key_create
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db

STORED = {
    "early": ("0001-01-01T00:00:00+14:00", EARLIEST),
    "late": ("9999-12-31T23:59:59-14:00", LATEST),
    "minus-infinity": ("-infinity", EARLIEST),
    "infinity": ("infinity", LATEST),
}


def _store(activity_pk: int, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{Activity._meta.db_table}" SET due_at = %s::timestamptz WHERE id = %s', [value, activity_pk]
        )


@pytest.mark.parametrize("case", list(STORED))
def test_an_activity_due_beyond_pythons_calendar_breaks_no_page(workspace, owner_client, case) -> None:
    raw, expected = STORED[case]
    with inside(workspace):
        company = CompanyFactory(name="Stored Dates Ltd")
        contact = ContactFactory(last_name="Datesson", company=company)
        deal = DealFactory(title="Dated deal", company=company)
        bad = ActivityFactory(
            subject="Due far away", assignee=workspace.owner, company=company, contact=contact, deal=deal
        )
        ActivityFactory(subject="Ordinary task", assignee=workspace.owner, company=company)
        _store(bad.pk, raw)
        assert Activity.objects.get(pk=bad.pk).due_at == expected
        key = api_key_create(actor=workspace.owner, name="dates").secret
    api = Client(HTTP_HOST=workspace.domain, HTTP_AUTHORIZATION=f"Bearer {key}")
    pages = [
        "/",
        f"/companies/{company.pk}/",
        f"/companies/{company.pk}/timeline/",
        f"/contacts/{contact.pk}/",
        f"/deals/{deal.pk}/",
        "/activities/",
        "/activities/?sort=due_at",
        "/activities/?sort=-due_at",
        f"/activities/{bad.pk}/",
        f"/activities/{bad.pk}/edit/",
        "/calendar/",
        "/calendar/day/",
        f"/calendar/?date={expected.date().isoformat()}",
        f"/calendar/day/?date={expected.date().isoformat()}",
        f"/calendar/?date={expected.date().isoformat()}&user=me",
    ]
    for url in pages:
        response = owner_client.get(url)
        connection.set_schema_to_public()
        assert response.status_code == 200, url
    export = owner_client.get("/activities/export/")
    connection.set_schema_to_public()
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode()
    connection.set_schema_to_public()
    assert "Due far away" in text and "Ordinary task" in text
    listed = api.get("/api/v1/activities/", {"limit": 200})
    connection.set_schema_to_public()
    assert listed.status_code == 200
    assert "Due far away" in {item["subject"] for item in listed.json()["items"]}
    detail = api.get(f"/api/v1/activities/{bad.pk}")
    connection.set_schema_to_public()
    assert detail.status_code == 200
    assert datetime.datetime.fromisoformat(detail.json()["due_at"]) == expected
    deleted = api.delete(f"/api/v1/activities/{bad.pk}")
    connection.set_schema_to_public()
    assert deleted.status_code == 204
    with tenant_context(workspace.tenant):
        assert not Activity.objects.filter(pk=bad.pk).exists()
        assert Activity.objects.filter(subject="Ordinary task").exists()


def test_a_date_beyond_pythons_calendar_reads_as_the_nearest_one(in_workspace) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT '0001-01-01 BC'::date, '10000-01-01'::date, '-infinity'::date, 'infinity'::date, '2026-03-02'::date"
        )
        assert cursor.fetchone() == (
            datetime.date(1, 1, 2),
            datetime.date(9999, 12, 30),
            datetime.date(1, 1, 2),
            datetime.date(9999, 12, 30),
            datetime.date(2026, 3, 2),
        )
        cursor.execute("SELECT '2026-03-02T10:00:00+03:00'::timestamptz")
        assert cursor.fetchone()[0] == datetime.datetime(2026, 3, 2, 7, tzinfo=datetime.UTC)


@pytest.mark.parametrize("raw", ["0001-01-01 BC", "infinity", "10000-01-01"])
def test_a_deal_closing_beyond_pythons_calendar_breaks_no_page(workspace, owner_client, raw) -> None:
    from crm.deals.models import Deal

    with inside(workspace):
        deal = DealFactory(title="Closes far away")
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{Deal._meta.db_table}" SET expected_close_date = %s::date WHERE id = %s', [raw, deal.pk]
            )
        key = api_key_create(actor=workspace.owner, name="dates").secret
    api = Client(HTTP_HOST=workspace.domain, HTTP_AUTHORIZATION=f"Bearer {key}")
    for url in ("/", f"/deals/{deal.pk}/", "/deals/", "/deals/?sort=expected_close_date", "/deals/board/"):
        response = owner_client.get(url)
        connection.set_schema_to_public()
        assert response.status_code == 200, url
    export = owner_client.get("/deals/export/")
    assert export.status_code == 200 and "Closes far away" in b"".join(export.streaming_content).decode()
    connection.set_schema_to_public()
    response = api.get(f"/api/v1/deals/{deal.pk}")
    connection.set_schema_to_public()
    assert response.status_code == 200
