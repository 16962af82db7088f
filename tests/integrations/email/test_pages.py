"""The mailbox's pages: templates (manage integrations only), its messages, "read now", the settings form of the
core's connection page, and odd input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.core.models import Connection
from integrations.email.models import EmailTemplate, Message
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.integrations.email.conftest import mailbox_create
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db


def test_templates_are_managed_with_merge_fields_checked(owner_client, workspace):
    response = owner_client.post(
        reverse("email:template_new"), {"name": "Hello", "subject": "Hi {{ contact.first_name }}", "body": "Text"}
    )
    assert response.status_code == 302
    with inside(workspace):
        template = EmailTemplate.objects.get()
    page = owner_client.get(reverse("email:templates")).content.decode()
    assert "Hello" in page and "{{ contact.first_name }}" in page
    for bad in (
        {"name": "Bad", "subject": "{% load static %}", "body": "x"},
        {"name": "Bad", "subject": "x", "body": "{{ contact.__class__ }}"},
        {"name": "Hello", "subject": "Dup", "body": "x"},
        {"name": "Nul\x00", "subject": "x", "body": "x"},
        {"name": "", "subject": "", "body": ""},
    ):
        assert owner_client.post(reverse("email:template_new"), bad).status_code == 422, bad
    edit = reverse("email:template_edit", kwargs={"template": template.pk})
    assert owner_client.post(edit, {"name": "Hello", "subject": "{% if %}", "body": "x"}).status_code == 422
    assert owner_client.post(edit, {"name": "Hello 2", "subject": "S", "body": "B"}).status_code == 302
    with inside(workspace):
        assert EmailTemplate.objects.get().name == "Hello 2"
    assert owner_client.get(reverse("email:template_edit", kwargs={"template": 987654})).status_code == 404
    assert owner_client.post(reverse("email:template_delete", kwargs={"template": template.pk})).status_code == 302
    with inside(workspace):
        assert not EmailTemplate.objects.exists()


def test_the_pages_need_the_manage_integrations_permission(workspace, dovecot, box_address):
    with inside(workspace):
        conn = mailbox_create(actor=workspace.owner, dovecot=dovecot, smtp=None, address=box_address)
        template = EmailTemplate.objects.create(name="T", subject="S", body="B")
        manager = user_create(email="m@example.com", password=PASSWORD, full_name="M", role=builtin_role(SALES_MANAGER))
    client = workspace.client(logged_in_as=manager)
    for method, url in (
        ("get", reverse("email:templates")),
        ("get", reverse("email:template_new")),
        ("post", reverse("email:template_new")),
        ("get", reverse("email:template_edit", kwargs={"template": template.pk})),
        ("post", reverse("email:template_edit", kwargs={"template": template.pk})),
        ("post", reverse("email:template_delete", kwargs={"template": template.pk})),
        ("get", reverse("email:messages", kwargs={"connection": conn.pk})),
        ("post", reverse("email:sync", kwargs={"connection": conn.pk})),
    ):
        data = {"name": "X", "subject": "Y", "body": "Z"} if method == "post" else None
        assert getattr(client, method)(url, data).status_code == 403, url
    with inside(workspace):
        assert list(EmailTemplate.objects.values_list("name", "subject", "body")) == [("T", "S", "B")]


def test_the_messages_page_and_read_now(
    workspace, owner_client, dovecot, box_address, eager, django_capture_on_commit_callbacks
):
    with inside(workspace):
        conn = mailbox_create(actor=workspace.owner, dovecot=dovecot, smtp=None, address=box_address)
    page = owner_client.get(reverse("email:messages", kwargs={"connection": conn.pk}))
    assert page.status_code == 200 and "No messages logged yet." in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("email:sync", kwargs={"connection": conn.pk}))
    assert response.status_code == 302
    with inside(workspace):
        assert conn.exchanges.filter(operation="email.sync", status="ok").exists()
        assert not Message.objects.exists()
    # The core's connection page shows the mailbox's settings, its password never.
    detail = owner_client.get(reverse("integrations:detail", args=[conn.pk])).content.decode()
    assert box_address in detail and "imap-secret" not in detail
    assert reverse("email:messages", kwargs={"connection": conn.pk}) in detail
    assert owner_client.get(reverse("email:messages", kwargs={"connection": 987654})).status_code == 404
    assert owner_client.get(reverse("email:messages", kwargs={"connection": conn.pk}) + "?page=x%00").status_code == 200


def test_a_mailbox_is_added_through_the_core_pages(owner_client, workspace):
    url = reverse("integrations:new", args=["email"])
    assert owner_client.get(url).status_code == 200
    data = {
        "name": "Sales",
        "address": "Sales@Example.com",
        "shared": "",
        "owner": "",
        "imap_host": "imap.example.com",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_username": "sales",
        "imap_password": "pw",
        "sent_folder": "Sent",
        "smtp_host": "smtp.example.com",
        "smtp_port": "587",
        "smtp_security": "starttls",
    }
    # A personal mailbox needs its owner.
    assert owner_client.post(url, data).status_code == 422
    with inside(workspace):
        assert not Connection.objects.exists()
    response = owner_client.post(url, {**data, "shared": "on"})
    assert response.status_code == 302
    with inside(workspace):
        conn = Connection.objects.get(kind="email")
        assert conn.settings["address"] == "sales@example.com" and conn.settings["shared"] is True
        assert conn.secret_names == ["imap_password"] and "pw" not in conn.secrets_sealed


def test_the_messages_page_names_only_contacts_the_viewer_may_see(workspace):
    """Managing integrations is not seeing every client: a contact outside the viewer's role is not named."""
    from crm.activities.models import Activity
    from integrations.core.services import connection_create
    from tenants.accounts.models import Role
    from tests.factories import ContactFactory

    with inside(workspace):
        conn = connection_create(actor=workspace.owner, kind="email", name="Box").connection
        contact = ContactFactory(last_name="Hiddenperson", owner=workspace.owner)
        activity = Activity.objects.create(
            kind="email", subject="Hello", contact=contact, created_by=workspace.owner, assignee=workspace.owner
        )
        Message.objects.create(
            connection=conn, message_id="<m1@example.com>", thread="<m1@example.com>", direction="in",
            subject="Hello", activity=activity,
        )  # fmt: skip
        role = Role.objects.create(name="Integrations only", grants={}, permissions=["manage_integrations"])
        admin = user_create(email="int@example.com", password=PASSWORD, full_name="Int", role=role)
    url = reverse("email:messages", kwargs={"connection": conn.pk})
    limited = workspace.client(logged_in_as=admin).get(url).content.decode()
    assert "Hello" in limited and "Hiddenperson" not in limited and contact.get_absolute_url() not in limited
    full = workspace.client(logged_in_as=workspace.owner).get(url).content.decode()
    assert "Hiddenperson" in full
