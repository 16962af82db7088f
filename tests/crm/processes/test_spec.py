"""The draft format: validation of every trigger and step type, normalization, descriptions, registered steps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from crm.customfields.services import custom_field_create
from crm.deals.models import Pipeline, Stage
from crm.processes import spec
from crm.processes.spec import (
    STEP_TYPES,
    TRIGGER_TYPES,
    definition_errors,
    normalize,
    step_describe,
    step_type_choices,
    step_validator_register,
    trigger_describe,
)
from tenants.accounts.models import Role, Team
from tests.factories import PipelineFactory, UserFactory


@pytest.fixture(autouse=True)
def _only_our_own_step_checks() -> Iterator[None]:
    """The draft format as this package checks it: without what upper layers register at start-up (the
    integration layer's webhook check, tested with it)."""
    saved = dict(spec.extra_step_types)
    spec.extra_step_types.clear()
    yield
    spec.extra_step_types.clear()
    spec.extra_step_types.update(saved)


def task(step_id: str = "s1", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "task", "title": "Call the client", "assign": {"to": "owner"}, **extra}


def draft(trigger: dict[str, Any] | None = None, *steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "trigger": trigger or {"type": "record_created", "record_type": "deal"},
        "steps": list(steps) or [task()],
    }


def keys(d: dict[str, Any]) -> set[str]:
    return set(definition_errors(d))


@pytest.fixture
def ws(in_workspace):
    team = Team.objects.create(name="Sales", head=in_workspace.owner)
    pipeline = Pipeline.objects.order_by("position", "id").first()
    other = PipelineFactory()
    custom_field_create(actor=in_workspace.owner, record_type="deal", label="Warranty ends", field_type="date")
    custom_field_create(actor=in_workspace.owner, record_type="deal", label="Rate", field_type="number")
    return {
        "owner": in_workspace.owner,
        "team": team,
        "pipeline": pipeline,
        "stage": pipeline.stages.filter(outcome="open").order_by("position").first(),
        "won": pipeline.stages.get(outcome="won"),
        "other_stage": other.stages.first(),
        "role": Role.objects.order_by("pk").first(),
    }


def test_labels_for_the_editor() -> None:
    assert [t for t, _label in TRIGGER_TYPES] == [
        "record_created",
        "record_updated",
        "stage_entered",
        "date",
        "schedule",
        "form",
        "call",
        "manual",
    ]
    assert {t for t, _label in STEP_TYPES} == set(spec.STEP_KEYS)
    assert all(str(label) for _t, label in (*TRIGGER_TYPES, *STEP_TYPES))


# --- triggers ---------------------------------------------------------------------------------------------------


def test_valid_triggers(ws) -> None:
    valid = [
        {"type": "record_created", "record_type": "lead", "condition": {"field": "source", "op": "eq", "value": "web"}},
        {"type": "record_updated", "record_type": "deal", "fields": ["amount", "cf:rate"]},
        {"type": "record_updated", "record_type": "company", "fields": []},
        {"type": "stage_entered", "pipeline": ws["pipeline"].pk, "stage": ws["won"].pk, "outcome": "won"},
        {"type": "stage_entered", "record_type": "deal", "stage": None, "outcome": "lost"},
        {"type": "date", "record_type": "deal", "field": "closed_at", "offset": {"months": 11}, "at": "09:00"},
        {"type": "date", "record_type": "deal", "field": "cf:warranty_ends", "offset": {"days": -30}},
        {"type": "schedule", "every": "day", "at": "09:00"},
        {"type": "schedule", "every": "week", "at": "18:30", "weekday": 4},
        {"type": "schedule", "every": "month", "at": "00:00", "day": 28},
        {"type": "form", "connection": "abc123", "condition": None},
        {"type": "form", "record_type": "lead", "connection": None},
        {"type": "call", "direction": "inbound", "missed": True},
        {"type": "call", "direction": None},
        {"type": "manual", "record_type": "contact"},
    ]
    for trigger in valid:
        steps = [{"id": "n", "type": "notify", "to": {"to": "user", "user": ws["owner"].pk}, "text": "Hi"}]
        assert definition_errors({"trigger": trigger, "steps": steps}) == {}, trigger


@pytest.mark.parametrize(
    ("trigger", "key"),
    [
        (None, "trigger"),
        ("record_created", "trigger"),
        ({"type": "nope"}, "trigger.type"),
        ({"type": "record_created"}, "trigger.record_type"),
        ({"type": "record_created", "record_type": "activity"}, "trigger.record_type"),
        ({"type": "record_created", "record_type": "deal", "extra": 1}, "trigger"),
        (
            {"type": "record_created", "record_type": "deal", "condition": {"field": "x", "op": "eq", "value": 1}},
            "trigger.condition",
        ),
        ({"type": "record_updated", "record_type": "deal", "fields": ["nope"]}, "trigger.fields"),
        ({"type": "record_updated", "record_type": "deal", "fields": "amount"}, "trigger.fields"),
        ({"type": "record_updated", "record_type": "lead", "fields": ["cf:rate"]}, "trigger.fields"),
        ({"type": "stage_entered", "record_type": "lead"}, "trigger.record_type"),
        ({"type": "stage_entered", "stage": 999999}, "trigger.stage"),
        ({"type": "stage_entered", "stage": "1"}, "trigger.stage"),
        ({"type": "stage_entered", "pipeline": 999999}, "trigger.pipeline"),
        ({"type": "stage_entered", "outcome": "open"}, "trigger.outcome"),
        ({"type": "date", "record_type": "deal", "field": "title"}, "trigger.field"),
        ({"type": "date", "record_type": "deal", "field": "closed_at", "offset": {"years": 1}}, "trigger.offset"),
        ({"type": "date", "record_type": "deal", "field": "closed_at", "offset": {"months": 121}}, "trigger.offset"),
        ({"type": "date", "record_type": "deal", "field": "closed_at", "offset": {"days": 1.5}}, "trigger.offset"),
        (
            {"type": "date", "record_type": "deal", "field": "closed_at", "offset": {"days": 1, "months": 1}},
            "trigger.offset",
        ),
        ({"type": "date", "record_type": "deal", "field": "closed_at", "at": "25:00"}, "trigger.at"),
        ({"type": "date", "record_type": "deal", "field": "closed_at", "at": "9:00"}, "trigger.at"),
        ({"type": "schedule", "every": "hour", "at": "09:00"}, "trigger.every"),
        ({"type": "schedule", "every": "day"}, "trigger.at"),
        ({"type": "schedule", "every": "week", "at": "09:00"}, "trigger.weekday"),
        ({"type": "schedule", "every": "week", "at": "09:00", "weekday": 7}, "trigger.weekday"),
        ({"type": "schedule", "every": "week", "at": "09:00", "weekday": True}, "trigger.weekday"),
        ({"type": "schedule", "every": "month", "at": "09:00", "day": 31}, "trigger.day"),
        ({"type": "schedule", "every": "day", "at": "09:00", "day": 3}, "trigger.day"),
        ({"type": "schedule", "every": "day", "at": "09:00", "record_type": "deal"}, "trigger.record_type"),
        ({"type": "schedule", "every": "day", "at": "09:00", "condition": {}}, "trigger"),
        ({"type": "form", "record_type": "deal"}, "trigger.record_type"),
        ({"type": "form", "connection": 5}, "trigger.connection"),
        ({"type": "form", "connection": "x\x00"}, "trigger.connection"),
        ({"type": "call", "direction": "sideways"}, "trigger.direction"),
        ({"type": "call", "missed": "yes"}, "trigger.missed"),
        ({"type": "manual"}, "trigger.record_type"),
    ],
)
def test_invalid_triggers(ws, trigger: Any, key: str) -> None:
    steps = [{"id": "n", "type": "notify", "to": {"to": "user", "user": ws["owner"].pk}, "text": "Hi"}]
    errors = definition_errors({"trigger": trigger, "steps": steps})
    assert key in errors, errors
    assert all(isinstance(m, str) and m for m in errors[key])


def test_stage_entered_stage_must_match_pipeline_and_outcome(ws) -> None:
    steps = [task()]
    errors = definition_errors(
        {
            "trigger": {"type": "stage_entered", "pipeline": ws["pipeline"].pk, "stage": ws["other_stage"].pk},
            "steps": steps,
        }
    )
    assert "trigger.stage" in errors
    errors = definition_errors(
        {"trigger": {"type": "stage_entered", "stage": ws["won"].pk, "outcome": "lost"}, "steps": steps}
    )
    assert "trigger.outcome" in errors


# --- steps --------------------------------------------------------------------------------------------------------


def test_valid_steps_of_every_type(ws) -> None:
    owner, team, stage = ws["owner"], ws["team"], ws["stage"]
    member = UserFactory()
    steps = [
        task(
            "call",
            name="Call",
            body="Ask about {record.title}",
            deadline={"minutes": 15, "working": True},
            wait=True,
            escalate={"to": "team_head", "notify": ["owner", "assignee"]},
        ),
        task("t2", assign={"to": "round_robin", "team": team.pk}, deadline={"days": 2}),
        task(
            "t3",
            assign={"to": "user", "user": member.pk},
            escalate={"to": "user", "user": owner.pk},
            deadline={"hours": 4},
        ),
        task("t4", assign={"to": "team_head", "team": team.pk}),
        task("t5", assign={"to": "team_head"}),
        task("t6", assign={"to": "starter"}),
        {"id": "set", "type": "set_field", "field": "cf:rate", "value": "15,5"},
        {"id": "set2", "type": "set_field", "field": "expected_close_date", "value": "2027-01-31"},
        {"id": "set3", "type": "set_field", "field": "lost_reason", "value": ""},
        {"id": "move", "type": "move_stage", "stage": stage.pk},
        {
            "id": "mail",
            "type": "email",
            "to": "contact",
            "subject": "About {record.title}",
            "body": "Dear {contact.name}, {owner.name}",
        },
        {
            "id": "mail2",
            "type": "email",
            "to": "address",
            "address": "ops@example.com",
            "subject": "Hi",
            "body": "{record.cf:rate}",
        },
        {"id": "ping", "type": "notify", "to": {"to": "owner"}, "text": "Deal {record.title} of {record.amount}"},
        {"id": "ping2", "type": "notify", "to": {"to": "approvers"}, "text": "Decide"},
        {"id": "hook", "type": "webhook", "connection": "c0ffee"},
        {"id": "w1", "type": "wait", "duration": {"months": 11}},
        {"id": "w2", "type": "wait", "duration": {"hours": 8, "working": True}},
        {"id": "w3", "type": "wait", "until_field": "cf:warranty_ends", "offset": {"days": -30}},
        {"id": "w4", "type": "wait", "until": "2027-01-31T09:00"},
        {"id": "w5", "type": "wait", "until_task": "call"},
        {
            "id": "ok",
            "type": "approval",
            "approvers": {"to": "users", "users": [owner.pk, member.pk]},
            "mode": "all",
            "timeout": {"days": 1, "working": True},
            "on_reject": "call",
            "on_timeout": "end",
            "hold": True,
        },
        {"id": "ok2", "type": "approval", "approvers": {"to": "team_head"}},
        {"id": "ok3", "type": "approval", "approvers": {"to": "role", "role": ws["role"].pk}, "mode": "any"},
        {
            "id": "br",
            "type": "branch",
            "condition": {"any": [{"field": "discount_percent", "op": "gt", "value": "15"}]},
            "then": "ok",
            "else": "end",
        },
        task("last", next="end"),
    ]
    assert definition_errors({"trigger": {"type": "record_created", "record_type": "deal"}, "steps": steps}) == {}
    # The same after normalization (defaults filled in).
    assert (
        definition_errors(normalize({"trigger": {"type": "record_created", "record_type": "deal"}, "steps": steps}))
        == {}
    )


@pytest.mark.parametrize(
    ("step", "key"),
    [
        ({"id": "s1"}, "steps.0.type"),
        ({"id": "s1", "type": "dance"}, "steps.0.type"),
        ({"id": "S1", "type": "task", "title": "x", "assign": {"to": "owner"}}, "steps.0.id"),
        ({"id": "end", "type": "task", "title": "x", "assign": {"to": "owner"}}, "steps.0.id"),
        ({"id": "a" * 33, "type": "task", "title": "x", "assign": {"to": "owner"}}, "steps.0.id"),
        ({"id": 1, "type": "task", "title": "x", "assign": {"to": "owner"}}, "steps.0.id"),
        ({**task(), "color": "red"}, "steps.0"),
        ({**task(), "name": "x" * 151}, "steps.0.name"),
        ({**task(), "next": "nowhere"}, "steps.0.next"),
        ({**task(), "title": ""}, "steps.0.title"),
        ({**task(), "title": "   "}, "steps.0.title"),
        ({**task(), "title": "x" * 256}, "steps.0.title"),
        ({**task(), "title": "a\x00b"}, "steps.0.title"),
        ({**task(), "title": 5}, "steps.0.title"),
        ({**task(), "body": "x" * 20001}, "steps.0.body"),
        ({**task(), "assign": "owner"}, "steps.0.assign"),
        ({**task(), "assign": {"to": "boss"}}, "steps.0.assign.to"),
        ({**task(), "assign": {"to": "user"}}, "steps.0.assign.user"),
        ({**task(), "assign": {"to": "user", "user": 999999}}, "steps.0.assign.user"),
        ({**task(), "assign": {"to": "user", "user": True}}, "steps.0.assign.user"),
        ({**task(), "assign": {"to": "round_robin"}}, "steps.0.assign.team"),
        ({**task(), "assign": {"to": "round_robin", "team": 999999}}, "steps.0.assign.team"),
        ({**task(), "assign": {"to": "owner", "team": 1}}, "steps.0.assign.team"),
        ({**task(), "assign": {"to": "approvers"}}, "steps.0.assign.to"),
        ({**task(), "deadline": {"minutes": 0}}, "steps.0.deadline"),
        ({**task(), "deadline": {"minutes": -5}}, "steps.0.deadline"),
        ({**task(), "deadline": {"days": 3661}}, "steps.0.deadline"),
        ({**task(), "deadline": {"months": 1}}, "steps.0.deadline"),
        ({**task(), "deadline": {"minutes": "15"}}, "steps.0.deadline"),
        ({**task(), "deadline": {"minutes": 15, "working": "yes"}}, "steps.0.deadline"),
        ({**task(), "deadline": {}}, "steps.0.deadline"),
        ({**task(), "deadline": 15}, "steps.0.deadline"),
        ({**task(), "wait": "yes"}, "steps.0.wait"),
        ({**task(), "escalate": {"to": "team_head"}}, "steps.0.escalate"),  # no deadline
        ({**task(), "deadline": {"hours": 1}, "escalate": {"to": "nobody"}}, "steps.0.escalate.to"),
        ({**task(), "deadline": {"hours": 1}, "escalate": {"to": "user"}}, "steps.0.escalate.user"),
        (
            {**task(), "deadline": {"hours": 1}, "escalate": {"to": "team_head", "notify": ["ceo"]}},
            "steps.0.escalate.notify",
        ),
        (
            {**task(), "deadline": {"hours": 1}, "escalate": {"to": "team_head", "notify": [{}]}},
            "steps.0.escalate.notify",
        ),
        ({"id": "s1", "type": "set_field", "field": "stage", "value": "1"}, "steps.0.field"),
        ({"id": "s1", "type": "set_field", "field": "nope", "value": "1"}, "steps.0.field"),
        ({"id": "s1", "type": "set_field", "field": "amount", "value": "lots"}, "steps.0.value"),
        ({"id": "s1", "type": "set_field", "field": "amount", "value": 5}, "steps.0.value"),
        ({"id": "s1", "type": "set_field", "field": "cf:rate", "value": "ten"}, "steps.0.value"),
        ({"id": "s1", "type": "set_field", "field": "title", "value": "x" * 1001}, "steps.0.value"),
        ({"id": "s1", "type": "move_stage", "stage": 999999}, "steps.0.stage"),
        ({"id": "s1", "type": "move_stage"}, "steps.0.stage"),
        ({"id": "s1", "type": "email", "to": "boss", "subject": "a", "body": "b"}, "steps.0.to"),
        ({"id": "s1", "type": "email", "to": "address", "subject": "a", "body": "b"}, "steps.0.address"),
        (
            {"id": "s1", "type": "email", "to": "address", "address": "nope", "subject": "a", "body": "b"},
            "steps.0.address",
        ),
        (
            {"id": "s1", "type": "email", "to": "owner", "address": "a@b.c", "subject": "a", "body": "b"},
            "steps.0.address",
        ),
        ({"id": "s1", "type": "email", "to": "owner", "body": "b"}, "steps.0.subject"),
        ({"id": "s1", "type": "email", "to": "owner", "subject": "a"}, "steps.0.body"),
        ({"id": "s1", "type": "email", "to": "owner", "subject": "{record.nope}", "body": "b"}, "steps.0.subject"),
        ({"id": "s1", "type": "email", "to": "owner", "subject": "a", "body": "Hello {owner.name"}, "steps.0.body"),
        ({"id": "s1", "type": "email", "to": "owner", "subject": "a", "body": "{{record.title}}"}, "steps.0.body"),
        ({"id": "s1", "type": "email", "to": "owner", "subject": "a", "body": "{__import__('os')}"}, "steps.0.body"),
        ({"id": "s1", "type": "notify", "to": {"to": "owner"}, "text": "x" * 501}, "steps.0.text"),
        ({"id": "s1", "type": "notify", "to": {"to": "owner"}}, "steps.0.text"),
        ({"id": "s1", "type": "notify", "to": {"to": "approvers"}, "text": "x"}, "steps.0.to.to"),
        ({"id": "s1", "type": "notify", "to": {"to": "owner"}, "text": "{record.nope}"}, "steps.0.text"),
        ({"id": "s1", "type": "webhook"}, "steps.0.connection"),
        ({"id": "s1", "type": "webhook", "connection": "x" * 65}, "steps.0.connection"),
        ({"id": "s1", "type": "wait"}, "steps.0"),
        ({"id": "s1", "type": "wait", "duration": {"days": 1}, "until": "2027-01-01T09:00"}, "steps.0"),
        ({"id": "s1", "type": "wait", "duration": {"days": 0}}, "steps.0.duration"),
        ({"id": "s1", "type": "wait", "duration": {"months": 121}}, "steps.0.duration"),
        ({"id": "s1", "type": "wait", "duration": {"months": 1, "working": True}}, "steps.0.duration"),
        ({"id": "s1", "type": "wait", "duration": {"days": 1}, "offset": {"days": 1}}, "steps.0.offset"),
        ({"id": "s1", "type": "wait", "until_field": "title"}, "steps.0.until_field"),
        ({"id": "s1", "type": "wait", "until_field": "cf:rate"}, "steps.0.until_field"),
        ({"id": "s1", "type": "wait", "until_field": "closed_at", "offset": {"weeks": 1}}, "steps.0.offset"),
        ({"id": "s1", "type": "wait", "until": "tomorrow"}, "steps.0.until"),
        ({"id": "s1", "type": "wait", "until": "9999-12-31T09:00"}, "steps.0.until"),
        ({"id": "s1", "type": "wait", "until": "2027-01-01T09:00+15:00"}, "steps.0.until"),
        ({"id": "s1", "type": "wait", "until_task": "s1"}, "steps.0.until_task"),
        ({"id": "s1", "type": "wait", "until_task": "nope"}, "steps.0.until_task"),
        ({"id": "s1", "type": "approval"}, "steps.0.approvers"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "god"}}, "steps.0.approvers.to"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "users"}}, "steps.0.approvers.users"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "users", "users": []}}, "steps.0.approvers.users"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "users", "users": [999999]}}, "steps.0.approvers.users"),
        (
            {"id": "s1", "type": "approval", "approvers": {"to": "users", "users": list(range(1, 52))}},
            "steps.0.approvers.users",
        ),
        ({"id": "s1", "type": "approval", "approvers": {"to": "role"}}, "steps.0.approvers.role"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "role", "role": 999999}}, "steps.0.approvers.role"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "team_head", "team": 999999}}, "steps.0.approvers.team"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "team_head"}, "mode": "most"}, "steps.0.mode"),
        (
            {"id": "s1", "type": "approval", "approvers": {"to": "team_head"}, "timeout": {"days": -1}},
            "steps.0.timeout",
        ),
        (
            {"id": "s1", "type": "approval", "approvers": {"to": "team_head"}, "on_reject": "nowhere"},
            "steps.0.on_reject",
        ),
        ({"id": "s1", "type": "approval", "approvers": {"to": "team_head"}, "on_timeout": "s1"}, "steps.0.on_timeout"),
        ({"id": "s1", "type": "approval", "approvers": {"to": "team_head"}, "hold": "yes"}, "steps.0.hold"),
        ({"id": "s1", "type": "branch", "then": "end", "else": "end"}, "steps.0.condition"),
        (
            {
                "id": "s1",
                "type": "branch",
                "condition": {"field": "amount", "op": "gt", "value": "x"},
                "then": "end",
                "else": "end",
            },
            "steps.0.condition",
        ),
        (
            {"id": "s1", "type": "branch", "condition": {"field": "amount", "op": "gt", "value": 1}, "else": "end"},
            "steps.0.then",
        ),
        (
            {
                "id": "s1",
                "type": "branch",
                "condition": {"field": "amount", "op": "gt", "value": 1},
                "then": "end",
                "else": 5,
            },
            "steps.0.else",
        ),
        (
            {
                "id": "s1",
                "type": "branch",
                "condition": {"field": "amount", "op": "gt", "value": 1},
                "then": "end",
                "else": "end",
                "next": "end",
            },
            "steps.0",
        ),
    ],
)
def test_invalid_steps(ws, step: dict[str, Any], key: str) -> None:
    errors = definition_errors(draft(None, step))
    assert key in errors, errors
    assert all(isinstance(m, str) and m for m in errors[key])


def test_steps_list_ids_and_targets(ws) -> None:
    assert "steps" in definition_errors({"trigger": {"type": "manual", "record_type": "deal"}, "steps": []})
    assert "steps" in definition_errors({"trigger": {"type": "manual", "record_type": "deal"}})
    assert "steps" in definition_errors({"trigger": {"type": "manual", "record_type": "deal"}, "steps": {"a": 1}})
    too_many = [task(f"s{i}") for i in range(101)]
    assert "steps" in definition_errors(draft(None, *too_many))
    assert definition_errors(draft(None, *[task(f"s{i}") for i in range(100)])) == {}
    errors = definition_errors(draft(None, task("a"), task("a")))
    assert set(errors) == {"steps.1.id"}
    assert "steps.1" in definition_errors(draft(None, task("a"), "b"))  # type: ignore[arg-type]
    # Targets may point backwards and forwards.
    back = {
        "id": "br",
        "type": "branch",
        "condition": {"field": "amount", "op": "gt", "value": 1},
        "then": "a",
        "else": "end",
    }
    assert definition_errors(draft(None, task("a", wait=True), back)) == {}


def test_a_loop_that_never_waits_is_refused(ws) -> None:
    loop = {
        "id": "br",
        "type": "branch",
        "condition": {"field": "amount", "op": "gt", "value": 1},
        "then": "a",
        "else": "end",
    }
    errors = definition_errors(draft(None, task("a"), loop))
    assert "steps" in errors and "a" in errors["steps"][0] and "br" in errors["steps"][0]
    self_loop = {**task("a"), "next": "a"}
    assert "steps" in definition_errors(draft(None, self_loop))
    # A waiting step on the loop makes it fine (a reminder every day until something changes).
    waiting = [{"id": "w", "type": "wait", "duration": {"days": 1}}, task("a"), {**loop, "then": "w"}]
    assert definition_errors(draft(None, *waiting)) == {}


def test_whole_draft_odd_input(ws) -> None:
    assert set(definition_errors("nope")) == {"__all__"}  # type: ignore[arg-type]
    assert set(definition_errors([])) == {"__all__"}  # type: ignore[arg-type]
    assert "__all__" in definition_errors({**draft(), "extra": 1})
    assert set(definition_errors({**draft(), "steps": [{**task(), "title": {1, 2}}]})) == {"__all__"}
    assert set(definition_errors({**draft(), "steps": [{**task(), "title": float("inf")}]})) == {"__all__"}
    deep: Any = "x"
    for _ in range(50):
        deep = [deep]
    assert "__all__" in definition_errors({**draft(), "deep": deep})
    errors = definition_errors({"trigger": {"type": "record_created", "record_type": "deal\x00"}, "steps": [task()]})
    assert "trigger.record_type" in errors
    errors = definition_errors(draft(None, {**task(), "na\x00me": 1}))
    assert "steps.0" in errors and "\x00" not in errors["steps.0"][0]


def test_record_specific_steps_against_the_trigger(ws) -> None:
    lead = {"type": "record_created", "record_type": "lead"}
    assert "steps.0.stage" in definition_errors(draft(lead, {"id": "m", "type": "move_stage", "stage": ws["stage"].pk}))
    assert "steps.0.field" in definition_errors(
        draft(lead, {"id": "s", "type": "set_field", "field": "cf:rate", "value": "1"})
    )
    assert "steps.0.hold" in definition_errors(
        draft(lead, {"id": "a", "type": "approval", "approvers": {"to": "team_head"}, "hold": True})
    )
    in_pipeline = {"type": "stage_entered", "pipeline": ws["pipeline"].pk}
    assert "steps.0.stage" in definition_errors(
        draft(in_pipeline, {"id": "m", "type": "move_stage", "stage": ws["other_stage"].pk})
    )
    assert definition_errors(draft(in_pipeline, {"id": "m", "type": "move_stage", "stage": ws["stage"].pk})) == {}
    schedule = {"type": "schedule", "every": "day", "at": "09:00"}
    assert "steps.0.assign.to" in definition_errors(draft(schedule, task()))
    assert "steps.0.assign.team" in definition_errors(draft(schedule, task(assign={"to": "team_head"})))
    assert definition_errors(draft(schedule, task(assign={"to": "team_head", "team": ws["team"].pk}))) == {}
    assert "steps.0.to" in definition_errors(
        draft(schedule, {"id": "e", "type": "email", "to": "owner", "subject": "a", "body": "b"})
    )
    assert "steps.0.body" in definition_errors(
        draft(
            schedule,
            {
                "id": "e",
                "type": "email",
                "to": "address",
                "address": "a@example.com",
                "subject": "a",
                "body": "{record.title}",
            },
        )
    )
    assert "steps.0.field" in definition_errors(
        draft(schedule, {"id": "s", "type": "set_field", "field": "title", "value": "x"})
    )
    assert "steps.0.condition" in definition_errors(
        draft(
            schedule,
            {"id": "b", "type": "branch", "condition": {"field": "title", "op": "empty"}, "then": "end", "else": "end"},
        )
    )


def test_deactivated_users_and_other_workspaces_rows_are_refused(other_workspace, in_workspace) -> None:
    gone = UserFactory(is_active=False)
    assert "steps.0.assign.user" in definition_errors(draft(None, task(assign={"to": "user", "user": gone.pk})))
    from django_tenants.utils import tenant_context

    with tenant_context(other_workspace.tenant):
        foreign_team = Team.objects.create(name="Theirs")
        foreign_user = UserFactory()
    # Ids from another workspace are unknown here (unless a row of the same id exists here, which the check reads).
    if not Team.objects.filter(pk=foreign_team.pk).exists():
        assert "steps.0.assign.team" in definition_errors(
            draft(None, task(assign={"to": "round_robin", "team": foreign_team.pk}))
        )
    if not in_workspace.owner.__class__.objects.filter(pk=foreign_user.pk).exists():
        assert "steps.0.assign.user" in definition_errors(
            draft(None, task(assign={"to": "user", "user": foreign_user.pk}))
        )


# --- normalize ------------------------------------------------------------------------------------------------------


def test_normalize_strips_and_fills_defaults(ws) -> None:
    raw = {
        "trigger": {"type": "stage_entered", "pipeline": str(ws["pipeline"].pk), "condition": {}},
        "steps": [
            {"id": " s1 ", "type": "task", "title": "  Call  ", "assign": "owner", "deadline": {"minutes": 15}},
            {"id": "a", "type": "approval", "approvers": {"to": "users", "users": [str(ws["owner"].pk)]}},
            {"id": "n", "type": "notify", "to": "approvers", "text": " decide "},
            {"id": "w", "type": "wait", "duration": {"days": 1}},
        ],
    }
    result = normalize(raw)
    assert result["trigger"] == {
        "type": "stage_entered",
        "pipeline": ws["pipeline"].pk,
        "record_type": "deal",
        "stage": None,
        "outcome": None,
        "condition": None,
    }
    s1, approval, notify, wait = result["steps"]
    assert s1["id"] == "s1" and s1["title"] == "Call" and s1["assign"] == {"to": "owner"} and s1["wait"] is False
    assert s1["deadline"] == {"minutes": 15, "working": False}
    assert approval["mode"] == "any" and approval["on_reject"] == "end" and approval["on_timeout"] == "end"
    assert approval["hold"] is False and approval["approvers"]["users"] == [ws["owner"].pk]
    assert notify["to"] == {"to": "approvers"} and notify["text"] == "decide"
    assert wait["duration"] == {"days": 1, "working": False}
    assert definition_errors(result) == {}
    assert raw["steps"][0]["title"] == "  Call  "  # the input is left as it was
    assert normalize("garbage") == {"trigger": {}, "steps": []}  # type: ignore[arg-type]
    assert normalize({}) == {"trigger": {}, "steps": []}


# --- registered step types --------------------------------------------------------------------------------------------


def test_registered_validators_and_step_types(ws) -> None:
    def known_connection(step: dict[str, Any]) -> list[str]:
        return [] if step.get("connection") == "good" else ["There is no such outgoing webhook."]

    def sms(step: dict[str, Any]) -> list[str]:
        return [] if step.get("phone") else ["Give a phone."]

    saved = dict(spec.extra_step_types)
    try:
        step_validator_register("webhook", known_connection, field="connection")
        step_validator_register("webhook", known_connection, field="connection")  # twice: harmless
        assert spec.extra_step_types["webhook"].validators == [known_connection]
        assert definition_errors(draft(None, {"id": "h", "type": "webhook", "connection": "good"})) == {}
        errors = definition_errors(draft(None, {"id": "h", "type": "webhook", "connection": "bad"}))
        assert errors == {"steps.0.connection": ["There is no such outgoing webhook."]}

        assert "steps.0.type" in definition_errors(draft(None, {"id": "x", "type": "sms", "phone": "1"}))
        step_validator_register(
            "sms", sms, label="Send an SMS", keys={"phone"}, describe=lambda s: f"SMS to {s['phone']}"
        )
        assert ("sms", "Send an SMS") in step_type_choices()
        assert definition_errors(draft(None, {"id": "x", "type": "sms", "phone": "1"})) == {}
        assert definition_errors(draft(None, {"id": "x", "type": "sms"})) == {"steps.0": ["Give a phone."]}
        assert step_describe({"id": "x", "type": "sms", "phone": "+7"}, "deal") == "SMS to +7"
    finally:
        spec.extra_step_types.clear()
        spec.extra_step_types.update(saved)
    assert "sms" not in dict(step_type_choices())


# --- descriptions ----------------------------------------------------------------------------------------------------


def test_step_describe(ws) -> None:
    owner, team = ws["owner"], ws["team"]
    with translation.override("en"):
        line = step_describe(
            task(
                title="Call the client",
                deadline={"minutes": 15, "working": True},
                escalate={"to": "team_head"},
            ),
            "deal",
        )
        assert (
            line
            == "Task “Call the client” for the record's owner, due in 15 working minutes; escalate to the team head"
        )
        assert step_describe(task(assign={"to": "round_robin", "team": team.pk}, deadline={"days": 1}), "lead") == (
            "Task “Call the client” for Sales in turn, due in 1 day"
        )
        assert step_describe(task(assign={"to": "user", "user": owner.pk}, wait=True), "deal") == (
            f"Task “Call the client” for {owner.full_name or owner.email}; waits until it is done"
        )
        assert step_describe({"type": "set_field", "field": "cf:rate", "value": "5"}, "deal") == "Set Rate to “5”"
        assert step_describe({"type": "set_field", "field": "status", "value": "in_progress"}, "lead") == (
            "Set Status to “In progress”"
        )
        stage = ws["stage"]
        assert step_describe({"type": "move_stage", "stage": stage.pk}, "deal") == (
            f"Move the deal to {stage.pipeline.name} / {stage.name}"
        )
        assert step_describe({"type": "move_stage", "stage": 999999}, "deal") == "Move the deal to (no such stage)"
        assert (
            step_describe({"type": "email", "to": "contact", "subject": "Offer"}, "deal")
            == "Email “Offer” to the contact"
        )
        assert step_describe({"type": "notify", "to": {"to": "team_head"}, "text": "Hi"}, "deal") == (
            "Notify the owner's team head: “Hi”"
        )
        assert step_describe({"type": "webhook", "connection": "abc"}, "deal") == "Call the webhook abc"
        assert step_describe({"type": "wait", "duration": {"months": 11}}, "deal") == "Wait 11 months"
        assert step_describe({"type": "wait", "until_field": "cf:warranty_ends", "offset": {"days": -30}}, "deal") == (
            "Wait until 30 days before Warranty ends"
        )
        assert (
            step_describe({"type": "wait", "until_task": "call"}, "deal") == "Wait until the task of step call is done"
        )
        assert step_describe(
            {
                "type": "approval",
                "approvers": {"to": "team_head"},
                "mode": "any",
                "timeout": {"hours": 4, "working": True},
                "on_reject": "end",
                "on_timeout": "s2",
                "hold": True,
            },
            "deal",
        ) == (
            "Approval by the owner's team head (any of them), within 4 working hours; if rejected, go to the end; "
            "without a decision, go to step s2; the deal keeps its stage meanwhile"
        )
        assert (
            step_describe(
                {
                    "type": "branch",
                    "condition": {"field": "discount_percent", "op": "gt", "value": "15"},
                    "then": "a",
                    "else": "end",
                },
                "deal",
            )
            == "If Discount, % greater than 15, go to step a, else to the end"
        )
        assert step_describe({"type": "nonsense"}, "deal") == "nonsense"


def test_trigger_describe(ws) -> None:
    with translation.override("en"):
        assert trigger_describe({"type": "record_created", "record_type": "lead"}) == "When a lead is created"
        assert (
            trigger_describe(
                {
                    "type": "record_created",
                    "record_type": "lead",
                    "condition": {"field": "source", "op": "eq", "value": "Website"},
                }
            )
            == "When a lead is created, if Source is Website"
        )
        assert trigger_describe({"type": "record_updated", "record_type": "deal", "fields": ["amount"]}) == (
            "When a deal is changed (Amount)"
        )
        assert trigger_describe({"type": "stage_entered", "outcome": "won"}) == "When a deal is won"
        assert trigger_describe({"type": "stage_entered", "stage": ws["won"].pk}) == (
            f"When a deal enters {ws['pipeline'].name} / {ws['won'].name}"
        )
        assert trigger_describe(
            {"type": "date", "record_type": "deal", "field": "closed_at", "offset": {"months": 11}, "at": "09:00"}
        ) == ("11 months after Closed at 09:00")
        assert (
            trigger_describe({"type": "schedule", "every": "week", "weekday": 0, "at": "09:00"})
            == "Every Monday at 09:00"
        )
        assert trigger_describe({"type": "schedule", "every": "month", "day": 5, "at": "10:00"}) == (
            "On day 5 of every month at 10:00"
        )
        assert trigger_describe({"type": "form"}) == "When a website form creates a lead"
        assert trigger_describe({"type": "call", "missed": True}) == "When a call is missed"
        assert trigger_describe({"type": "manual", "record_type": "company"}) == "Started by hand from a company's card"
        assert trigger_describe({"type": "what"}) == "?"
        assert trigger_describe("nope") == "?"  # type: ignore[arg-type]


def test_stage_model_sanity(ws) -> None:
    assert Stage.objects.filter(pk=ws["stage"].pk, pipeline=ws["pipeline"]).exists()
