"""Reading a mailbox on a real Dovecot: mail from and to contacts on their and their company's timelines,
threads, attachments as files, unknown senders skipped, idempotent and resumable runs, bounces, a wrong password,
the private-network rule, and workspaces kept apart."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.files.models import Attachment
from integrations.core.models import Exchange
from integrations.email import schedule, tasks
from integrations.email.models import FolderCursor, Message
from integrations.email.services import connection_sync
from tests.factories import CompanyFactory, ContactFactory
from tests.integrations.email.conftest import bounce, mail, mailbox_create
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db

ANNA = "anna@client.example"


def _world(workspace, dovecot, box_address, **options):
    with inside(workspace):
        company = CompanyFactory(name="Client Co")
        contact = ContactFactory(first_name="Anna", last_name="Berg", emails=[ANNA], company=company)
        conn = mailbox_create(actor=workspace.owner, dovecot=dovecot, smtp=None, address=box_address, **options)
    return conn, contact, company


def test_inbound_and_sent_mail_is_logged_on_the_contact_and_company(workspace, owner_client, dovecot, box_address):
    conn, contact, company = _world(workspace, dovecot, box_address)
    dovecot.append(
        box_address,
        mail(
            sender=f"Anna Berg <{ANNA}>",
            to=box_address,
            subject="Prices?",
            body="Could you send the price list?",
            message_id="q1@client.example",
        ),
    )
    dovecot.append(
        box_address,
        mail(
            sender=box_address,
            to=ANNA,
            subject="Re: Prices?",
            body="Here it is.",
            message_id="a1@kontor-test.example",
            in_reply_to="q1@client.example",
            references=["q1@client.example"],
        ),
        folder="Sent",
    )
    with inside(workspace):
        entry = connection_sync(conn)
        assert entry.status == Exchange.Status.OK, entry.error
        assert entry.counts == {"logged": 2}
        emails = {a.call_direction: a for a in Activity.objects.filter(kind=Activity.Kind.EMAIL)}
        assert set(emails) == {"inbound", "outbound"}
        inbound = emails["inbound"]
        assert inbound.contact_id == contact.pk and inbound.company_id == company.pk
        assert inbound.subject == "Prices?" and inbound.email_from == ANNA and inbound.email_to == box_address
        assert "price list" in inbound.body and inbound.is_done
        assert inbound.created_by_id == conn.identity_id
        assert emails["outbound"].email_to == ANNA
        assert Message.objects.filter(connection=conn).count() == 2
    card = owner_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    assert "Prices?" in card and "Could you send the price list?" in card and ANNA in card
    assert "Outbound" in card and "Inbound" in card
    company_card = owner_client.get(reverse("companies:detail", args=[company.pk])).content.decode()
    assert "Prices?" in company_card and "Re: Prices?" in company_card


def test_replies_are_grouped_in_one_thread(workspace, dovecot, box_address):
    conn, _contact, _company = _world(workspace, dovecot, box_address)
    # The reply comes first (INBOX is read before Sent): it names the thread's root in References.
    dovecot.append(
        box_address,
        mail(
            sender=ANNA,
            to=box_address,
            subject="Re: Offer",
            message_id="r1@client.example",
            in_reply_to="o1@kontor-test.example",
            references=["o1@kontor-test.example"],
        ),
    )
    dovecot.append(
        box_address,
        mail(
            sender=ANNA,
            to=box_address,
            subject="Re: Re: Offer",
            message_id="r2@client.example",
            in_reply_to="a2@kontor-test.example",
        ),
    )
    dovecot.append(
        box_address,
        mail(sender=box_address, to=ANNA, subject="Offer", message_id="o1@kontor-test.example"),
        folder="Sent",
    )
    dovecot.append(
        box_address, mail(sender=ANNA, to=box_address, subject="Another matter", message_id="n1@client.example")
    )
    with inside(workspace):
        connection_sync(conn)
        # r2 answers a message that is not in the mailbox: its thread is that message's.
        threads = dict(Message.objects.filter(connection=conn).values_list("message_id", "thread"))
        assert threads["r1@client.example"] == threads["o1@kontor-test.example"] == "o1@kontor-test.example"
        assert threads["n1@client.example"] == "n1@client.example"
        dovecot.append(
            box_address,
            mail(
                sender=ANNA,
                to=box_address,
                subject="Re: Offer (2)",
                message_id="r3@client.example",
                in_reply_to="r1@client.example",
            ),
        )
        connection_sync(conn)
        assert Message.objects.get(connection=conn, message_id="r3@client.example").thread == "o1@kontor-test.example"
    # The mailbox's messages page shows one thread at a time.
    client = workspace.client(logged_in_as=workspace.owner)
    url = reverse("email:messages", kwargs={"connection": conn.pk})
    page = client.get(url, {"thread": "o1@kontor-test.example"}).content.decode()
    assert "Re: Offer (2)" in page and "Another matter" not in page
    assert client.get(url, {"thread": "x\x00" * 2000}).status_code == 200


def test_attachments_become_files_of_the_contact_within_the_cap(
    workspace, owner_client, dovecot, box_address, settings
):
    settings.EMAIL_ATTACHMENT_MAX_BYTES = 1000
    conn, contact, company = _world(workspace, dovecot, box_address)
    files = [("offer.pdf", b"%PDF-1.4 offer", "application/pdf"), ("huge.bin", b"x" * 5000, "application/octet-stream")]
    dovecot.append(
        box_address, mail(sender=ANNA, to=box_address, subject="Signed", files=files, message_id="f1@client.example")
    )
    with inside(workspace):
        entry = connection_sync(conn)
        assert entry.status == Exchange.Status.OK
        attachment = Attachment.objects.get()
        assert attachment.name == "offer.pdf" and attachment.contact_id == contact.pk
        assert attachment.company_id == company.pk and attachment.uploaded_by_id == conn.identity_id
        assert attachment.file.read() == b"%PDF-1.4 offer"
    assert "offer.pdf" in owner_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()


def test_mail_of_unknown_people_is_skipped_and_counted(workspace, dovecot, box_address):
    conn, _contact, _company = _world(workspace, dovecot, box_address)
    dovecot.append(box_address, mail(sender="stranger@elsewhere.example", to=box_address, message_id="s1@x.example"))
    dovecot.append(box_address, mail(sender="ANNA@Client.Example", to=box_address, message_id="s2@x.example"))
    with inside(workspace):
        entry = connection_sync(conn)
        assert entry.counts == {"unknown": 1, "logged": 1}
        assert Activity.objects.filter(kind=Activity.Kind.EMAIL).count() == 1
        assert list(Message.objects.values_list("message_id", flat=True)) == ["s2@x.example"]


def test_a_second_run_is_idempotent_and_a_new_uidvalidity_reads_again_without_doubles(workspace, dovecot, box_address):
    conn, _contact, _company = _world(workspace, dovecot, box_address)
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="i1@client.example"))
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="i2@client.example"))
    with inside(workspace):
        assert connection_sync(conn).counts == {"logged": 2}
        assert connection_sync(conn).counts == {}
        cursor = FolderCursor.objects.get(connection=conn, folder="INBOX")
        assert cursor.last_uid == 2 and cursor.uidvalidity > 0
        # As if the server had renumbered the folder: everything is read again and known by its Message-ID.
        FolderCursor.objects.filter(pk=cursor.pk).update(uidvalidity=1)
        assert connection_sync(conn).counts == {"duplicate": 2}
        assert Activity.objects.filter(kind=Activity.Kind.EMAIL).count() == 2
        # Resumable: a run stopped after the first message goes on from the second.
        Message.objects.filter(message_id="i2@client.example").delete()
        FolderCursor.objects.filter(pk=cursor.pk).update(last_uid=1)
        assert connection_sync(conn).counts == {"logged": 1}


def test_a_bounce_marks_the_message_and_notes_it_on_the_card(workspace, owner_client, dovecot, box_address):
    conn, contact, _company = _world(workspace, dovecot, box_address)
    dovecot.append(
        box_address,
        mail(sender=box_address, to=ANNA, subject="Proposal", message_id="p1@kontor-test.example"),
        folder="Sent",
    )
    with inside(workspace):
        connection_sync(conn)
    dovecot.append(
        box_address,
        bounce(daemon="MAILER-DAEMON@mx.example", to=box_address, failed=ANNA, original_id="p1@kontor-test.example"),
    )
    with inside(workspace):
        entry = connection_sync(conn)
        assert entry.counts == {"bounce": 1}
        assert Message.objects.get(message_id="p1@kontor-test.example").bounced
        note = Activity.objects.get(kind=Activity.Kind.NOTE, contact=contact)
        assert note.subject == "Email not delivered: Proposal"
        assert ANNA in note.body and "User unknown" in note.body
        # Read again: noted once.
        FolderCursor.objects.filter(connection=conn).update(uidvalidity=1)
        connection_sync(conn)
        assert Activity.objects.filter(kind=Activity.Kind.NOTE).count() == 1
    assert (
        "Email not delivered: Proposal"
        in owner_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    )


def test_a_wrong_imap_password_is_logged_as_failed(workspace, dovecot, box_address):
    conn, _contact, _company = _world(workspace, dovecot, box_address, password="wrong")
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="w1@client.example"))
    with inside(workspace):
        entry = connection_sync(conn)
        assert entry.status == Exchange.Status.FAILED and entry.error.startswith("IMAP login failed")
        assert entry.retryable
        assert not Message.objects.exists() and not Activity.objects.exists()


def test_a_private_address_is_refused_without_the_setting(workspace, dovecot, box_address, settings):
    conn, _contact, _company = _world(workspace, dovecot, box_address)
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="pn@client.example"))
    with inside(workspace):
        entry = connection_sync(conn)
        assert entry.status == Exchange.Status.REFUSED and "private" in entry.error
        assert not Message.objects.exists()


def test_workspaces_are_kept_apart(workspace, other_workspace, dovecot, box_address):
    conn, contact, _company = _world(workspace, dovecot, box_address)
    with inside(other_workspace):
        twin = ContactFactory(emails=[ANNA])
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="iso@client.example"))
    with inside(workspace):
        connection_sync(conn)
        assert Activity.objects.get(kind=Activity.Kind.EMAIL).contact_id == contact.pk
    with inside(other_workspace):
        assert not Activity.objects.filter(contact=twin).exists() and not Message.objects.exists()
    # The other workspace's administrator does not reach this mailbox's pages.
    client = other_workspace.client(logged_in_as=other_workspace.owner)
    assert client.get(reverse("email:messages", kwargs={"connection": conn.pk})).status_code == 404
    assert client.post(reverse("email:sync", kwargs={"connection": conn.pk})).status_code == 404


def test_the_task_reads_the_mailbox_in_its_workspace_and_plans_the_next_run(workspace, dovecot, box_address):
    conn, _contact, _company = _world(workspace, dovecot, box_address)
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="t1@client.example"))
    with tenant_context(workspace.tenant):
        assert tasks.sync.apply(args=[conn.pk]).get() == "ok"
        assert Message.objects.filter(message_id="t1@client.example").exists()
        member = schedule.member(workspace.schema, conn.pk).encode()
        assert schedule._redis().zscore(schedule.KEY, member) is not None
        # A connection removed since: forgotten.
        assert tasks.sync.apply(args=[987654]).get() == "gone"
    schedule.forget(workspace.schema, conn.pk)


def test_a_failed_run_is_retried_from_the_log_once_the_password_is_right(workspace, owner_client, dovecot, box_address):
    conn, _contact, _company = _world(workspace, dovecot, box_address, password="wrong")
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="rt@client.example"))
    with inside(workspace):
        failed = connection_sync(conn)
        update_connection(conn, workspace.owner)
    response = owner_client.post(reverse("integrations:retry", args=[conn.pk, failed.pk]))
    assert response.status_code == 302
    with inside(workspace):
        again = Exchange.objects.get(retry_of=failed)
        assert again.status == Exchange.Status.OK and again.counts == {"logged": 1}
        assert Exchange.objects.get(pk=failed.pk).status == Exchange.Status.RETRIED


def update_connection(conn, actor):
    from integrations.core.services import connection_update
    from tests.integrations.email.conftest import PASSWORD

    connection_update(
        actor=actor, connection=conn, name=conn.name, settings=conn.settings, secrets={"imap_password": PASSWORD}
    )


def test_a_role_that_hides_emails_sees_no_addresses_on_the_card(workspace, dovecot, box_address):
    from tenants.accounts.models import Role
    from tenants.accounts.roles import SALES_HEAD, builtin_definitions
    from tenants.accounts.services import user_create
    from tests.conftest import PASSWORD

    conn, contact, _company = _world(workspace, dovecot, box_address)
    dovecot.append(
        box_address, mail(sender=ANNA, to=box_address, subject="Hidden addresses", message_id="h1@client.example")
    )
    with inside(workspace):
        connection_sync(conn)
        role = Role.objects.create(
            name="No emails", grants=builtin_definitions()[SALES_HEAD]["grants"], hidden_fields={"contact": ["emails"]}
        )
        viewer = user_create(email="viewer@example.com", password=PASSWORD, full_name="Viewer", role=role)
    card = workspace.client(logged_in_as=viewer).get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    assert "Hidden addresses" in card and ANNA not in card and box_address not in card
    assert "card-action-email" not in card


def test_beat_queues_the_mailboxes_that_are_due(workspace, dovecot, box_address, eager):
    conn, _contact, _company = _world(workspace, dovecot, box_address)
    dovecot.append(box_address, mail(sender=ANNA, to=box_address, message_id="due@client.example"))
    schedule._redis().delete(schedule.KEY)  # what earlier tests planned
    schedule.plan(workspace.schema, conn.pk, delay=-1)
    schedule.plan("ws_gone_since", 1, delay=-1)
    try:
        assert tasks.sync_due.apply().get() == 1
        assert schedule._redis().zscore(schedule.KEY, "ws_gone_since:1") is None
        with inside(workspace):
            assert Message.objects.filter(message_id="due@client.example").exists()
    finally:
        schedule.forget(workspace.schema, conn.pk)


def test_a_sent_folder_with_a_russian_name(workspace, dovecot, box_address):
    from integrations.email.services import imap_utf7

    conn, _contact, _company = _world(workspace, dovecot, box_address)
    with inside(workspace):
        conn.settings = {**conn.settings, "sent_folder": "Отправленные"}
        conn.save(update_fields=["settings"])
    # Dovecot refuses a name that is not valid modified UTF-7.
    dovecot.append(
        box_address,
        mail(sender=box_address, to=ANNA, subject="Предложение", message_id="ru@kontor.example"),
        folder=imap_utf7("Отправленные"),
    )
    with inside(workspace):
        entry = connection_sync(conn)
        assert entry.status == Exchange.Status.OK and entry.counts == {"logged": 1}
        assert Activity.objects.get(kind=Activity.Kind.EMAIL).subject == "Предложение"
