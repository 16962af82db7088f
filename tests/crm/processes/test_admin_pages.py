"""The business processes pages under /settings/processes/: the list, the editor (trigger, steps, conditions),
publish and on/off, the dry run, versions and instances; who may use them; odd input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from crm.deals.models import Stage
from crm.processes import services
from crm.processes.models import Instance, LogEntry, ProcessDefinition, ProcessVersion, StepRun
from tenants.accounts.models import AuditEvent, Role, Team, User
from tests.conftest import Workspace
from tests.factories import DealFactory, PipelineFactory, UserFactory

pytestmark = pytest.mark.django_db

TASK = {"id": "call", "type": "task", "title": "Call the client", "assign": {"to": "owner"}, "wait": False}
NOTE = {"id": "note", "type": "notify", "to": {"to": "owner"}, "text": "Done"}
DRAFT = {"trigger": {"type": "manual", "record_type": "deal"}, "steps": [TASK, NOTE]}


@dataclass
class Setup:
    workspace: Workspace
    owner: User
    manager: User
    definition: ProcessDefinition
    team: Team
    stage: Stage

    def client(self, user: User | None = None) -> Client:
        return self.workspace.client(logged_in_as=user or self.owner)

    def url(self, tail: str = "") -> str:
        return f"/settings/processes/{self.definition.pk}/{tail}"

    def reload(self) -> ProcessDefinition:
        connection.set_tenant(self.workspace.tenant)
        return ProcessDefinition.objects.get(pk=self.definition.pk)


@pytest.fixture
def setup(workspace: Workspace) -> Setup:
    with tenant_context(workspace.tenant):
        manager = UserFactory(full_name="Manny Manager")
        team = Team.objects.create(name="Sales", head=workspace.owner)
        pipeline = PipelineFactory()
        stage = pipeline.stages.get(name="Proposal")
        made = services.definition_create(actor=workspace.owner, name="Follow-up", draft=DRAFT)
    return Setup(workspace, workspace.owner, manager, made, team, stage)


def _steps(setup: Setup) -> list[dict[str, Any]]:
    return setup.reload().draft["steps"]


def _state(setup: Setup) -> tuple[Any, ...]:
    """Everything the pages could change."""
    connection.set_tenant(setup.workspace.tenant)
    return (
        list(ProcessDefinition.objects.order_by("id").values_list("id", "name", "draft", "is_active", "current")),
        ProcessVersion.objects.count(),
        list(Instance.objects.order_by("id").values_list("id", "state")),
        AuditEvent.objects.filter(action__startswith="process_").count(),
    )


# --- list and new -------------------------------------------------------------------------------------------


def test_the_list_shows_definitions_and_templates_and_the_menu_links_it(setup: Setup) -> None:
    client = setup.client()
    page = client.get("/settings/processes/").content.decode()
    assert page.count('data-testid="definition-row"') == 1 and "Follow-up" in page
    assert 'data-state="draft"' in page and "Discount approval" in page
    home = client.get("/").content.decode()
    assert 'href="/settings/processes/"' in home
    manager_home = setup.client(setup.manager).get("/").content.decode()
    assert 'href="/settings/processes/"' not in manager_home


def test_a_process_is_created_blank_or_from_a_template(setup: Setup) -> None:
    client = setup.client()
    response = client.post("/settings/processes/new/", {"name": "Blank one", "template": ""})
    assert response.status_code == 302
    response = client.post("/settings/processes/new/", {"name": "", "template": "discount_approval"})
    assert response.status_code == 302
    connection.set_tenant(setup.workspace.tenant)
    made = ProcessDefinition.objects.get(template="discount_approval")
    assert made.name == "Discount approval" and made.draft["steps"][0]["type"] == "approval"
    assert ProcessDefinition.objects.filter(name="Blank one", draft__steps=[]).exists()
    # A template under another name.
    client.post("/settings/processes/new/", {"name": "Web leads", "template": "new_web_lead"})
    connection.set_tenant(setup.workspace.tenant)
    assert ProcessDefinition.objects.get(name="Web leads").template == "new_web_lead"


def test_a_new_process_needs_a_name_or_a_template(setup: Setup) -> None:
    before = _state(setup)
    client = setup.client()
    for data in ({"name": "", "template": ""}, {"name": "x", "template": "nope"}, {"name": "a\x00b"}, {}):
        assert client.post("/settings/processes/new/", data).status_code == 422
    assert _state(setup) == before


# --- the editor ---------------------------------------------------------------------------------------------


def test_the_definition_page_draws_the_steps_as_a_diagram(setup: Setup) -> None:
    with tenant_context(setup.workspace.tenant):
        approval = {
            "id": "ok", "type": "approval", "approvers": {"to": "team_head"}, "mode": "any",
            "timeout": {"days": 1, "working": True}, "on_reject": "end", "on_timeout": "note", "hold": False,
        }  # fmt: skip
        branch = {"id": "big", "type": "branch", "condition": {"field": "amount", "op": "gt", "value": "5"},
                  "then": "note", "else": "end"}  # fmt: skip
        draft = {"trigger": DRAFT["trigger"], "steps": [TASK, approval, branch, NOTE]}
        services.definition_update(actor=setup.owner, definition=setup.definition, data={"draft": draft})
    page = setup.client().get(setup.url()).content.decode()
    assert page.count('data-testid="step-box"') == 4
    assert page.index('data-step="call"') < page.index('data-step="ok"') < page.index('data-step="big"')
    assert "if rejected → the end" in page and "on timeout → 4. Notify in the app" in page
    assert "if yes → 4. Notify in the app" in page and "otherwise → the end" in page and "if approved" in page
    assert "Call the client" in page


def test_name_and_description_are_saved_from_the_page(setup: Setup) -> None:
    client = setup.client()
    response = client.post(setup.url(), {"name": "Renamed", "description": "What it does"})
    assert response.status_code == 302
    made = setup.reload()
    assert (made.name, made.description) == ("Renamed", "What it does")
    assert client.post(setup.url(), {"name": "", "description": ""}).status_code == 422
    assert setup.reload().name == "Renamed"


def _add(setup: Setup, kind: str, data: dict[str, Any]) -> Any:
    return setup.client().post(setup.url(f"add-step/?type={kind}"), data)


def test_each_kind_of_step_is_added_through_its_form(setup: Setup) -> None:
    user = str(setup.manager.pk)
    forms = {
        "task": {"title": "Send the offer", "assign_to": "user", "assign_user": user, "deadline_amount": "2",
                 "deadline_unit": "hours", "deadline_working": "on", "wait": "on", "escalate_to": "team_head",
                 "escalate_notify": ["owner", "assignee"]},
        "set_field": {"field": "amount", "value": "100"},
        "move_stage": {"stage": str(setup.stage.pk)},
        "email": {"email_to": "address", "address": "boss@example.com", "subject": "Hi", "body": "{record.title}"},
        "notify": {"assign_to": "round_robin", "assign_team": str(setup.team.pk), "text": "Look"},
        "wait": {"mode": "duration", "duration_amount": "3", "duration_unit": "days"},
        "approval": {"approvers_to": "users", "approvers_users": [user], "mode": "all", "timeout_amount": "1",
                     "timeout_unit": "days", "on_reject": "note", "on_timeout": "end", "hold": "on"},
        "branch": {"then": "call", "else_": "end", "cond-join": "any", "cond-field_0": "amount", "cond-op_0": "gt",
                   "cond-value_0": "10", "cond-field_1": "title", "cond-op_1": "in", "cond-value_1": "a, b"},
    }  # fmt: skip
    for kind, data in forms.items():
        response = _add(setup, kind, data)
        assert response.status_code == 302, (kind, response.content.decode()[:3000])
    steps = {s["type"]: s for s in _steps(setup)[2:]}
    assert steps["task"] == {
        "id": "task_1", "type": "task", "title": "Send the offer", "assign": {"to": "user", "user": setup.manager.pk},
        "deadline": {"hours": 2, "working": True}, "wait": True,
        "escalate": {"to": "team_head", "notify": ["owner", "assignee"]},
    }  # fmt: skip
    assert steps["set_field"]["field"] == "amount" and steps["set_field"]["value"] == "100"
    assert steps["move_stage"]["stage"] == setup.stage.pk
    assert steps["email"] | {} == {"id": "email_1", "type": "email", "to": "address", "address": "boss@example.com",
                                   "subject": "Hi", "body": "{record.title}"}  # fmt: skip
    assert steps["notify"]["to"] == {"to": "round_robin", "team": setup.team.pk}
    assert steps["wait"]["duration"] == {"days": 3, "working": False}
    assert steps["approval"]["approvers"] == {"to": "users", "users": [setup.manager.pk]}
    assert steps["approval"]["hold"] is True and steps["approval"]["on_reject"] == "note"
    assert steps["branch"]["condition"] == {
        "any": [{"field": "amount", "op": "gt", "value": "10"}, {"field": "title", "op": "in", "value": ["a", "b"]}]
    }
    # The diagram shows every one of them.
    assert setup.client().get(setup.url()).content.decode().count('data-testid="step-box"') == 10


def test_a_step_is_edited_through_its_form_which_shows_its_values(setup: Setup) -> None:
    client = setup.client()
    page = client.get(setup.url("steps/call/")).content.decode()
    assert 'value="Call the client"' in page
    response = client.post(setup.url("steps/call/"), {"title": "Call twice", "assign_to": "owner", "name": "First"})
    assert response.status_code == 302
    call = _steps(setup)[0]
    assert call["id"] == "call" and call["title"] == "Call twice" and call["name"] == "First"


def test_steps_are_moved_and_deleted(setup: Setup) -> None:
    client = setup.client()
    assert client.post(setup.url("steps/call/move/"), {"direction": "down"}).status_code == 302
    assert [s["id"] for s in _steps(setup)] == ["note", "call"]
    client.post(setup.url("steps/call/move/"), {"direction": "up"})
    assert [s["id"] for s in _steps(setup)] == ["call", "note"]
    client.post(setup.url("steps/call/move/"), {"direction": "up"})  # already first: nothing
    assert [s["id"] for s in _steps(setup)] == ["call", "note"]
    assert client.post(setup.url("steps/note/delete/")).status_code == 302
    assert [s["id"] for s in _steps(setup)] == ["call"]


def test_a_step_others_jump_to_is_not_deleted(setup: Setup) -> None:
    # Back to a step that waits for nothing: a loop, refused.
    branch = {"then": "note", "else_": "end", "cond-join": "all", "cond-field_0": "amount", "cond-op_0": "empty"}
    refused = _add(setup, "branch", branch)
    assert refused.status_code == 422 and "loop" in refused.content.decode()
    # Back to the task, which waits until it is done: a loop people take part in, kept.
    with tenant_context(setup.workspace.tenant):
        steps = [{**TASK, "wait": True}, NOTE]
        services.definition_update(
            actor=setup.workspace.owner, definition=setup.reload(), data={"draft": {**DRAFT, "steps": steps}}
        )
    assert _add(setup, "branch", {**branch, "then": "call"}).status_code == 302
    before = _state(setup)
    response = setup.client().post(setup.url("steps/call/delete/"), follow=True)
    assert response.status_code == 200 and "not deleted" in response.content.decode()
    assert _state(setup) == before


def test_a_step_form_with_errors_shows_them_and_saves_nothing(setup: Setup) -> None:
    before = _state(setup)
    cases = [
        ("task", {"title": "", "assign_to": "owner"}),
        ("task", {"title": "T", "assign_to": "user"}),  # no person
        ("task", {"title": "T", "assign_to": "nobody"}),
        ("task", {"title": "T", "assign_to": "owner", "deadline_amount": "99999999999999999999"}),
        ("task", {"title": "T\x00", "assign_to": "owner"}),
        ("email", {"email_to": "address", "subject": "S", "body": "B"}),
        ("wait", {"mode": "until", "until": "yesterday"}),
        ("wait", {"mode": "duration"}),
        ("approval", {"approvers_to": "role", "mode": "any", "on_reject": "end", "on_timeout": "end"}),
        ("approval", {"approvers_to": "team_head", "mode": "any", "on_reject": "nowhere", "on_timeout": "end"}),
        ("branch", {"then": "end", "else_": "end"}),  # no condition row
        ("move_stage", {"stage": "999999999999999999999"}),
        ("set_field", {"field": "no_such_field", "value": "1"}),
    ]
    for kind, data in cases:
        response = _add(setup, kind, data)
        assert response.status_code == 422, (kind, data)
    assert _state(setup) == before


def test_the_trigger_is_changed_with_its_condition_rows(setup: Setup) -> None:
    client = setup.client()
    page = client.get(setup.url("trigger/?type=record_updated&record_type=deal")).content.decode()
    assert page.count('data-testid="condition-row"') == 2
    data = {"fields": ["amount"], "cond-join": "all", "cond-field_0": "amount", "cond-op_0": "gte",
            "cond-value_0": "5000", "cond-field_1": "title", "cond-op_1": "not_empty"}  # fmt: skip
    response = client.post(setup.url("trigger/?type=record_updated&record_type=deal"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert setup.reload().draft["trigger"] == {
        "type": "record_updated", "record_type": "deal", "fields": ["amount"],
        "condition": {"all": [{"field": "amount", "op": "gte", "value": "5000"},
                              {"field": "title", "op": "not_empty"}]},
    }  # fmt: skip
    # Shown again as rows (two, and two blank).
    page = client.get(setup.url("trigger/")).content.decode()
    assert page.count('data-testid="condition-row"') == 4 and 'value="5000"' in page
    # A schedule, then a stage.
    data = {"every": "week", "at": "08:30", "weekday": "2"}
    # The steps give their tasks to the record's owner, and a schedule has no record: refused, with why.
    refused = client.post(setup.url("trigger/?type=schedule&record_type=deal"), data)
    assert refused.status_code == 422 and "no record" in refused.content.decode()
    with tenant_context(setup.workspace.tenant):
        person = {"to": "user", "user": setup.manager.pk}
        steps = [{**TASK, "assign": person}, {**NOTE, "to": person}]
        services.definition_update(
            actor=setup.workspace.owner,
            definition=setup.reload(),
            data={"draft": {**setup.reload().draft, "steps": steps}},
        )
    assert client.post(setup.url("trigger/?type=schedule&record_type=deal"), data).status_code == 302
    assert setup.reload().draft["trigger"] == {"type": "schedule", "every": "week", "at": "08:30", "weekday": 2}
    data = {"pipeline": "", "stage": str(setup.stage.pk), "outcome": ""}
    assert client.post(setup.url("trigger/?type=stage_entered&record_type=deal"), data).status_code == 302
    trigger = setup.reload().draft["trigger"]
    assert trigger["type"] == "stage_entered" and trigger["stage"] == setup.stage.pk


def test_a_bad_trigger_is_refused_and_nothing_changes(setup: Setup) -> None:
    before = _state(setup)
    client = setup.client()
    assert client.post(setup.url("trigger/?type=schedule&record_type=deal"), {"every": "week"}).status_code == 422
    assert client.post(setup.url("trigger/?type=schedule"), {"every": "day", "at": "25:99"}).status_code in (404, 422)
    assert client.post(setup.url("trigger/?type=date&record_type=deal"), {"field": "title"}).status_code == 422
    data = {"cond-field_0": "amount", "cond-op_0": "nope"}
    assert client.post(setup.url("trigger/?type=record_created&record_type=deal"), data).status_code == 422
    assert client.get(setup.url("trigger/?type=nope&record_type=deal")).status_code == 404
    assert client.get(setup.url("trigger/?type=manual&record_type=\x00")).status_code == 404
    assert _state(setup) == before


# --- publish, on/off, delete --------------------------------------------------------------------------------


def test_publish_then_turn_on_and_off(setup: Setup) -> None:
    client = setup.client()
    assert client.post(setup.url("active/"), {"active": "1"}).status_code == 302
    assert not setup.reload().is_active  # not published yet
    client.post(setup.url("publish/"))
    made = setup.reload()
    assert made.current is not None and made.current.number == 1
    page = client.get(setup.url()).content.decode()
    assert 'data-testid="unpublished"' not in page
    client.post(setup.url("publish/"))
    assert ProcessVersion.objects.count() == 1
    client.post(setup.url("steps/note/delete/"))
    assert 'data-testid="unpublished"' in client.get(setup.url()).content.decode()
    client.post(setup.url("publish/"))
    client.post(setup.url("active/"), {"active": "1"})
    made = setup.reload()
    assert made.is_active and made.current.number == 2
    versions = client.get(setup.url("versions/")).content.decode()
    assert versions.count('data-testid="version-row"') == 2
    client.post(setup.url("active/"), {"active": "0"})
    assert not setup.reload().is_active


def test_a_process_is_deleted_only_without_running_instances(setup: Setup) -> None:
    client = setup.client()
    client.post(setup.url("publish/"))
    made = setup.reload()
    Instance.objects.create(definition=made, version=made.current, record_type="deal", record_id=1, start_key="k")
    assert client.get(setup.url("delete/")).status_code == 200
    client.post(setup.url("delete/"))
    assert ProcessDefinition.objects.filter(pk=made.pk).exists()
    Instance.objects.update(state=Instance.State.CANCELLED)
    assert client.post(setup.url("delete/")).status_code == 302
    connection.set_tenant(setup.workspace.tenant)
    assert not ProcessDefinition.objects.exists()


# --- dry run ------------------------------------------------------------------------------------------------


def test_the_dry_run_shows_what_would_happen_and_writes_nothing(setup: Setup) -> None:
    with tenant_context(setup.workspace.tenant):
        deal = DealFactory(owner=setup.owner, title="Big order")
    client = setup.client()
    page = client.get(setup.url("test/")).content.decode()
    assert 'data-picker="/pick/deals/"' in page and "Big order" in page
    before = _state(setup)
    response = client.get(setup.url(f"test/?record={deal.pk}"))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="dry-run-line"') >= 2 and "Big order" in page
    assert _state(setup) == before
    for bad in ("999999", "x", "\x00", "9" * 40, ""):
        assert client.get(setup.url("test/"), {"record": bad}).status_code == 422, bad
    assert _state(setup) == before


def test_the_dry_run_offers_no_record_the_admin_may_not_see(setup: Setup) -> None:
    with tenant_context(setup.workspace.tenant):
        grants = {"deal": {"view": "own"}}
        role = Role.objects.create(name="Process owner", grants=grants, permissions=["manage_processes"])
        admin = UserFactory(role=role)
        hidden = DealFactory(owner=setup.manager, title="Not yours")
    client = setup.client(admin)
    page = client.get(setup.url("test/")).content.decode()
    assert "Not yours" not in page
    assert client.get(setup.url(f"test/?record={hidden.pk}")).status_code == 422


# --- instances ----------------------------------------------------------------------------------------------


def _running(setup: Setup) -> Instance:
    connection.set_tenant(setup.workspace.tenant)
    made = setup.reload()
    if made.current is None:
        services.definition_publish(actor=setup.owner, definition=made)
        made.refresh_from_db()
    instance = Instance.objects.create(
        definition=made, version=made.current, record_type="deal", record_id=7, start_key=f"k{Instance.objects.count()}"
    )
    StepRun.objects.create(instance=instance, step_id="call", step_type="task", assignee=setup.manager)
    LogEntry.objects.create(instance=instance, action="started")
    return instance


def test_instances_are_listed_shown_and_cancelled(setup: Setup) -> None:
    instance = _running(setup)
    done = _running(setup)
    done.state = Instance.State.COMPLETED
    done.save(update_fields=["state"])
    client = setup.client()
    page = client.get(setup.url("instances/")).content.decode()
    assert page.count('data-testid="instance-row"') == 2
    page = client.get(setup.url("instances/?state=running")).content.decode()
    assert page.count('data-testid="instance-row"') == 1
    assert client.get(setup.url("instances/?state=nope&page=x\x00")).status_code == 200
    page = client.get(setup.url(f"instances/{instance.pk}/")).content.decode()
    assert "Manny Manager" in page and 'data-testid="cancel"' in page
    response = client.post(setup.url(f"instances/{instance.pk}/cancel/"), {"reason": "Customer left"})
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.state == Instance.State.CANCELLED
    assert "Customer left" in client.get(setup.url(f"instances/{instance.pk}/")).content.decode()
    assert client.post(setup.url(f"instances/{instance.pk}/cancel/"), {"reason": "x" * 600}).status_code == 422


# --- who may ------------------------------------------------------------------------------------------------


def _every_page(setup: Setup, instance: Instance) -> list[tuple[str, str, dict[str, Any]]]:
    i = instance.pk
    return [
        ("get", "/settings/processes/", {}),
        ("post", "/settings/processes/new/", {"name": "X", "template": "new_web_lead"}),
        ("get", setup.url(), {}),
        ("post", setup.url(), {"name": "Hacked"}),
        ("get", setup.url("trigger/"), {}),
        ("post", setup.url("trigger/?type=manual&record_type=lead"), {}),
        ("get", setup.url("add-step/?type=task"), {}),
        ("post", setup.url("add-step/?type=notify"), {"assign_to": "owner", "text": "x"}),
        ("get", setup.url("steps/call/"), {}),
        ("post", setup.url("steps/call/"), {"title": "Hacked", "assign_to": "owner"}),
        ("post", setup.url("steps/call/move/"), {"direction": "down"}),
        ("post", setup.url("steps/call/delete/"), {}),
        ("post", setup.url("publish/"), {}),
        ("post", setup.url("active/"), {"active": "0"}),
        ("get", setup.url("delete/"), {}),
        ("post", setup.url("delete/"), {}),
        ("get", setup.url("test/?record=1"), {}),
        ("get", setup.url("versions/"), {}),
        ("get", setup.url("instances/"), {}),
        ("get", setup.url(f"instances/{i}/"), {}),
        ("post", setup.url(f"instances/{i}/cancel/"), {"reason": "x"}),
    ]


def test_a_sales_manager_is_refused_everything_and_nothing_changes(setup: Setup) -> None:
    instance = _running(setup)
    before = _state(setup)
    client = setup.client(setup.manager)
    for method, url, data in _every_page(setup, instance):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url)
    assert _state(setup) == before


def test_another_workspaces_admin_finds_nothing_here(setup: Setup, other_workspace: Workspace) -> None:
    instance = _running(setup)
    before = _state(setup)
    with tenant_context(other_workspace.tenant):
        # Ids are per schema: theirs start at 1 too, so their own definition is made past ours.
        for _ in range(setup.definition.pk):
            ProcessDefinition.objects.create(name="Theirs", draft=DRAFT)
        ProcessDefinition.objects.filter(pk=setup.definition.pk).delete()
    client = other_workspace.client(logged_in_as=other_workspace.owner)
    for method, url, data in _every_page(setup, instance)[2:]:
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (method, url)
    assert _state(setup) == before


def test_odd_addresses_and_values_are_4xx_never_500(setup: Setup) -> None:
    client = setup.client()
    big = "9" * 30
    for url in (
        f"/settings/processes/{big}/",
        "/settings/processes/999999999/",
        setup.url("steps/nope/"),
        setup.url("steps/%00/"),
        setup.url(f"steps/{'a' * 200}/"),
        setup.url(f"instances/{big}/"),
        setup.url("instances/999999/"),
        setup.url("add-step/?type=nope"),
        setup.url("add-step/?type=%00"),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(setup.url("steps/nope/move/"), {"direction": "up"}).status_code == 404
    assert client.post(setup.url("steps/nope/delete/")).status_code == 404
    assert client.post(f"/settings/processes/{big}/publish/").status_code == 404
    assert client.get(setup.url("add-step/")).status_code == 200  # the kind chooser
    before = _state(setup)
    assert client.post(setup.url("active/"), {"active": "\x00"}).status_code == 302
    assert client.post(setup.url(), {"name": "a" * 1000}).status_code == 422
    assert client.post(setup.url(), {"name": "x\x00y"}).status_code == 422
    response = client.post(setup.url(), data='{"name": ', content_type="application/json")
    assert response.status_code == 422
    assert _state(setup) == before
