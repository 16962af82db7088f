"""Odd input on the pages: each answers a 404 or the page with a message, and nothing is saved; never a 500.

The walk over every route (test_hostile_input.py) proves there is no server error anywhere; these pin down
what the user sees in the cases the walk found.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.files.models import Attachment
from tenants.accounts.models import ApiKey
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db


def _get(client, url: str, data: dict | None = None):
    response = client.get(url, data or {})
    connection.set_schema_to_public()
    return response


@pytest.mark.parametrize("view", ["/calendar/", "/calendar/day/"])
@pytest.mark.parametrize("date", ["0001-01-01", "0001-01-03", "9999-12-31", "9999-12-28"])
def test_the_calendar_opens_at_the_ends_of_time(workspace, owner_client, view, date) -> None:
    with inside(workspace):
        due = datetime.datetime(9999, 12, 29, 9, tzinfo=datetime.UTC)
        ActivityFactory(subject="Near the end", assignee=workspace.owner, due_at=due)
    response = _get(owner_client, view, {"date": date})
    assert response.status_code == 200
    html = response.content.decode()
    # No link before the calendar's first day (a Monday: its week has no previous week either).
    assert ('rel="prev"' in html) == ((view == "/calendar/day/" and date == "0001-01-03") or date.startswith("9999"))
    if date.startswith("9999") and view == "/calendar/":
        assert "Near the end" in html and 'rel="next"' not in html


def test_a_calendar_date_that_is_no_date_is_a_404(owner_client) -> None:
    assert _get(owner_client, "/calendar/", {"date": "2026-02-30"}).status_code == 404


@pytest.mark.parametrize("pipeline", ["abc", "1e3", "\x00", "99999999999999999999999", "-1"])
def test_the_board_of_a_pipeline_that_is_no_id_is_a_404(owner_client, pipeline) -> None:
    assert _get(owner_client, "/deals/board/", {"pipeline": pipeline}).status_code == 404


def test_a_merge_search_with_a_nul_finds_by_the_words_around_it(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Romashka")
        CompanyFactory(name="Romashka Twin")
        contact = ContactFactory(last_name="Ivanov")
        ContactFactory(last_name="Ivanova")
    response = _get(owner_client, f"/companies/{company.pk}/merge/", {"q": "Twin\x00"})
    assert response.status_code == 200 and "Romashka Twin" in response.content.decode()
    response = _get(owner_client, f"/contacts/{contact.pk}/merge/", {"q": "\x00Ivanova"})
    assert response.status_code == 200 and "Ivanova" in response.content.decode()


@pytest.mark.parametrize("namespace", ["companies", "contacts", "deals", "leads", "products", "activities"])
def test_a_list_filter_with_a_nul_is_refused_with_a_message(workspace, owner_client, namespace) -> None:
    with inside(workspace):
        CompanyFactory(name="Listed", tags=["vip"])
    for params in ({"tag": "vip\x00"}, {"q": "Listed\x00"}):
        response = _get(owner_client, f"/{namespace}/", params)
        assert response.status_code == 200
        if "tag" in params and namespace not in ("products", "activities"):
            assert "This value contains a character that is not allowed." in response.content.decode()
        export = _get(owner_client, f"/{namespace}/export/", params)
        assert export.status_code == 200
        b"".join(export.streaming_content)
        connection.set_schema_to_public()


def test_a_custom_field_filter_with_a_nul_is_refused_with_a_message(workspace, owner_client) -> None:
    from crm.customfields.models import CustomField

    with inside(workspace):
        CustomField.objects.create(record_type="company", key="region", label="Region", field_type="text")
        CompanyFactory(name="North", custom_fields={"region": "north"})
    response = _get(owner_client, "/companies/", {"cf_region": "north\x00"})
    assert response.status_code == 200
    assert "This value contains a character that is not allowed." in response.content.decode()


@pytest.mark.parametrize("field", ["name", "notes", "tags", "industry", "cf_region"])
def test_a_nul_in_a_form_value_is_a_field_error_and_nothing_is_saved(workspace, owner_client, field) -> None:
    from crm.customfields.models import CustomField

    with inside(workspace):
        CustomField.objects.create(record_type="company", key="region", label="Region", field_type="text")
    data = {"name": "Nul Ltd", "notes": "ok", "tags": "a", "industry": "x", "cf_region": "north"}
    data[field] = "bad\x00value"
    response = owner_client.post("/companies/new/", data)
    connection.set_schema_to_public()
    assert response.status_code == 200
    assert field in response.context["form"].errors
    with inside(workspace):
        assert not Company.objects.exists()


def test_a_timeline_cursor_with_an_offset_beyond_the_databases_is_read_in_utc(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory()
        ActivityFactory(subject="Old note", company=company)
        Activity.objects.update(created_at=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC))
    for before, shown in (("2026-03-02T10:00:00+20:00", True), ("2026-03-01T10:00:00+20:00", False)):
        response = _get(owner_client, f"/companies/{company.pk}/timeline/", {"before": before})
        assert response.status_code == 200
        assert ("Old note" in response.content.decode()) is shown


@pytest.mark.parametrize("target", ["1e999", "companies:list", "a\x00b", "https://evil.example/", "//evil.example/"])
def test_marking_done_goes_back_only_to_a_page_of_this_site(workspace, owner_client, target) -> None:
    with inside(workspace):
        activity = ActivityFactory(subject="Call")
    response = owner_client.post(f"/activities/{activity.pk}/done/", {"done": "on", "next": target})
    connection.set_schema_to_public()
    assert response.status_code == 302 and response["Location"] == f"/activities/{activity.pk}/"
    with inside(workspace):
        assert Activity.objects.get().done_at is not None


@pytest.mark.parametrize(
    ("date", "message"),
    [("9999-12-31", "less than or equal to 9999-12-30"), ("0001-01-01", "greater than or equal to 0001-01-02")],
)
def test_an_audit_log_date_at_the_end_of_time_is_refused_on_the_form(owner_client, date, message) -> None:
    response = _get(owner_client, "/settings/audit/", {"date_to": date, "date_from": date})
    assert response.status_code == 200
    assert message in response.content.decode()
    # The export ignores what the form refuses, like the page.
    export = _get(owner_client, "/settings/audit/export.csv", {"date_to": date, "date_from": date})
    assert export.status_code == 200


def test_an_api_key_name_with_a_nul_is_refused(workspace, owner_client) -> None:
    response = owner_client.post("/profile/api-keys/", {"name": "robot\x00"})
    connection.set_schema_to_public()
    assert response.status_code == 422
    assert "Null characters are not allowed." in response.content.decode()
    with inside(workspace):
        assert not ApiKey.objects.exists()


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    return tmp_path


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        ("application/" + "x" * 120, "application/pdf"),
        ("application/pdf; charset=binary; " + "p" * 200, "application/pdf"),
        ("Text/Plain", "text/plain"),
        ("not a type", "application/pdf"),
        ("", "application/pdf"),
    ],
)
def test_an_uploads_declared_type_is_normalised(workspace, owner_client, media, declared, stored) -> None:
    with inside(workspace):
        company = CompanyFactory()
    upload = SimpleUploadedFile("contract\x00.pdf", b"%PDF-1.4", content_type=declared)
    response = owner_client.post(f"/companies/{company.pk}/files/", {"file": upload})
    connection.set_schema_to_public()
    assert response.status_code == 302
    with inside(workspace):
        attachment = Attachment.objects.get()
        assert attachment.content_type == stored
        assert attachment.name == "contract.pdf"


@pytest.mark.parametrize(
    "after",
    [
        "2026-03-02T10:00:00+20:00|1",
        "2026-03-02T10:00:00+00:00|99999999999999999999999",
        "0001-01-01T00:00:00+14:00|1",
        "9999-12-31T23:59:59-14:00|1",
        "2026-03-02T10:00:00+00:00|-1",
    ],
)
def test_a_board_column_cursor_at_the_edges_is_read_or_refused(workspace, owner_client, after) -> None:
    from crm.deals.models import Pipeline

    with inside(workspace):
        stage = Pipeline.objects.get(name="Sales").stages.order_by("position").first()
    response = _get(owner_client, f"/deals/board/column/{stage.pk}/", {"after": after})
    assert response.status_code in (200, 400)
