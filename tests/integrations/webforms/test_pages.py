"""The form's pages: the builder (validated, all or nothing), the code for the website, the code shown with a
new address, and a 403 for people without the right to manage integrations."""

from __future__ import annotations

import html

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from crm.customfields.services import custom_field_create
from integrations.core.models import Connection
from integrations.webforms.models import FormField, WebForm
from tenants.accounts.models import Team
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.integrations.webforms.conftest import Form, make_form

pytestmark = pytest.mark.django_db


def _fields(form: Form) -> list[tuple[str, str, str, bool]]:
    with tenant_context(form.workspace.tenant):
        found = [(f.key, f.label, f.target, f.required) for f in form.webform().fields.all()]
    connection.set_schema_to_public()
    return found


def _post_data(rows: list[dict], **settings) -> dict[str, str]:
    data = {
        "fields-TOTAL_FORMS": str(len(rows)),
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
        "task_due_minutes": "30",
        "honeypot": "website",
        "submit_label": "Go",
        "lead_source": "site",
        **settings,
    }
    for n, row in enumerate(rows):
        for key, value in row.items():
            data[f"fields-{n}-{key}"] = value
    return data


ROWS = [
    {"label": "Your name", "key": "name", "type": "text", "required": "on", "target": "lead.contact_name"},
    {"label": "E-mail", "key": "email", "type": "email", "target": "contact.email"},
    {"label": "Topic", "key": "topic", "type": "select", "choices": "Sales\nSupport", "target": ""},
    {"label": "", "key": "", "type": "text"},  # left empty: skipped
]


def test_the_builder_saves_the_form(form: Form, owner_client) -> None:
    url = f"/settings/integrations/webforms/{form.connection_id}/"
    page = owner_client.get(url)
    assert page.status_code == 200 and b'data-testid="webform-builder"' in page.content
    with tenant_context(form.workspace.tenant):
        team = Team.objects.create(name="Sales")
    connection.set_schema_to_public()
    data = _post_data(ROWS, team=str(team.pk), allowed_origins="https://shop.example/\nhttp://LOCALHOST:8080")
    response = owner_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert _fields(form) == [
        ("name", "Your name", "lead.contact_name", True),
        ("email", "E-mail", "contact.email", False),
        ("topic", "Topic", "", False),
    ]
    with tenant_context(form.workspace.tenant):
        webform = form.webform()
        assert webform.team == team and webform.task_due_minutes == 30 and webform.submit_label == "Go"
        assert webform.allowed_origins == ["https://shop.example", "http://localhost:8080"]
        assert FormField.objects.get(key="topic").choices == ["Sales", "Support"]


@pytest.mark.parametrize(
    ("rows", "settings", "message"),
    [
        ([ROWS[0], {**ROWS[1], "key": "name"}], {}, "Two fields have this key."),
        ([{**ROWS[0], "target": ""}, {**ROWS[2]}], {}, "Send at least one field to a name"),
        ([ROWS[0], {**ROWS[1], "target": "lead.contact_name"}], {}, "Two fields go to the same place."),
        ([ROWS[0], {**ROWS[1], "type": "text"}], {}, "An email goes to an email field."),
        ([ROWS[0], {**ROWS[2], "choices": ""}], {}, "Give the choices, one per line."),
        ([ROWS[0], {**ROWS[1], "key": "website"}], {}, "This key is taken by the spam trap."),
        ([ROWS[0], {**ROWS[1], "target": "custom.nope"}], {}, "Select a valid choice"),
        ([ROWS[0]], {"allowed_origins": "https://shop.example/contact"}, "is not an address like"),
        ([ROWS[0]], {"allowed_origins": "ftp://x"}, "is not an address like"),
        ([ROWS[0]], {"task_subject": "Call\x00"}, "Null characters are not allowed."),
        ([], {}, "Add at least one field."),
    ],
)
def test_the_builder_refuses_a_form_that_cannot_work(form: Form, owner_client, rows, settings, message) -> None:
    before = _fields(form)
    response = owner_client.post(f"/settings/integrations/webforms/{form.connection_id}/", _post_data(rows, **settings))
    assert response.status_code == 422
    assert message in html.unescape(response.content.decode())
    assert _fields(form) == before


def test_a_custom_field_of_leads_is_a_target(form: Form, owner_client) -> None:
    with tenant_context(form.workspace.tenant):
        field = custom_field_create(actor=form.workspace.owner, record_type="lead", label="Budget", field_type="number")
    connection.set_schema_to_public()
    url = f"/settings/integrations/webforms/{form.connection_id}/"
    assert f'value="custom.{field.key}"'.encode() in owner_client.get(url).content
    rows = [ROWS[0], {"label": "Budget", "key": "budget", "type": "text", "target": f"custom.{field.key}"}]
    assert owner_client.post(url, _post_data(rows)).status_code == 302
    assert _fields(form)[1] == ("budget", "Budget", f"custom.{field.key}", False)


def test_the_code_for_the_website_is_plain_html_shown_escaped(form: Form, owner_client) -> None:
    with tenant_context(form.workspace.tenant):
        FormField.objects.filter(key="name").update(label='Name <b>"quoted"</b>')
    connection.set_schema_to_public()
    page = owner_client.get(f"/settings/integrations/webforms/{form.connection_id}/code/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "&lt;form id=&quot;kontor-form-" in text and "/integrations/in/webforms/SECRET/" in text
    assert "&lt;script" not in text and "<b>" not in text
    code = html.unescape(text.split('data-testid="webform-code">')[1].split("</code>")[0])
    assert 'method="post"' in code and 'name="email" type="email"' in code and 'name="website"' in code
    assert "Name &lt;b&gt;&quot;quoted&quot;&lt;/b&gt;" in code  # escaped in the code itself too
    assert "Content-Type: application/json" in text


def test_a_new_address_is_shown_with_the_code_that_holds_it(workspace, owner_client) -> None:
    response = owner_client.post("/settings/integrations/new/webforms/", {"name": "Site form"})
    assert response.status_code == 200
    text = response.content.decode()
    token = text.split('data-testid="inbound-token">')[1].split("<")[0]
    assert f"/integrations/in/webforms/{token}/" in html.unescape(text.split('data-testid="webform-code">')[1])
    with tenant_context(workspace.tenant):
        conn = Connection.objects.get(name="Site form")
        assert [f.key for f in WebForm.objects.get(connection=conn).fields.all()] == [
            "name",
            "email",
            "phone",
            "message",
        ]


def test_people_without_the_right_get_403_and_change_nothing(form: Form) -> None:
    with tenant_context(form.workspace.tenant):
        seller = user_create(email="seller@example.com", password=PASSWORD)
    connection.set_schema_to_public()
    client = form.workspace.client(logged_in_as=seller)
    before = _fields(form)
    base = f"/settings/integrations/webforms/{form.connection_id}/"
    assert client.get(base).status_code == 403
    assert client.post(base, _post_data([ROWS[1], ROWS[0]])).status_code == 403
    assert client.get(base + "code/").status_code == 403
    assert _fields(form) == before


def test_another_workspaces_connection_is_not_found(form: Form, other_workspace) -> None:
    other = make_form(other_workspace, "Theirs")
    client = form.workspace.client(logged_in_as=form.workspace.owner)
    for suffix in ("", "code/"):
        assert client.get(f"/settings/integrations/webforms/{other.connection_id + 1000}/{suffix}").status_code == 404
    response = client.post(f"/settings/integrations/webforms/{other.connection_id}/", _post_data(ROWS[:2]))
    # The other workspace's connection id is unknown here (or this workspace's own, never the other's).
    assert response.status_code in (302, 404)
    assert _fields(other)[0][0] == "name" and len(_fields(other)) == 4


def test_a_connection_never_set_up_still_has_its_pages(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        from tenants.accounts.services import integration_identity_create

        conn = Connection.objects.create(kind="webforms", name="Bare", identity=integration_identity_create(name="b"))
    connection.set_schema_to_public()
    assert owner_client.get(f"/settings/integrations/webforms/{conn.pk}/").status_code == 200
    assert owner_client.get(f"/settings/integrations/webforms/{conn.pk}/code/").status_code == 200
    assert owner_client.get("/settings/integrations/webforms/abc/").status_code == 404
