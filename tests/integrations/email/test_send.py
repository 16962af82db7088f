"""Writing from a contact's card: a template with merge fields, sent through SMTP (a local aiosmtpd) after the
commit, logged on the timeline with its Message-ID so that replies thread; SMTP failures tried again and in the
exchange log; who may write to whom from which mailbox."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.activities.models import Activity
from integrations.core.models import Exchange
from integrations.email.models import EmailTemplate, Message
from integrations.email.services import connection_sync
from tenants.accounts.roles import READ_ONLY, SALES_MANAGER, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, ContactFactory
from tests.integrations.email.conftest import mail, mailbox_create
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db

ANNA = "anna@client.example"


def _world(workspace, dovecot, smtp, box_address, **options):
    with inside(workspace):
        company = CompanyFactory(name="Client Co")
        contact = ContactFactory(
            first_name="Anna",
            last_name="Berg",
            emails=[ANNA, "anna.b@home.example"],
            company=company,
            owner=workspace.owner,
        )
        conn = mailbox_create(actor=workspace.owner, dovecot=dovecot, smtp=smtp, address=box_address, **options)
        template = EmailTemplate.objects.create(
            name="Follow-up",
            subject="Our offer for {{ company.name }}",
            body="Dear {{ contact.first_name }},\n{% if company.name %}Glad to work with {{ company.name }}.{% endif %}"
            "\n{{ contact.secret }}Regards, {{ user.full_name }}",
        )
    return conn, contact, template


def _compose(client, contact, **data):
    return client.post(reverse("email:compose", kwargs={"contact_id": contact.pk}), data)


def test_sending_from_the_card_with_a_template_and_merge_fields(
    workspace, owner_client, dovecot, smtp, box_address, eager, django_capture_on_commit_callbacks
):
    conn, contact, template = _world(workspace, dovecot, smtp, box_address)
    card = owner_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    compose_url = reverse("email:compose", kwargs={"contact_id": contact.pk})
    assert f'href="{compose_url}"' in card
    page = owner_client.get(compose_url + f"?template={template.pk}")
    assert page.status_code == 200 and "Our offer for {{ company.name }}" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = _compose(owner_client, contact, mailbox=conn.pk, to=ANNA, template=template.pk)
    assert response.status_code == 302, response.content.decode()[:2000]
    [sent] = smtp.received
    assert sent.recipients == [ANNA] and sent.sender == box_address
    email = sent.message
    assert email["Subject"] == "Our offer for Client Co"
    body = email.get_content()
    assert "Dear Anna," in body and "Glad to work with Client Co." in body
    assert f"Regards, {workspace.owner.full_name}" in body and "secret" not in body
    with inside(workspace):
        message = Message.objects.get(connection=conn)
        assert message.state == Message.State.SENT and email["Message-ID"] == f"<{message.message_id}>"
        activity = Activity.objects.get(kind=Activity.Kind.EMAIL)
        assert activity.call_direction == "outbound" and activity.contact_id == contact.pk
        assert activity.subject == "Our offer for Client Co" and activity.email_to == ANNA
        assert activity.assignee_id == workspace.owner.pk and message.activity_id == activity.pk
        assert Exchange.objects.get(connection=conn, operation="email.send").status == Exchange.Status.OK
        # The contact answers: the reply joins the thread of the message sent.
        dovecot.append(
            box_address,
            mail(
                sender=ANNA,
                to=box_address,
                subject="Re: Our offer",
                message_id="reply@client.example",
                in_reply_to=message.message_id,
            ),
        )
        connection_sync(conn)
        assert Message.objects.get(message_id="reply@client.example").thread == message.message_id


def test_a_passing_smtp_failure_is_tried_again_and_logged(
    workspace, owner_client, dovecot, smtp, box_address, eager, django_capture_on_commit_callbacks
):
    conn, contact, _template = _world(workspace, dovecot, smtp, box_address)
    smtp.fail_next("451 4.3.0 Try again later")
    with django_capture_on_commit_callbacks(execute=True):
        response = _compose(
            owner_client, contact, mailbox=conn.pk, to=ANNA, subject="Hi {{ contact.first_name }}", body="Text"
        )
    assert response.status_code == 302
    assert [r.message["Subject"] for r in smtp.received] == ["Hi Anna"]
    with inside(workspace):
        log = list(Exchange.objects.filter(connection=conn, operation="email.send").order_by("id"))
        assert [e.status for e in log] == [Exchange.Status.FAILED, Exchange.Status.OK]
        assert "451" in log[0].error and not log[0].retryable
        assert Message.objects.get().state == Message.State.SENT


def test_a_refusal_is_logged_and_retried_from_the_log(
    workspace, owner_client, dovecot, smtp, box_address, eager, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_SEND_ATTEMPTS = 2
    conn, contact, _template = _world(workspace, dovecot, smtp, box_address)
    smtp.fail_next("550 5.7.1 Relaying denied")
    with django_capture_on_commit_callbacks(execute=True):
        _compose(owner_client, contact, mailbox=conn.pk, to=ANNA, subject="Hi", body="Text")
    assert smtp.received == []
    with inside(workspace):
        message = Message.objects.get()
        assert message.state == Message.State.FAILED and "550" in message.error
        failed = Exchange.objects.get(connection=conn, operation="email.send")
        assert failed.status == Exchange.Status.FAILED and failed.retryable
        assert not Activity.objects.filter(kind=Activity.Kind.EMAIL).exists()
    # The log's retry (the core's page) sends it.
    response = owner_client.post(reverse("integrations:retry", args=[conn.pk, failed.pk]))
    assert response.status_code == 302
    assert len(smtp.received) == 1
    with inside(workspace):
        assert Message.objects.get().state == Message.State.SENT
        assert Activity.objects.filter(kind=Activity.Kind.EMAIL).count() == 1


def test_an_smtp_server_that_keeps_failing_leaves_the_message_not_sent(
    workspace, owner_client, dovecot, smtp, box_address, eager, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_SEND_ATTEMPTS = 2
    conn, contact, _template = _world(workspace, dovecot, smtp, box_address)
    smtp.fail_next("421 4.7.0 Busy", "421 4.7.0 Busy")
    with django_capture_on_commit_callbacks(execute=True):
        _compose(owner_client, contact, mailbox=conn.pk, to=ANNA, subject="Hi", body="Text")
    with inside(workspace):
        assert Message.objects.get().state == Message.State.FAILED
        log = list(Exchange.objects.filter(connection=conn, operation="email.send").order_by("id"))
        assert len(log) == 2 and all(e.status == Exchange.Status.FAILED for e in log) and log[-1].retryable


def test_bad_input_is_refused_and_nothing_is_queued(workspace, owner_client, dovecot, smtp, box_address, eager):
    conn, contact, _template = _world(workspace, dovecot, smtp, box_address)
    for data in (
        {"mailbox": conn.pk, "to": ANNA, "subject": "", "body": ""},
        {"mailbox": conn.pk, "to": "someone@else.example", "subject": "Hi", "body": "x"},
        {"mailbox": 999999, "to": ANNA, "subject": "Hi", "body": "x"},
        {"mailbox": conn.pk, "to": ANNA, "subject": "{% load static %}", "body": "x"},
        {"mailbox": conn.pk, "to": ANNA, "subject": "Hi\x00", "body": "x"},
        {"mailbox": "x" * 5000, "to": ANNA, "subject": "Hi", "body": "x", "template": "nope"},
    ):
        assert _compose(owner_client, contact, **data).status_code == 422, data
    assert owner_client.get(reverse("email:compose", kwargs={"contact_id": 99999999})).status_code == 404
    with inside(workspace):
        assert not Message.objects.exists()
    assert smtp.received == []


def test_who_may_write_from_which_mailbox(workspace, dovecot, smtp, box_address, eager):
    conn, contact, _template = _world(workspace, dovecot, smtp, box_address, shared=False, owner=workspace.owner)
    with inside(workspace):
        manager = user_create(
            email="manager@example.com", password=PASSWORD, full_name="Manager", role=builtin_role(SALES_MANAGER)
        )
        auditor = user_create(
            email="auditor@example.com", password=PASSWORD, full_name="Auditor", role=builtin_role(READ_ONLY)
        )
        own = ContactFactory(emails=["own@client.example"], owner=manager)
    manager_client = workspace.client(logged_in_as=manager)
    # A contact the manager may not see: 404, as if it did not exist.
    assert manager_client.get(reverse("email:compose", kwargs={"contact_id": contact.pk})).status_code == 404
    data = {"mailbox": conn.pk, "to": ANNA, "subject": "Hi", "body": "x"}
    assert _compose(manager_client, contact, **data).status_code == 404
    # Their own contact, but the only mailbox is the owner's personal one: nothing to send from.
    page = manager_client.get(reverse("email:compose", kwargs={"contact_id": own.pk}))
    assert page.status_code == 200 and 'data-testid="compose-refused"' in page.content.decode()
    assert "card-action-email" not in manager_client.get(reverse("contacts:detail", args=[own.pk])).content.decode()
    assert (
        _compose(manager_client, own, mailbox=conn.pk, to="own@client.example", subject="Hi", body="x").status_code
        == 422
    )
    # A role that may not log activities: 403.
    auditor_client = workspace.client(logged_in_as=auditor)
    assert auditor_client.get(reverse("email:compose", kwargs={"contact_id": contact.pk})).status_code == 403
    assert _compose(auditor_client, contact, **data).status_code == 403
    with inside(workspace):
        assert not Message.objects.exists()
    assert smtp.received == []


def test_another_workspaces_contact_cannot_be_written_to(workspace, other_workspace, dovecot, smtp, box_address):
    _conn, contact, _template = _world(workspace, dovecot, smtp, box_address)
    client = other_workspace.client(logged_in_as=other_workspace.owner)
    assert client.get(reverse("email:compose", kwargs={"contact_id": contact.pk})).status_code == 404
    assert _compose(client, contact, mailbox=1, to=ANNA, subject="Hi", body="x").status_code == 404
    with inside(workspace):
        assert not Message.objects.exists()


def test_an_smtp_server_on_a_private_network_is_refused_without_the_setting(
    workspace, owner_client, dovecot, smtp, box_address, eager, django_capture_on_commit_callbacks, settings
):
    conn, contact, _template = _world(workspace, dovecot, smtp, box_address)
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False
    with django_capture_on_commit_callbacks(execute=True):
        _compose(owner_client, contact, mailbox=conn.pk, to=ANNA, subject="Hi", body="Text")
    assert smtp.received == []
    with inside(workspace):
        entry = Exchange.objects.get(connection=conn, operation="email.send")
        assert entry.status == Exchange.Status.REFUSED and "private" in entry.error
        assert Message.objects.get().state == Message.State.FAILED
