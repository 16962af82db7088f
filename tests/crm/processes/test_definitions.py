"""The definition services: create, edit the draft (an invalid one is refused, nothing changed), publish into
versions, turn on and off, delete, and install each shipped template."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.processes import editor, services, shipped
from crm.processes.models import Instance, ProcessDefinition, ProcessVersion
from tenants.accounts.models import AuditEvent, Team
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TASK = {"id": "call", "type": "task", "title": "Call", "assign": {"to": "owner"}, "wait": False}
DRAFT = {"trigger": {"type": "manual", "record_type": "deal"}, "steps": [TASK]}


def _draft(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"trigger": {"type": "manual", "record_type": "deal"}, "steps": [dict(s) for s in steps]}


def test_a_definition_is_created_inactive_with_a_default_draft_and_audited(in_workspace) -> None:
    owner = in_workspace.owner
    made = services.definition_create(actor=owner, name="  Onboarding  ")
    made.refresh_from_db()
    assert made.name == "Onboarding" and not made.is_active and made.current is None
    assert made.draft == {"trigger": {"type": "manual", "record_type": "deal"}, "steps": []}
    event = AuditEvent.objects.get(action=AuditEvent.Action.PROCESS_CREATED)
    assert event.target_id == str(made.pk) and event.actor == owner


def test_a_name_is_required_and_nothing_is_made_without_it(in_workspace) -> None:
    with pytest.raises(ValidationError) as caught:
        services.definition_create(actor=in_workspace.owner, name=" \x00 ")
    assert "name" in caught.value.message_dict
    assert not ProcessDefinition.objects.exists()


def test_a_sales_manager_may_not_create_or_change_definitions(in_workspace) -> None:
    made = services.definition_create(actor=in_workspace.owner, name="P", draft=DRAFT)
    manager = UserFactory()
    with pytest.raises(PermissionDenied):
        services.definition_create(actor=manager, name="Sneaky")
    for call in (
        lambda: services.definition_update(actor=manager, definition=made, data={"name": "X"}),
        lambda: services.definition_publish(actor=manager, definition=made),
        lambda: services.definition_set_active(actor=manager, definition=made, active=True),
        lambda: services.definition_delete(actor=manager, definition=made),
        lambda: services.template_install(actor=manager, key="new_web_lead"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    made.refresh_from_db()
    assert made.name == "P" and made.current is None and ProcessDefinition.objects.count() == 1


def test_an_invalid_draft_is_refused_with_the_specs_errors_and_nothing_changes(in_workspace) -> None:
    owner = in_workspace.owner
    made = services.definition_create(actor=owner, name="P", draft=DRAFT)
    twice = _draft(TASK, TASK)
    with pytest.raises(ValidationError) as caught:
        services.definition_update(actor=owner, definition=made, data={"name": "Renamed", "draft": twice})
    assert any(key.startswith("steps.1") for key in caught.value.message_dict)
    made.refresh_from_db()
    assert made.name == "P" and made.draft == DRAFT
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PROCESS_CHANGED).exists()
    for bad in (None, "text", {"trigger": {}}, {"trigger": {"type": "manual"}, "steps": "x"}):
        with pytest.raises(ValidationError):
            services.definition_update(actor=owner, definition=made, data={"draft": bad})
    made.refresh_from_db()
    assert made.draft == DRAFT


def test_an_edit_saves_only_what_changed_and_says_so_in_the_audit_log(in_workspace) -> None:
    owner = in_workspace.owner
    made = services.definition_create(actor=owner, name="P", draft=DRAFT)
    services.definition_update(actor=owner, definition=made, data={"name": "P", "description": "Why"})
    event = AuditEvent.objects.get(action=AuditEvent.Action.PROCESS_CHANGED)
    assert event.details == {"what": "edited", "fields": ["description"]}
    services.definition_update(actor=owner, definition=made, data={"name": "P"})
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PROCESS_CHANGED).count() == 1


def test_publishing_makes_versions_and_keeps_the_old_ones(in_workspace) -> None:
    owner = in_workspace.owner
    made = services.definition_create(actor=owner, name="P", draft=DRAFT)
    first = services.definition_publish(actor=owner, definition=made)
    assert (first.number, first.trigger_type, first.record_type) == (1, "manual", "deal")
    assert first.steps == [TASK] and first.published_by == owner
    # Unchanged: no new version.
    assert services.definition_publish(actor=owner, definition=made).pk == first.pk
    changed = _draft(TASK, {**TASK, "id": "again", "title": "Call again"})
    services.definition_update(actor=owner, definition=made, data={"draft": changed})
    second = services.definition_publish(actor=owner, definition=made)
    made.refresh_from_db()
    assert second.number == 2 and made.current == second
    first.refresh_from_db()
    assert first.steps == [TASK] and ProcessVersion.objects.filter(definition=made).count() == 2
    published = AuditEvent.objects.filter(action=AuditEvent.Action.PROCESS_CHANGED, details__what="published")
    assert sorted(e.details["version"] for e in published) == [1, 2]


def test_a_draft_without_steps_is_saved_but_not_published(in_workspace) -> None:
    made = services.definition_create(actor=in_workspace.owner, name="P")
    with pytest.raises(ValidationError) as caught:
        services.definition_publish(actor=in_workspace.owner, definition=made)
    assert "steps" in caught.value.message_dict
    assert not ProcessVersion.objects.exists()


def test_the_record_type_of_a_form_trigger_is_a_lead(in_workspace) -> None:
    draft = {"trigger": {"type": "form", "connection": None}, "steps": [TASK]}
    made = services.definition_create(actor=in_workspace.owner, name="P", draft=draft)
    version = services.definition_publish(actor=in_workspace.owner, definition=made)
    assert (version.trigger_type, version.record_type) == ("form", "lead")


def test_turning_on_needs_a_published_version_and_tells_the_listeners(in_workspace) -> None:
    owner = in_workspace.owner
    heard: list[tuple[int, bool]] = []
    services.DEFINITION_LISTENERS.append(lambda d: heard.append((d.pk, d.is_active)))
    try:
        made = services.definition_create(actor=owner, name="P", draft=DRAFT)
        with pytest.raises(ValidationError):
            services.definition_set_active(actor=owner, definition=made, active=True)
        made.refresh_from_db()
        assert not made.is_active and heard == []
        services.definition_publish(actor=owner, definition=made)
        services.definition_set_active(actor=owner, definition=made, active=True)
        made.refresh_from_db()
        assert made.is_active
        services.definition_set_active(actor=owner, definition=made, active=True)  # already on: nothing
        services.definition_set_active(actor=owner, definition=made, active=False)
        assert heard == [(made.pk, False), (made.pk, True), (made.pk, False)]
    finally:
        services.DEFINITION_LISTENERS.pop()
    whats = AuditEvent.objects.filter(action=AuditEvent.Action.PROCESS_CHANGED).values_list("details__what", flat=True)
    assert sorted(whats) == ["activated", "deactivated", "published"]


def _instance(definition: ProcessDefinition, state: str, key: str) -> Instance:
    return Instance.objects.create(
        definition=definition, version=definition.current, record_type="deal", record_id=1, state=state, start_key=key
    )


def test_a_definition_with_running_instances_is_not_deleted(in_workspace) -> None:
    owner = in_workspace.owner
    made = services.definition_create(actor=owner, name="P", draft=DRAFT)
    services.definition_publish(actor=owner, definition=made)
    made.refresh_from_db()
    running = _instance(made, Instance.State.RUNNING, "a")
    _instance(made, Instance.State.COMPLETED, "b")
    with pytest.raises(ValidationError):
        services.definition_delete(actor=owner, definition=made)
    assert ProcessDefinition.objects.filter(pk=made.pk).exists() and Instance.objects.count() == 2
    running.state = Instance.State.CANCELLED
    running.save(update_fields=["state"])
    services.definition_delete(actor=owner, definition=made)
    assert not ProcessDefinition.objects.exists() and not Instance.objects.exists()
    assert not ProcessVersion.objects.exists()
    assert AuditEvent.objects.get(action=AuditEvent.Action.PROCESS_DELETED).details == {"name": "P"}


@pytest.mark.parametrize("key", [t.key for t in shipped.TEMPLATES])
def test_each_shipped_template_installs_as_a_valid_inactive_draft(in_workspace, key: str) -> None:
    made = services.template_install(actor=in_workspace.owner, key=key)
    made.refresh_from_db()
    assert made.template == key and not made.is_active and made.current is None
    assert made.name == str(shipped.get(key).name) and made.description
    assert editor.definition_errors(made.draft) == {}
    assert made.draft["steps"] and len({s["id"] for s in made.draft["steps"]}) == len(made.draft["steps"])
    # It can be published as it is.
    assert services.definition_publish(actor=in_workspace.owner, definition=made).number == 1


def test_the_web_lead_template_goes_round_robin_in_the_first_team_or_to_the_owner(in_workspace) -> None:
    owner = in_workspace.owner
    alone = services.template_install(actor=owner, key="new_web_lead")
    assert alone.draft["steps"][0]["assign"] == {"to": "owner"}
    team = Team.objects.create(name="Sales")
    Team.objects.create(name="Logistics")
    with_team = services.template_install(actor=owner, key="new_web_lead")
    call = with_team.draft["steps"][0]
    assert call["assign"] == {"to": "round_robin", "team": team.pk}
    assert call["deadline"] == {"minutes": 15, "working": True} and call["wait"] is True
    assert call["escalate"]["to"] == "team_head"


def test_the_shipment_template_hands_shipping_to_the_logistics_team(in_workspace) -> None:
    owner = in_workspace.owner
    without = services.template_install(actor=owner, key="deal_won_shipment")
    ship = next(s for s in without.draft["steps"] if s["id"] == "ship")
    assert ship["assign"] == {"to": "owner"}
    logistics = Team.objects.create(name="Logistics")
    made = services.template_install(actor=owner, key="deal_won_shipment")
    ship = next(s for s in made.draft["steps"] if s["id"] == "ship")
    assert ship["assign"] == {"to": "team_head", "team": logistics.pk}
    approve = next(s for s in made.draft["steps"] if s["id"] == "approve")
    assert approve["on_reject"] == "rejected" and made.draft["trigger"]["outcome"] == "won"


def test_the_discount_template_holds_the_deal(in_workspace) -> None:
    made = services.template_install(actor=in_workspace.owner, key="discount_approval")
    trigger, approve = made.draft["trigger"], made.draft["steps"][0]
    assert trigger["condition"] == {"field": "discount_percent", "op": "gt", "value": 15}
    assert approve["hold"] is True and approve["approvers"] == {"to": "team_head"}
    assert {approve["on_reject"], approve["on_timeout"]} <= {s["id"] for s in made.draft["steps"]}


def test_an_unknown_template_is_refused(in_workspace) -> None:
    with pytest.raises(ValidationError):
        services.template_install(actor=in_workspace.owner, key="nope\x00")
    assert not ProcessDefinition.objects.exists()
