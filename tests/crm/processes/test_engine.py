"""Running processes: each trigger, action, approval and timeout, through the real services and the outbox."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.activities.services import activity_create, activity_set_done
from crm.deals.models import Deal, Stage
from crm.deals.services import deal_create, deal_delete, deal_move_to_stage, deal_set_line_items, deal_update
from crm.leads.services import lead_create
from crm.processes import engine, tasks, timers, triggers
from crm.processes.models import Instance, LogEntry, Notification, Timer
from tenants.accounts.models import Team, User
from tenants.accounts.roles import ADMIN, SALES_HEAD, builtin_role
from tenants.events.models import Event
from tests.crm.processes.support import active_step, deliver, later, only_instance, process
from tests.factories import DealFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(in_workspace):
    """A sales team: its head and three managers; the deals belong to the first manager."""
    head = UserFactory(full_name="Helen Head", role=builtin_role(SALES_HEAD))
    team = Team.objects.create(name="Sales", head=head)
    managers = [UserFactory(full_name=f"Manager {n}", team=team) for n in range(3)]
    head.team = team
    head.save()
    return {"owner": in_workspace.owner, "head": head, "team": team, "managers": managers}


def task_step(**extra):
    return {"id": "call", "type": "task", "title": "Call {record.title}", "assign": {"to": "owner"}, **extra}


def stage(outcome: str) -> Stage:
    return Stage.objects.filter(outcome=outcome).order_by("id").first()


# --- triggers ----------------------------------------------------------------------------------------------


def test_a_new_record_starts_the_process_and_its_task_goes_to_the_owner(people) -> None:
    definition = process(
        people["owner"],
        {"trigger": {"type": "record_created", "record_type": "lead"}, "steps": [task_step(wait=True)]},
    )
    manager = people["managers"][0]
    lead = lead_create(actor=people["owner"], data={"title": "ACME wants 10 units", "owner": manager.pk})
    deliver()
    instance = only_instance(definition)
    assert (instance.record_type, instance.record_id, instance.state) == ("lead", lead.pk, "running")
    run = active_step(instance)
    task = Activity.objects.get(pk=run.task_id)
    assert (task.subject, task.assignee_id, task.lead_id) == ("Call ACME wants 10 units", manager.pk, lead.pk)
    assert Notification.objects.filter(user=manager).count() == 1
    # The task done moves the instance on: it ends.
    activity_set_done(actor=manager, activity=task, done=True)
    deliver()
    instance.refresh_from_db()
    assert instance.state == "completed"
    assert list(instance.log.values_list("action", flat=True)) == [
        "started",
        "task_created",
        "step_waiting",
        "step_done",
        "completed",
    ]


def test_an_event_delivered_twice_starts_one_instance(people) -> None:
    definition = process(
        people["owner"], {"trigger": {"type": "record_created", "record_type": "lead"}, "steps": [task_step()]}
    )
    lead = lead_create(actor=people["owner"], data={"title": "Twice"})
    event = Event.objects.get(type="record.created", kind="lead", record_id=lead.pk)
    triggers.events_follow(event)
    triggers.events_follow(event)
    deliver()
    assert Instance.objects.filter(definition=definition).count() == 1
    assert Activity.objects.filter(lead=lead, kind="task").count() == 1


def test_the_trigger_condition_decides(people) -> None:
    definition = process(
        people["owner"],
        {
            "trigger": {
                "type": "record_created",
                "record_type": "deal",
                "condition": {"field": "amount", "op": "gt", "value": "100000"},
            },
            "steps": [task_step()],
        },
    )
    deal_create(actor=people["owner"], data={"title": "Small", "amount": Decimal("500")})
    big = deal_create(actor=people["owner"], data={"title": "Big", "amount": Decimal("250000")})
    deliver()
    assert list(Instance.objects.filter(definition=definition).values_list("record_id", flat=True)) == [big.pk]


def test_a_record_update_starts_once_while_it_runs(people) -> None:
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "record_updated", "record_type": "deal", "fields": ["amount"]},
            "steps": [task_step(wait=True)],
        },
    )
    deal = deal_create(actor=people["owner"], data={"title": "Grows", "amount": Decimal("10")})
    deal_update(actor=people["owner"], deal=deal, data={"title": "Renamed"})
    deliver()
    assert not Instance.objects.filter(definition=definition).exists()  # the title is not a watched field
    deal_update(actor=people["owner"], deal=Deal.objects.get(pk=deal.pk), data={"amount": Decimal("20")})
    deal_update(actor=people["owner"], deal=Deal.objects.get(pk=deal.pk), data={"amount": Decimal("30")})
    deliver()
    assert Instance.objects.filter(definition=definition).count() == 1  # still running: not started again


def test_a_deal_entering_won_starts_the_call_back_in_eleven_months(people) -> None:
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "stage_entered", "record_type": "deal", "outcome": "won"},
            "steps": [
                {"id": "wait", "type": "wait", "duration": {"months": 11}},
                task_step(title="Call {record.title} with an offer"),
            ],
        },
    )
    deal = DealFactory(owner=people["managers"][0])
    deal_move_to_stage(actor=people["owner"], deal=deal, stage=stage("won"))
    deliver()
    instance = only_instance(definition)
    run = active_step(instance)
    assert run.step_type == "wait" and run.due_at > timezone.now() + datetime.timedelta(days=300)
    assert Timer.objects.filter(key=f"wake:{run.pk}").exists()
    assert later(days=200).fired == 0
    assert later(days=400).fired == 1
    assert later(days=400).fired == 0  # fired once
    instance.refresh_from_db()
    assert instance.state == "completed"
    assert Activity.objects.get(deal=deal, kind="task").subject == f"Call {deal.title} with an offer"


def test_the_stage_trigger_names_its_stage(people) -> None:
    proposal = Stage.objects.filter(outcome="open").order_by("position")[1]
    definition = process(
        people["owner"],
        {"trigger": {"type": "stage_entered", "record_type": "deal", "stage": proposal.pk}, "steps": [task_step()]},
    )
    deal = DealFactory()
    deal_move_to_stage(actor=people["owner"], deal=deal, stage=stage("won"))
    deliver()
    assert not Instance.objects.filter(definition=definition).exists()
    other = DealFactory()
    deal_move_to_stage(actor=people["owner"], deal=other, stage=proposal)
    deliver()
    assert only_instance(definition).record_id == other.pk


def test_a_date_trigger_sets_a_timer_that_follows_the_date(people) -> None:
    from crm.customfields.models import CustomField

    CustomField.objects.create(record_type="deal", key="warranty_ends", label="Warranty ends", field_type="date")
    definition = process(
        people["owner"],
        {
            "trigger": {
                "type": "date",
                "record_type": "deal",
                "field": "cf:warranty_ends",
                "offset": {"days": -30},
                "at": "10:00",
            },
            "steps": [task_step(title="Offer a warranty extension")],
        },
    )
    deal = DealFactory()
    first = (timezone.now() + datetime.timedelta(days=100)).date()
    deal_update(actor=people["owner"], deal=deal, data={"custom_fields": {"warranty_ends": first.isoformat()}})
    deliver()
    timer = Timer.objects.get(key=f"date:{definition.pk}:{deal.pk}")
    assert timer.due_at.date() == first - datetime.timedelta(days=30)
    moved = first + datetime.timedelta(days=10)
    deal_update(
        actor=people["owner"],
        deal=Deal.objects.get(pk=deal.pk),
        data={"custom_fields": {"warranty_ends": moved.isoformat()}},
    )
    deliver()
    timer.refresh_from_db()
    assert timer.due_at.date() == moved - datetime.timedelta(days=30)
    assert not Instance.objects.filter(definition=definition).exists()
    assert later(days=85).fired == 1
    assert only_instance(definition).record_id == deal.pk
    assert Activity.objects.filter(deal=deal, subject="Offer a warranty extension").count() == 1
    assert later(days=85).fired == 0


def test_a_schedule_starts_a_run_and_sets_the_next(people) -> None:
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "schedule", "every": "day", "at": "09:00"},
            "steps": [
                {
                    "id": "n",
                    "type": "notify",
                    "to": {"to": "user", "user": people["head"].pk},
                    "text": "Review the pipeline",
                }
            ],
        },
    )
    assert Timer.objects.filter(key=f"schedule:{definition.pk}").exists()
    assert later(days=1, hours=1).fired >= 1
    assert Instance.objects.filter(definition=definition, state="completed").count() >= 1
    assert Notification.objects.filter(user=people["head"], text="Review the pipeline").exists()
    assert Timer.objects.filter(key=f"schedule:{definition.pk}").exists()  # the next run


def test_a_deactivated_definition_starts_nothing(people) -> None:
    from crm.processes import services

    definition = process(
        people["owner"], {"trigger": {"type": "record_created", "record_type": "lead"}, "steps": [task_step()]}
    )
    services.definition_set_active(actor=people["owner"], definition=definition, active=False)
    lead_create(actor=people["owner"], data={"title": "Nobody listens"})
    deliver()
    assert not Instance.objects.exists()


def test_a_call_logged_by_telephony_starts_the_call_process(people) -> None:
    from crm.contacts.services import contact_create
    from tenants.accounts.services import integration_identity_create

    definition = process(
        people["owner"],
        {"trigger": {"type": "call", "direction": "inbound", "missed": True}, "steps": [task_step(title="Call back")]},
    )
    contact = contact_create(
        actor=people["owner"], data={"first_name": "Ann", "last_name": "Lee", "owner": people["managers"][1].pk}
    )
    pbx = integration_identity_create(name="PBX")
    # A person logging a call is not the telephony: nothing starts.
    activity_create(
        actor=people["owner"],
        data={"kind": "call", "subject": "Call", "contact": contact.pk, "call_direction": "inbound"},
    )
    deliver()
    assert not Instance.objects.exists()
    activity_create(
        actor=pbx,
        data={
            "kind": "call",
            "subject": "Missed call",
            "contact": contact.pk,
            "call_direction": "inbound",
            "assignee": None,
        },
    )
    deliver()
    instance = only_instance(definition)
    assert (instance.record_type, instance.record_id) == ("contact", contact.pk)
    assert Activity.objects.get(kind="task", contact=contact).assignee_id == people["managers"][1].pk


def test_started_by_hand_from_a_record(people) -> None:
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "manual", "record_type": "deal"},
            "steps": [task_step(assign={"to": "starter"}, wait=True)],
        },
    )
    manager = people["managers"][0]
    mine, theirs = DealFactory(owner=manager), DealFactory(owner=people["managers"][1])
    instance = engine.manual_start(actor=manager, definition=definition, record=mine, record_type="deal")
    assert instance.started_by_id == manager.pk
    assert Activity.objects.get(deal=mine).assignee_id == manager.pk
    with pytest.raises(ValidationError):
        engine.manual_start(actor=manager, definition=definition, record=mine, record_type="deal")  # running
    with pytest.raises(PermissionDenied):
        engine.manual_start(actor=manager, definition=definition, record=theirs, record_type="deal")
    assert Instance.objects.count() == 1


# --- actions -----------------------------------------------------------------------------------------------


def test_round_robin_hands_new_leads_around_the_team(people) -> None:
    process(
        people["owner"],
        {
            "trigger": {"type": "record_created", "record_type": "lead"},
            "steps": [task_step(assign={"to": "round_robin", "team": people["team"].pk})],
        },
    )
    for n in range(4):
        lead_create(actor=people["owner"], data={"title": f"Lead {n}"})
    deliver()
    assignees = list(Activity.objects.filter(kind="task").order_by("id").values_list("assignee_id", flat=True))
    members = sorted([m.pk for m in people["managers"]] + [people["head"].pk])
    assert assignees == members[:4]


def test_set_field_move_stage_and_branch(people) -> None:
    won = stage("won")
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "manual", "record_type": "deal"},
            "steps": [
                {
                    "id": "big",
                    "type": "branch",
                    "condition": {"field": "amount", "op": "gte", "value": "5000"},
                    "then": "vip",
                    "else": "end",
                },
                {"id": "vip", "type": "set_field", "field": "title", "value": "VIP: {record.title}"},
                {"id": "win", "type": "move_stage", "stage": won.pk},
            ],
        },
    )
    small, big = DealFactory(amount=Decimal("100")), DealFactory(amount=Decimal("9000"), title="Tractors")
    engine.manual_start(actor=people["owner"], definition=definition, record=small, record_type="deal")
    engine.manual_start(actor=people["owner"], definition=definition, record=big, record_type="deal")
    small.refresh_from_db()
    big.refresh_from_db()
    assert small.stage.outcome == "open" and small.title != "VIP"
    assert big.title == "VIP: Tractors" and big.stage_id == won.pk
    assert set(Instance.objects.values_list("state", flat=True)) == {"completed"}


def test_email_and_notification_steps(people) -> None:
    from crm.contacts.services import contact_create

    definition = process(
        people["owner"],
        {
            "trigger": {"type": "manual", "record_type": "contact"},
            "steps": [
                {
                    "id": "mail",
                    "type": "email",
                    "to": "contact",
                    "subject": "Hello {record.first_name}",
                    "body": "Dear {record.name}, ...",
                },
                {"id": "tell", "type": "notify", "to": {"to": "owner"}, "text": "Mail sent to {record.name}"},
            ],
        },
    )
    contact = contact_create(
        actor=people["owner"], data={"first_name": "Ann", "last_name": "Lee", "emails": ["ann@client.test"]}
    )
    instance = engine.manual_start(actor=people["owner"], definition=definition, record=contact, record_type="contact")
    queued = LogEntry.objects.get(instance=instance, action="email_queued")
    assert queued.details["to"] == "ann@client.test" and queued.details["subject"] == "Hello Ann"
    run = instance.steps.get(step_id="mail")
    assert tasks.email_send(run.pk, "ann@client.test", "Hello Ann", "Dear Ann Lee, ...") is True
    assert (
        tasks.email_send(run.pk, "ann@client.test", "Hello Ann", "Dear Ann Lee, ...") is False
    )  # a retry sends nothing
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@client.test"]
    # It is in the client's history on the card, as a mail a person sends.
    [logged] = Activity.objects.filter(contact=contact, kind="email")
    assert (logged.subject, logged.email_to, logged.call_direction, logged.is_done) == (
        "Hello Ann",
        "ann@client.test",
        "outbound",
        True,
    )
    assert Notification.objects.get(user=people["owner"]).text == "Mail sent to Ann Lee"


def test_a_step_that_cannot_run_stops_the_instance_and_tells_the_administrators(people) -> None:
    gone = Stage.objects.create(pipeline=stage("won").pipeline, name="Temporary", position=99)
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "manual", "record_type": "deal"},
            "steps": [{"id": "m", "type": "move_stage", "stage": gone.pk}],
        },
    )
    gone.delete()
    instance = engine.manual_start(
        actor=people["owner"], definition=definition, record=DealFactory(), record_type="deal"
    )
    instance.refresh_from_db()
    assert instance.state == "failed" and "no longer exists" in instance.error
    assert Notification.objects.filter(user=people["owner"], key__startswith=f"failed:{instance.pk}").exists()


# --- deadlines and escalation ------------------------------------------------------------------------------


def test_an_overdue_task_is_handed_to_the_team_head_and_people_are_told(people) -> None:
    manager = people["managers"][0]
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "record_created", "record_type": "lead"},
            "steps": [
                task_step(
                    deadline={"minutes": 15, "working": False},
                    wait=True,
                    escalate={"to": "team_head", "notify": ["assignee", "team_head"]},
                )
            ],
        },
    )
    lead = lead_create(actor=people["owner"], data={"title": "Urgent", "owner": manager.pk})
    deliver()
    run = active_step(only_instance(definition))
    assert later(minutes=10).fired == 0
    assert later(minutes=16).fired == 1
    run.refresh_from_db()
    task = Activity.objects.get(pk=run.task_id)
    assert run.assignee_id == task.assignee_id == people["head"].pk and run.escalations == 1
    assert Notification.objects.filter(user=manager, key__startswith=f"escalated:{run.pk}").exists()
    assert Notification.objects.filter(user=people["head"], key__startswith=f"escalated:{run.pk}").exists()
    assert later(minutes=16).fired == 0  # the new deadline is 15 minutes after the escalation
    assert LogEntry.objects.filter(instance=run.instance, action="escalated").count() == 1
    # Done by the head: the instance completes and no deadline is left.
    activity_set_done(actor=people["head"], activity=task, done=True)
    deliver()
    assert only_instance(definition).state == "completed"
    assert not Timer.objects.exclude(kind="schedule").exists()
    assert lead.pk == only_instance(definition).record_id


# --- approvals ---------------------------------------------------------------------------------------------


def approval_process(owner: User, **approval):
    return process(
        owner,
        {
            "trigger": {
                "type": "record_updated",
                "record_type": "deal",
                "condition": {"field": "discount_percent", "op": "gt", "value": "15"},
            },
            "steps": [
                {
                    "id": "approve",
                    "type": "approval",
                    "approvers": {"to": "team_head"},
                    "hold": True,
                    "timeout": {"days": 2, "working": False},
                    "on_reject": "rejected",
                    "on_timeout": "rejected",
                    **approval,
                },
                {"id": "ok", "type": "notify", "to": {"to": "owner"}, "text": "Discount approved", "next": "end"},
                {"id": "rejected", "type": "notify", "to": {"to": "owner"}, "text": "Discount rejected"},
            ],
        },
        name="Discount approval",
    )


def discounted_deal(people) -> Deal:
    manager = people["managers"][0]
    deal = DealFactory(owner=manager)
    deal_set_line_items(
        actor=people["owner"],
        deal=deal,
        items=[{"name": "Tractor", "quantity": 1, "price": "1000", "discount_percent": "20"}],
    )
    deliver()
    return deal


def test_a_big_discount_waits_for_the_heads_approval_and_holds_the_deal(people) -> None:
    definition = approval_process(people["owner"])
    deal = discounted_deal(people)
    run = active_step(only_instance(definition))
    assert run.approvers == [people["head"].pk]
    with pytest.raises(ValidationError) as refused:
        deal_move_to_stage(actor=people["owner"], deal=deal, stage=stage("won"))
    assert "approval" in str(refused.value)
    # Only an approver decides; the manager who owns the deal cannot.
    with pytest.raises(PermissionDenied):
        engine.approval_decide(actor=people["managers"][0], step=run, approve=True)
    engine.approval_decide(actor=people["head"], step=run, approve=True, comment="Fine this time")
    instance = only_instance(definition)
    assert instance.state == "completed" and not instance.holds_record
    assert Notification.objects.filter(user=people["managers"][0], text="Discount approved").exists()
    deal_move_to_stage(actor=people["owner"], deal=Deal.objects.get(pk=deal.pk), stage=stage("won"))
    with pytest.raises(ValidationError):
        engine.approval_decide(actor=people["head"], step=run, approve=False, comment="Changed my mind")


def test_a_rejection_needs_a_reason_and_takes_the_reject_branch(people) -> None:
    definition = approval_process(people["owner"])
    discounted_deal(people)
    run = active_step(only_instance(definition))
    with pytest.raises(ValidationError):
        engine.approval_decide(actor=people["head"], step=run, approve=False, comment="  ")
    assert active_step(only_instance(definition)).pk == run.pk
    engine.approval_decide(actor=people["head"], step=run, approve=False, comment="Too much")
    run.refresh_from_db()
    assert (run.outcome, run.decided_by_id) == ("rejected", people["head"].pk)
    assert Notification.objects.filter(user=people["managers"][0], text="Discount rejected").exists()
    assert not Notification.objects.filter(text="Discount approved").exists()


def test_an_approval_nobody_decides_takes_the_timeout_branch(people) -> None:
    definition = approval_process(people["owner"])
    discounted_deal(people)
    assert later(days=1).fired == 0
    assert later(days=3).fired == 1
    instance = only_instance(definition)
    assert instance.state == "completed" and not instance.holds_record
    assert instance.steps.get(step_id="approve").outcome == "timeout"
    assert Notification.objects.filter(text="Discount rejected").exists()


def test_every_approver_must_approve_in_all_mode(people) -> None:
    admin = UserFactory(role=builtin_role(ADMIN))
    definition = approval_process(
        people["owner"], approvers={"to": "users", "users": [people["head"].pk, admin.pk]}, mode="all"
    )
    discounted_deal(people)
    run = active_step(only_instance(definition))
    engine.approval_decide(actor=people["head"], step=run, approve=True)
    assert active_step(only_instance(definition)).pk == run.pk
    engine.approval_decide(actor=admin, step=run, approve=True)
    assert only_instance(definition).state == "completed"


# --- cancelling and deleting -------------------------------------------------------------------------------


def test_a_deleted_record_stops_its_processes(people) -> None:
    definition = process(
        people["owner"], {"trigger": {"type": "record_created", "record_type": "deal"}, "steps": [task_step(wait=True)]}
    )
    deal = deal_create(actor=people["owner"], data={"title": "Short-lived"})
    deliver()
    deal_delete(actor=people["owner"], deal=Deal.objects.get(pk=deal.pk))
    deliver()
    instance = only_instance(definition)
    assert instance.state == "cancelled"
    assert not instance.steps.filter(state="active").exists()


def test_a_deleted_process_task_lets_the_process_go_on(people) -> None:
    from crm.activities.services import activity_delete

    definition = process(
        people["owner"],
        {
            "trigger": {"type": "manual", "record_type": "deal"},
            "steps": [task_step(wait=True), {"id": "after", "type": "notify", "to": {"to": "owner"}, "text": "Next"}],
        },
    )
    instance = engine.manual_start(
        actor=people["owner"], definition=definition, record=DealFactory(), record_type="deal"
    )
    activity_delete(actor=people["owner"], activity=Activity.objects.get(pk=active_step(instance).task_id))
    deliver()
    instance.refresh_from_db()
    assert instance.state == "completed"
    assert instance.steps.get(step_id="call").outcome == "task_deleted"


def test_only_process_managers_cancel_an_instance(people) -> None:
    definition = process(
        people["owner"], {"trigger": {"type": "manual", "record_type": "deal"}, "steps": [task_step(wait=True)]}
    )
    instance = engine.manual_start(
        actor=people["owner"], definition=definition, record=DealFactory(), record_type="deal"
    )
    with pytest.raises(PermissionDenied):
        engine.instance_cancel(actor=people["managers"][0], instance=instance, reason="no")
    assert Instance.objects.get(pk=instance.pk).state == "running"
    engine.instance_cancel(actor=people["head"], instance=instance, reason="Not needed")
    instance.refresh_from_db()
    assert instance.state == "cancelled"
    assert LogEntry.objects.get(instance=instance, action="cancelled").actor_id == people["head"].pk
    with pytest.raises(ValidationError):
        engine.instance_cancel(actor=people["head"], instance=instance)


# --- isolation ---------------------------------------------------------------------------------------------


def test_workspaces_run_their_own_processes_and_timers_only(workspace, other_workspace) -> None:
    with tenant_context(workspace.tenant):
        mine = process(
            workspace.owner,
            {
                "trigger": {"type": "record_created", "record_type": "lead"},
                "steps": [{"id": "w", "type": "wait", "duration": {"hours": 1}}],
            },
        )
    with tenant_context(other_workspace.tenant):
        LeadFactory()
        lead_create(actor=other_workspace.owner, data={"title": "Theirs"})
        deliver()
        assert not Instance.objects.exists()
        assert timers.fire_due(now=timezone.now() + datetime.timedelta(hours=2)).fired == 0
    with tenant_context(workspace.tenant):
        lead_create(actor=workspace.owner, data={"title": "Mine"})
        deliver()
        assert only_instance(mine).state == "running"
        assert timers.fire_due(now=timezone.now() + datetime.timedelta(hours=2)).fired == 1
        assert only_instance(mine).state == "completed"


def test_the_due_set_names_workspaces_and_is_rebuilt_after_a_loss(
    workspace, django_capture_on_commit_callbacks
) -> None:
    timers._redis().delete(timers.DUE_KEY, "kontor:processes:due:built")
    with tenant_context(workspace.tenant):
        definition = process(
            workspace.owner,
            {
                "trigger": {"type": "manual", "record_type": "deal"},
                "steps": [{"id": "w", "type": "wait", "duration": {"hours": 5}}],
            },
        )
        with django_capture_on_commit_callbacks(execute=True):
            engine.manual_start(actor=workspace.owner, definition=definition, record=DealFactory(), record_type="deal")
    far = timezone.now().timestamp() + 6 * 3600
    assert workspace.schema in timers.due_schemas(now=far)
    assert workspace.schema not in timers.due_schemas(now=timezone.now().timestamp())
    timers._redis().delete(timers.DUE_KEY, "kontor:processes:due:built")
    assert workspace.schema in timers.due_schemas(now=far)  # rebuilt from the workspaces


def test_waits_until_a_date_of_the_record_and_until_a_task_is_done(people) -> None:
    from crm.customfields.models import CustomField

    CustomField.objects.create(record_type="deal", key="delivery", label="Delivery", field_type="date")
    definition = process(
        people["owner"],
        {
            "trigger": {"type": "manual", "record_type": "deal"},
            "steps": [
                task_step(title="Prepare the delivery"),
                {"id": "until_delivery", "type": "wait", "until_field": "cf:delivery", "offset": {"days": 1}},
                {"id": "until_prepared", "type": "wait", "until_task": "call"},
                {"id": "tell", "type": "notify", "to": {"to": "owner"}, "text": "Delivered and prepared"},
            ],
        },
    )
    delivery = (timezone.now() + datetime.timedelta(days=10)).date()
    deal = DealFactory(owner=people["managers"][0], custom_fields={"delivery": delivery.isoformat()})
    instance = engine.manual_start(actor=people["owner"], definition=definition, record=deal, record_type="deal")
    waiting = active_step(instance)
    assert waiting.step_id == "until_delivery" and waiting.due_at.date() == delivery + datetime.timedelta(days=1)
    assert later(days=12).fired == 1
    # The delivery day passed; the task of the first step is still open: the process waits for it.
    assert active_step(only_instance(definition)).step_id == "until_prepared"
    task = Activity.objects.get(deal=deal, subject="Prepare the delivery")
    activity_set_done(actor=people["managers"][0], activity=task, done=True)
    deliver()
    assert only_instance(definition).state == "completed"
    assert Notification.objects.filter(text="Delivered and prepared").count() == 1
