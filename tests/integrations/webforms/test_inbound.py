"""The form's inbound endpoint: HTML posts and JSON, leads and tasks, contacts found by email or phone, the
round-robin, the spam trap, allowed origins and CORS, and bad input that answers 4xx and creates nothing."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.contacts.models import Contact
from crm.customfields.services import custom_field_create
from crm.leads.models import Lead
from integrations.core.models import Exchange
from integrations.core.services import connection_set_active, exchange_retry
from tenants.accounts.models import Team, User
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import ContactFactory
from tests.integrations.webforms.conftest import Form, make_form

pytestmark = pytest.mark.django_db

GOOD = {"name": "Anna Smirnova", "email": "anna@example.com", "phone": "8 916 222-33-44", "message": "Need chairs"}


def crm_counts(form: Form) -> tuple[int, int, int]:
    with tenant_context(form.workspace.tenant):
        counts = (Lead.objects.count(), Activity.objects.count(), Contact.objects.count())
    connection.set_schema_to_public()
    return counts


def log(form: Form) -> list[Exchange]:
    with tenant_context(form.workspace.tenant):
        entries = list(Exchange.objects.filter(connection_id=form.connection_id).order_by("id"))
    connection.set_schema_to_public()
    return entries


def _person(form: Form, email: str, team: Team | None = None) -> User:
    return user_create(email=email, password=PASSWORD, full_name=email.split("@")[0].title(), team=team)


# --- what a valid submission does ----------------------------------------------------------------------------


def test_an_html_post_makes_a_lead_and_a_task_for_the_creator(form: Form) -> None:
    response = form.post(GOOD, HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert b'data-testid="webform-thanks"' in response.content
    with tenant_context(form.workspace.tenant):
        lead = Lead.objects.get()
        identity = form.connection().identity
        assert (lead.title, lead.contact_name, lead.email, lead.phone, lead.message) == (
            "Contact us: Anna Smirnova",
            "Anna Smirnova",
            "anna@example.com",
            "+79162223344",
            "Need chairs",
        )
        assert lead.owner_id == form.workspace.owner.pk and lead.created_by_id == identity.pk
        assert lead.source == "website"
        task = Activity.objects.get()
        assert (task.kind, task.subject, task.lead_id, task.assignee_id) == (
            "task",
            "Website form: Contact us",
            lead.pk,
            form.workspace.owner.pk,
        )
        assert "Email: anna@example.com" in task.body and task.due_at is not None
        entry = Exchange.objects.get(connection_id=form.connection_id)
        assert entry.status == Exchange.Status.OK and entry.operation == "webform.submit"
        assert entry.counts == {"leads": 1, "contacts_found": 0, "tasks": 1}
        assert entry.replay == {"data": GOOD} and entry.request["format"] == "form"


def test_a_multipart_post_is_taken_too(form: Form) -> None:
    response = form.client().post(form.url, GOOD)  # the test client sends multipart/form-data
    assert response.status_code == 200
    assert crm_counts(form)[:2] == (1, 1)


def test_an_html_post_goes_to_the_thank_you_page_when_there_is_one(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        form.save(redirect_url="https://shop.example/thanks", success_message="")
    response = form.post(GOOD)
    assert response.status_code == 303 and response["Location"] == "https://shop.example/thanks"
    # The page of errors lets its form be redirected there once corrected.
    page = form.post({**GOOD, "email": "bad"})
    assert page.status_code == 422
    assert "form-action 'self'" in page["Content-Security-Policy"]
    assert page["Content-Security-Policy"].split("form-action")[1].split(";")[0].endswith(" https://shop.example")


def test_json_makes_a_lead(form: Form) -> None:
    response = form.post_json(GOOD)
    assert response.status_code == 201
    body = response.json()
    with tenant_context(form.workspace.tenant):
        lead = Lead.objects.get()
        assert body == {"received": True, "lead": lead.pk, "task": Activity.objects.get().pk}
        assert Exchange.objects.get().request["format"] == "json"


@pytest.mark.parametrize(
    ("given", "how"),
    [({"email": "Anna.S@Example.COM"}, "email"), ({"phone": "8 (916) 555-12-34", "email": ""}, "phone")],
)
def test_the_contact_found_by_email_or_phone_gets_a_task_for_its_owner(form: Form, given: dict, how: str) -> None:
    with tenant_context(form.workspace.tenant):
        seller = _person(form, "seller@example.com")
        contact = ContactFactory(emails=["anna.s@example.com"], phones=["+79165551234"], owner=seller)
        form.save(fields=[
            {"key": "name", "label": "Name", "type": "text", "required": True, "target": "lead.contact_name"},
            {"key": "email", "label": "Email", "type": "email", "target": "contact.email"},
            {"key": "phone", "label": "Phone", "type": "phone", "target": "contact.phone"},
        ])  # fmt: skip
    response = form.post_json({"name": "Anna", **given})
    assert response.status_code == 200, response.content
    with tenant_context(form.workspace.tenant):
        task = Activity.objects.get()
        assert response.json() == {"received": True, "contact": contact.pk, "task": task.pk}
        assert (task.contact_id, task.company_id, task.assignee_id, task.lead_id) == (
            contact.pk,
            contact.company_id,
            seller.pk,
            None,
        )
        assert not Lead.objects.exists() and Contact.objects.count() == 1
        assert Exchange.objects.get().counts == {"leads": 0, "contacts_found": 1, "tasks": 1}


def test_leads_go_round_the_team_in_turn(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        team = Team.objects.create(name="Inbound")
        people = [_person(form, f"p{n}@example.com", team) for n in range(3)]
        away = _person(form, "away@example.com", team)
        away.is_active = False
        away.save(update_fields=["is_active"])
        form.save(team=team)
    for n in range(5):
        assert form.post_json({**GOOD, "email": f"v{n}@example.com", "phone": ""}).status_code == 201
    with tenant_context(form.workspace.tenant):
        owners = list(Lead.objects.order_by("id").values_list("owner_id", flat=True))
        assert owners == [people[0].pk, people[1].pk, people[2].pk, people[0].pk, people[1].pk]
        assert [t.assignee_id for t in Activity.objects.order_by("id")] == owners
        assert form.webform().assign_cursor == people[1].pk


def test_lead_fields_and_custom_fields_are_filled(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        budget = custom_field_create(
            actor=form.workspace.owner, record_type="lead", label="Budget", field_type="choice", choices=["S", "M", "L"]
        )
        form.save(
            task_subject="Call back",
            fields=[
                {"key": "first", "label": "First name", "type": "text", "target": "contact.first_name"},
                {"key": "last", "label": "Last name", "type": "text", "target": "contact.last_name"},
                {"key": "company", "label": "Company", "type": "text", "target": "lead.company_name"},
                {"key": "size", "label": "Size", "type": "select", "choices": ["S", "M", "L"],
                 "target": f"custom.{budget.key}"},
                {"key": "utm", "label": "Campaign", "type": "text", "target": ""},
            ],
        )  # fmt: skip
    assert (
        form.post({"first": "Ivan", "last": "Petrov", "company": "Mebel", "size": "M", "utm": "spring"}).status_code
        == 200
    )
    with tenant_context(form.workspace.tenant):
        lead = Lead.objects.get()
        assert (lead.contact_name, lead.company_name, lead.custom_fields) == ("Ivan Petrov", "Mebel", {budget.key: "M"})
        assert lead.message == "Campaign: spring"
        assert Activity.objects.get().subject == "Call back"
    response = form.post_json({"first": "Ivan", "size": "XL"})
    assert response.status_code == 422
    assert list(response.json()["error"]["fields"]) == ["size"]
    assert crm_counts(form)[:2] == (1, 1)


def test_a_custom_field_the_crm_refuses_is_the_visitors_error(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        site = custom_field_create(actor=form.workspace.owner, record_type="lead", label="Site", field_type="link")
        form.save(fields=[
            {"key": "name", "label": "Name", "type": "text", "target": "lead.contact_name"},
            {"key": "site", "label": "Site", "type": "text", "target": f"custom.{site.key}"},
        ])  # fmt: skip
    response = form.post_json({"name": "Ivan", "site": "not a link"})
    assert response.status_code == 422 and list(response.json()["error"]["fields"]) == ["site"]
    assert crm_counts(form)[:2] == (0, 0)
    assert log(form)[-1].status == Exchange.Status.REFUSED


# --- the spam trap, allowed origins and CORS ---------------------------------------------------------------


def test_a_filled_trap_looks_taken_and_makes_nothing(form: Form) -> None:
    assert form.post({**GOOD, "website": "http://spam.example"}).status_code == 200
    assert form.post_json({**GOOD, "website": "x"}).status_code == 201
    assert crm_counts(form) == (0, 0, 0)
    entries = log(form)
    assert [e.status for e in entries] == [Exchange.Status.REFUSED] * 2 and "spam" in entries[0].error
    assert all(e.replay is None for e in entries)


def test_allowed_origins_and_cors(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        form.save(allowed_origins=["https://shop.example", "http://localhost:8080"])
    client = form.client()
    preflight = client.options(form.url, HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight["Access-Control-Allow-Methods"] and preflight["Access-Control-Allow-Headers"]
    refused = client.options(form.url, HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    ok = form.post_json(GOOD, HTTP_ORIGIN="http://localhost:8080")
    assert ok.status_code == 201 and ok["Access-Control-Allow-Origin"] == "http://localhost:8080"
    # The Referer names the page when a browser sends no Origin.
    assert form.post(GOOD, HTTP_REFERER="https://shop.example/contact?x=1").status_code == 200
    for header in (
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_REFERER": "https://evil.example/page"},
        {"HTTP_ORIGIN": "null"},
    ):
        response = form.post_json(GOOD, **header)
        assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response
        assert response.json()["error"]["code"] == "origin_not_allowed"
    # Kontor's own page of a form's errors sends the form again from the workspace's origin.
    assert form.post(GOOD, HTTP_ORIGIN=f"http://{form.workspace.domain}").status_code == 200
    assert crm_counts(form)[0] == 3
    assert [e.status for e in log(form)][-4:-1] == [Exchange.Status.REFUSED] * 3


# --- bad input: 4xx, nothing created -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "anna@example.com"}, "name"),
        ({**GOOD, "email": "not-an-email"}, "email"),
        ({**GOOD, "phone": "12"}, "phone"),
        ({**GOOD, "name": "Anna\x00"}, "name"),
        ({**GOOD, "message": "x" * 20001}, "message"),
    ],
)
def test_bad_fields_are_answered_with_their_errors(form: Form, data: dict, field: str) -> None:
    response = form.post_json(data)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    page = form.post(data)
    assert page.status_code == 422
    assert f'data-error-for="{field}"'.encode() in page.content
    assert crm_counts(form) == (0, 0, 0)
    assert [e.status for e in log(form)] == [Exchange.Status.REFUSED] * 2
    assert log(form)[0].problems[0]["record"] == field


def test_the_error_page_keeps_the_values_escaped(form: Form) -> None:
    page = form.post({"name": "<script>alert(1)</script>", "email": "bad"})
    assert page.status_code == 422
    assert b"<script>alert" not in page.content and b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content


def test_a_value_that_is_not_text_is_an_error(form: Form) -> None:
    response = form.post_json({**GOOD, "name": {"first": "Anna"}, "message": ["a", "b"]})
    assert response.status_code == 422 and sorted(response.json()["error"]["fields"]) == ["message", "name"]
    assert crm_counts(form) == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed"),
        ('["a", "b"]', "application/json", 400, "malformed"),
        (b"\xff\xfe", "application/json", 400, "malformed"),
        ("[" * 50_000 + "]" * 50_000, "application/json", 400, "malformed"),
        ("name=Anna", "text/plain", 415, "unsupported_type"),
        ("x" * 300_000, "application/json", 413, "too_large"),
    ],
)
def test_unreadable_bodies_are_refused(form: Form, body, content_type: str, status: int, code: str) -> None:
    response = form.client().post(form.url, body, content_type=content_type)
    connection.set_schema_to_public()
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert crm_counts(form) == (0, 0, 0)
    assert [e.status for e in log(form)] == [Exchange.Status.REFUSED]


def test_a_form_post_with_too_many_fields_is_refused(form: Form) -> None:
    body = "&".join(f"f{n}=x" for n in range(1500))
    response = form.client().post(form.url, body, content_type="application/x-www-form-urlencoded")
    connection.set_schema_to_public()
    assert response.status_code == 400
    assert crm_counts(form) == (0, 0, 0)
    assert [e.status for e in log(form)] == [Exchange.Status.REFUSED]


def test_an_oversized_form_post_is_refused(form: Form, settings) -> None:
    settings.INTEGRATIONS_INBOUND_MAX_BYTES = 1000
    response = form.post({**GOOD, "message": "x" * 2000})
    assert response.status_code == 413
    assert crm_counts(form) == (0, 0, 0)


def test_unknown_token_inactive_connection_and_get_are_refused(form: Form) -> None:
    client = form.client()
    assert client.post(f"/integrations/in/webforms/{'x' * 43}/", GOOD).status_code == 404
    assert client.post("/integrations/in/webforms/%00/", GOOD).status_code == 404
    assert (
        client.post(
            f"/integrations/in/webforms/{'y' * 300}/", json.dumps(GOOD), content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(form.url).status_code == 405
    with tenant_context(form.workspace.tenant):
        connection_set_active(actor=form.workspace.owner, connection=form.connection(), active=False)
    assert form.post_json(GOOD).status_code == 404
    assert form.post(GOOD).status_code == 404
    assert crm_counts(form) == (0, 0, 0)


def test_a_connection_without_a_form_takes_nothing(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        form.webform().delete()
    connection.set_schema_to_public()
    response = form.post_json(GOOD)
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_set_up"
    assert form.post(GOOD).status_code == 409
    assert crm_counts(form) == (0, 0, 0)


def test_a_rate_beyond_the_limit_is_refused(form: Form, settings, monkeypatch) -> None:
    settings.WEBFORMS_RATE_PER_ADDRESS = 2
    # All three calls in one minute of the counters, whatever the clock says.
    monkeypatch.setattr("integrations.core.inbound.time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    statuses = [form.post_json({**GOOD, "email": f"r{n}@example.com"}).status_code for n in range(3)]
    assert statuses == [201, 201, 429]
    assert crm_counts(form)[0] == 2


def test_another_workspaces_token_is_unknown_here(form: Form, other_workspace) -> None:
    other = make_form(other_workspace, "Theirs")
    response = Client(HTTP_HOST=form.workspace.domain).post(
        other.url, json.dumps(GOOD), content_type="application/json"
    )
    connection.set_schema_to_public()
    assert response.status_code == 404
    assert crm_counts(form) == (0, 0, 0) and crm_counts(other) == (0, 0, 0)
    assert log(form) == [] and log(other) == []


# --- a submission that could not be placed, run again from the log -----------------------------------------


def test_a_submission_nobody_could_take_is_kept_and_retried(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        team = Team.objects.create(name="Empty")
        form.save(team=team)
    response = form.post_json(GOOD)
    assert response.status_code == 202 and response.json() == {"received": True}
    assert form.post(GOOD).status_code == 200  # the visitor is thanked: the submission is kept
    assert crm_counts(form) == (0, 0, 0)
    with tenant_context(form.workspace.tenant):
        failed = Exchange.objects.filter(connection_id=form.connection_id).order_by("id").first()
        assert failed.status == Exchange.Status.FAILED and failed.retryable
        assert "no active people" in failed.error
        member = _person(form, "late@example.com", team)
        again = exchange_retry(actor=form.workspace.owner, exchange=failed)
        assert again.status == Exchange.Status.OK and again.retry_of_id == failed.pk
        lead = Lead.objects.get()
        assert lead.owner_id == member.pk and lead.email == "anna@example.com"
        failed.refresh_from_db()
        assert failed.status == Exchange.Status.RETRIED


def test_the_logs_retry_button_places_a_kept_submission(form: Form, owner_client) -> None:
    with tenant_context(form.workspace.tenant):
        team = Team.objects.create(name="Empty")
        form.save(team=team)
    assert form.post_json(GOOD).status_code == 202
    with tenant_context(form.workspace.tenant):
        failed = Exchange.objects.get(connection_id=form.connection_id)
        _person(form, "late@example.com", team)
    connection.set_schema_to_public()
    response = owner_client.post(f"/settings/integrations/{form.connection_id}/log/{failed.pk}/retry/")
    assert response.status_code == 302
    assert crm_counts(form)[:2] == (1, 1)
    assert [e.status for e in log(form)] == [Exchange.Status.RETRIED, Exchange.Status.OK]
