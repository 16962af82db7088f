"""Logging calls in the CRM: matched on the contact or company by E.164 number, a missed call's "Call back"
task, a lead for an unknown number, outbound calls, and idempotency."""

from __future__ import annotations

import datetime

from crm.activities.models import Activity
from crm.leads.models import Lead
from integrations.core.models import Exchange
from integrations.core.services import exchange_retry
from integrations.telephony import services
from integrations.telephony.ami import calls_from_events
from integrations.telephony.calls import CallData
from integrations.telephony.models import Call
from tests.factories import CompanyFactory, ContactFactory
from tests.fakes.ami_server import inbound_call, outbound_call

from .conftest import Setup

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def _one(events: list[dict[str, str]], **options: object) -> CallData:
    [call] = calls_from_events(events, NOW, **options)
    return call


def test_an_answered_inbound_call_is_logged_on_the_matched_contact(setup: Setup) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.workspace.owner)
    # The PBX sends the number in a national format: matched by its E.164 form.
    entry = services.call_handle(setup.asterisk, _one(inbound_call(linkedid="1.1", caller="89161234567", talk=65)))
    assert entry.status == Exchange.Status.OK and entry.counts == {"activities": 1}
    call = Call.objects.get()
    assert (call.direction, call.from_number, call.phone, call.result, call.duration_seconds) == (
        "inbound", "+79161234567", "+79161234567", "answered", 65
    )  # fmt: skip
    assert call.user == setup.manager and call.contact == contact and call.company == contact.company
    activity = Activity.objects.get()
    assert call.activity == activity
    assert (activity.kind, activity.call_direction, activity.call_phone, activity.call_duration_seconds) == (
        "call", "inbound", "+79161234567", 65
    )  # fmt: skip
    assert activity.is_done and activity.contact == contact and activity.company == contact.company
    assert activity.assignee == setup.manager  # the person of the extension
    assert activity.created_by == setup.asterisk.identity
    assert "65" in activity.body and activity.result == "answered"
    assert not Lead.objects.exists()


def test_a_company_number_logs_on_the_company_for_its_owner(setup: Setup) -> None:
    company = CompanyFactory(phones=["+74957654321"], owner=setup.workspace.owner)
    services.call_log(
        connection=setup.asterisk, data=_one(inbound_call(linkedid="2.1", caller="+74957654321", extension="999"))
    )
    activity = Activity.objects.get()
    assert activity.company == company and activity.contact is None
    assert activity.assignee == setup.workspace.owner  # no person on extension 999: the company's owner


def test_a_missed_inbound_call_makes_a_call_back_task_for_the_owner(setup: Setup) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.workspace.owner)
    data = _one(inbound_call(linkedid="3.1", caller="+79161234567", status="NOANSWER"), extensions=["555"])
    logged = services.call_log(connection=setup.asterisk, data=data)
    assert logged.counts == {"activities": 1, "tasks": 1}
    call = Call.objects.get()
    assert call.result == "missed" and call.task is not None
    task = call.task
    assert (task.kind, task.subject, task.is_done, task.assignee, task.contact) == (
        "task", "Call back", False, setup.workspace.owner, contact
    )  # fmt: skip


def test_an_unknown_number_makes_a_lead_with_the_call_on_it(setup: Setup) -> None:
    services.call_log(connection=setup.asterisk, data=_one(inbound_call(linkedid="4.1", caller="+79031112233")))
    lead = Lead.objects.get()
    assert lead.phone == "+79031112233" and lead.created_by == setup.asterisk.identity
    assert lead.owner == setup.manager  # the person who took the call
    activity = Activity.objects.get()
    assert activity.lead == lead and activity.kind == "call"
    # The next call from the number goes on the same lead.
    services.call_log(connection=setup.asterisk, data=_one(inbound_call(linkedid="4.2", caller="+79031112233")))
    assert Lead.objects.count() == 1 and Activity.objects.filter(lead=lead).count() == 2


def test_an_outbound_call(setup: Setup) -> None:
    contact = ContactFactory(phones=["+79161234567"], owner=setup.manager)
    services.call_log(
        connection=setup.asterisk, data=_one(outbound_call(linkedid="5.1", number="79161234567", talk=30))
    )
    call = Call.objects.get()
    assert (call.direction, call.to_number, call.from_number, call.duration_seconds) == (
        "outbound",
        "+79161234567",
        "101",
        30,
    )
    activity = Activity.objects.get()
    assert activity.call_direction == "outbound" and activity.contact == contact and activity.assignee == setup.manager
    assert not Activity.objects.filter(kind="task").exists()  # an unanswered outbound call asks no call back


def test_the_same_call_twice_is_logged_once(setup: Setup) -> None:
    ContactFactory(phones=["+79161234567"], owner=setup.workspace.owner)
    events = inbound_call(linkedid="6.1", caller="+79161234567", status="NOANSWER")
    for _ in range(2):
        services.call_handle(setup.asterisk, _one(events))
    assert Call.objects.count() == 1 and Activity.objects.count() == 2  # one call, one task
    assert Exchange.objects.filter(operation="telephony.call", status="ok").count() == 2


def test_a_hidden_number_is_kept_but_makes_nothing_in_the_crm(setup: Setup) -> None:
    services.call_log(connection=setup.asterisk, data=_one(inbound_call(linkedid="7.1", caller="anonymous")))
    assert Call.objects.get().phone == ""
    assert not Activity.objects.exists() and not Lead.objects.exists()


def test_a_failed_log_is_retried_from_the_exchange_log(setup: Setup) -> None:
    data = _one(inbound_call(linkedid="8.1", caller="+79161234567"))
    setup.asterisk.identity.role.grants = {}
    setup.asterisk.identity.role.save()
    entry = services.call_handle(setup.asterisk, data)
    assert entry.status == Exchange.Status.FAILED and entry.retryable
    assert not Call.objects.exists() and not Activity.objects.exists()
    from tenants.accounts.roles import INTEGRATION, builtin_definitions

    setup.asterisk.identity.role.grants = builtin_definitions()[INTEGRATION]["grants"]
    setup.asterisk.identity.role.save()
    again = exchange_retry(actor=setup.workspace.owner, exchange=entry)
    assert again.status == Exchange.Status.OK and again.retry_of == entry
    assert Call.objects.get().logged_at is not None and Activity.objects.count() == 1


def test_another_workspace_is_not_searched(setup: Setup, other_workspace) -> None:
    from django_tenants.utils import tenant_context

    with tenant_context(other_workspace.tenant):
        ContactFactory(phones=["+79161234567"])
    from django.db import connection

    connection.set_tenant(setup.workspace.tenant)
    services.call_log(connection=setup.asterisk, data=_one(inbound_call(linkedid="9.1", caller="+79161234567")))
    assert Lead.objects.count() == 1  # not found here: a lead, not the other workspace's contact
    with tenant_context(other_workspace.tenant):
        assert not Activity.objects.exists() and not Call.objects.exists()
