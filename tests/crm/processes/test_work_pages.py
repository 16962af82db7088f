"""Where people meet running processes: the panel on the cards, its actions, My day's approvals and process
tasks, and the notifications page (with the header's unread count)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.deals.models import Deal
from crm.processes import engine
from crm.processes.models import Instance, Notification, ProcessDefinition, StepRun
from tenants.accounts.models import Team, User
from tenants.accounts.roles import SALES_HEAD, builtin_role
from tests.conftest import Workspace
from tests.crm.processes.support import active_step, only_instance, process
from tests.factories import CompanyFactory, DealFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass
class World:
    ws: Workspace
    head: User  # sales head: approves, manages processes, sees every deal
    manager: User  # sales manager: owns the deal
    stranger: User  # another sales manager: sees only their own records
    deal: Deal
    approval: ProcessDefinition  # manual on deals: the head approves (hold), then a task for the owner
    checklist: ProcessDefinition  # manual on deals: one task

    def inside(self) -> Any:
        return tenant_context(self.ws.tenant)

    def client(self, user: User) -> Client:
        client = self.ws.client(logged_in_as=user)
        connection.set_schema_to_public()
        return client


APPROVAL_STEPS = [
    {
        "id": "ok",
        "type": "approval",
        "name": "Head approves",
        "approvers": {"to": "users", "users": []},
        "hold": True,
    },
    {"id": "ship", "type": "task", "name": "Ship it", "title": "Ship {record.title}", "assign": {"to": "owner"}},
]


@pytest.fixture
def world(workspace: Workspace) -> World:
    with tenant_context(workspace.tenant):
        head = UserFactory(full_name="Helen Head", role=builtin_role(SALES_HEAD))
        team = Team.objects.create(name="Sales", head=head)
        manager = UserFactory(full_name="Mark Manager", team=team)
        stranger = UserFactory(full_name="Sam Stranger")
        deal = DealFactory(title="Big order", owner=manager, company=CompanyFactory(owner=manager))
        steps = [dict(APPROVAL_STEPS[0], approvers={"to": "users", "users": [head.pk]}), APPROVAL_STEPS[1]]
        approval = process(
            workspace.owner,
            {"trigger": {"type": "manual", "record_type": "deal"}, "steps": steps},
            name="Discount approval",
        )
        checklist = process(
            workspace.owner,
            {
                "trigger": {"type": "manual", "record_type": "deal"},
                "steps": [
                    {
                        "id": "docs",
                        "type": "task",
                        "title": "Collect documents",
                        "assign": {"to": "owner"},
                        "wait": True,
                    }
                ],
            },
            name="Shipment checklist",
        )
    connection.set_schema_to_public()
    return World(workspace, head, manager, stranger, deal, approval, checklist)


def _start(world: World, definition: ProcessDefinition) -> tuple[Instance, StepRun]:
    with world.inside():
        instance = engine.manual_start(
            actor=world.manager, definition=definition, record=Deal.objects.get(pk=world.deal.pk), record_type="deal"
        )
        run = active_step(instance)
    connection.set_schema_to_public()
    return instance, run


def _decide_url(world: World, step: object, *, deal: object = None) -> str:
    return f"/processes/records/deal/{deal or world.deal.pk}/steps/{step}/decide/"


def _state(world: World, instance: Instance) -> tuple[str, list[tuple[str, str, str]]]:
    with world.inside():
        found = Instance.objects.get(pk=instance.pk)
        steps = list(found.steps.order_by("id").values_list("step_id", "state", "outcome"))
    connection.set_schema_to_public()
    return found.state, steps


# --- the panel ---------------------------------------------------------------------------------------------


def test_the_card_shows_the_running_process_who_holds_it_and_the_hold(world: World) -> None:
    instance, run = _start(world, world.approval)
    page = world.client(world.manager).get(f"/deals/{world.deal.pk}/").content.decode()
    assert 'data-testid="process-panel"' in page
    assert "Discount approval" in page and "Head approves" in page
    assert "Helen Head" in page  # the approver holds the step
    assert 'data-testid="holds-badge"' in page
    assert 'data-testid="overdue-badge"' not in page
    # The owner is no approver: no buttons; may edit the deal: the other process can be started.
    assert f'data-testid="decide-{run.pk}"' not in page
    assert "Shipment checklist" in page and 'data-testid="process-start"' in page
    # A sales manager manages no processes: no cancel, no link to the instance page.
    assert f'data-testid="cancel-{instance.pk}"' not in page and 'data-testid="instance-link"' not in page


def test_an_overdue_step_is_marked_and_the_head_sees_buttons_and_admin_links(world: World) -> None:
    instance, run = _start(world, world.approval)
    with world.inside():
        StepRun.objects.filter(pk=run.pk).update(due_at=timezone.now() - datetime.timedelta(hours=2))
    connection.set_schema_to_public()
    page = world.client(world.head).get(f"/deals/{world.deal.pk}/").content.decode()
    assert 'data-testid="overdue-badge"' in page
    assert f'data-testid="decide-{run.pk}"' in page
    assert f'data-testid="cancel-{instance.pk}"' in page
    assert f"/settings/processes/{world.approval.pk}/instances/{instance.pk}/" in page


def test_no_panel_without_processes_or_anything_to_start(world: World) -> None:
    with world.inside():
        ProcessDefinition.objects.update(is_active=False)
    connection.set_schema_to_public()
    page = world.client(world.manager).get(f"/deals/{world.deal.pk}/").content.decode()
    assert 'data-testid="process-panel"' not in page
    # A company card with nothing either.
    page = world.client(world.manager).get(f"/companies/{world.deal.company_id}/").content.decode()
    assert 'data-testid="process-panel"' not in page


def test_finished_processes_are_listed(world: World) -> None:
    instance, _run = _start(world, world.checklist)
    with world.inside():
        engine.instance_cancel(actor=world.ws.owner, instance=instance, reason="Not needed")
    connection.set_schema_to_public()
    page = world.client(world.manager).get(f"/deals/{world.deal.pk}/").content.decode()
    assert 'data-testid="finished-processes"' in page and "Cancelled" in page


# --- approve and reject from the card ----------------------------------------------------------------------


def test_approve_from_the_card_moves_the_process_on(world: World) -> None:
    instance, run = _start(world, world.approval)
    response = world.client(world.head).post(_decide_url(world, run.pk), {"decision": "approve"}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="process-panel"' in body and "You approved it." in body
    assert _state(world, instance) == ("completed", [("ok", "done", "approved"), ("ship", "done", "done")])
    with world.inside():
        assert not Instance.objects.get(pk=instance.pk).holds_record
        assert Activity.objects.filter(deal_id=world.deal.pk, subject="Ship Big order").exists()


def test_reject_needs_a_comment_then_ends_the_process(world: World) -> None:
    instance, run = _start(world, world.approval)
    client = world.client(world.head)
    response = client.post(_decide_url(world, run.pk), {"decision": "reject", "comment": "  "}, **HTMX)
    assert response.status_code == 422
    assert 'data-testid="comment-error"' in response.content.decode()
    assert _state(world, instance) == ("running", [("ok", "active", "")])
    # Without htmx: back to the card.
    response = client.post(_decide_url(world, run.pk), {"decision": "reject", "comment": "Too much discount"})
    assert response.status_code == 302 and response["Location"] == f"/deals/{world.deal.pk}/"
    assert _state(world, instance) == ("completed", [("ok", "done", "rejected")])
    # Decided already: the panel says so, no error page.
    response = client.post(_decide_url(world, run.pk), {"decision": "approve"}, **HTMX)
    assert response.status_code == 422 and "already decided" in response.content.decode()


def test_the_actions_need_the_csrf_token(world: World) -> None:
    instance, run = _start(world, world.approval)
    strict = Client(HTTP_HOST=world.ws.domain, enforce_csrf_checks=True)
    strict.cookies = world.client(world.head).cookies
    assert strict.post(_decide_url(world, run.pk), {"decision": "approve"}).status_code == 403
    assert _state(world, instance) == ("running", [("ok", "active", "")])


def test_a_non_approver_is_refused_and_nothing_changes(world: World) -> None:
    instance, run = _start(world, world.approval)
    # The owner sees the deal but is not named by the step.
    response = world.client(world.manager).post(_decide_url(world, run.pk), {"decision": "approve"}, **HTMX)
    assert response.status_code == 403
    assert _state(world, instance) == ("running", [("ok", "active", "")])
    with world.inside():
        assert not instance.log.filter(action__in=["approved", "rejected"]).exists()


def test_a_person_who_may_not_see_the_record_gets_404(world: World) -> None:
    instance, run = _start(world, world.approval)
    with world.inside():
        # Named as approver, but a sales manager sees only their own deals.
        StepRun.objects.filter(pk=run.pk).update(approvers=[world.stranger.pk])
    connection.set_schema_to_public()
    client = world.client(world.stranger)
    assert client.get(f"/deals/{world.deal.pk}/").status_code == 404
    assert client.post(_decide_url(world, run.pk), {"decision": "approve"}).status_code == 404
    assert (
        client.post(f"/processes/records/deal/{world.deal.pk}/start/", {"definition": world.checklist.pk}).status_code
        == 404
    )
    assert _state(world, instance) == ("running", [("ok", "active", "")])


def test_a_step_of_another_record_or_odd_ids_are_404(world: World) -> None:
    instance, run = _start(world, world.approval)
    with world.inside():
        other = DealFactory(owner=world.manager)
    connection.set_schema_to_public()
    client = world.client(world.head)
    for url in (
        _decide_url(world, run.pk, deal=other.pk),  # the step is not this record's
        _decide_url(world, "abc"),
        _decide_url(world, "99999999999999999999999"),
        _decide_url(world, "%00"),
        _decide_url(world, run.pk, deal="99999999999999999999999"),
        f"/processes/records/nothing/{world.deal.pk}/steps/{run.pk}/decide/",
        f"/processes/records/deal/{world.deal.pk}/instances/abc/cancel/",
    ):
        assert client.post(url, {"decision": "approve"}).status_code == 404, url
    assert client.post(_decide_url(world, run.pk), {"decision": "maybe\x00"}).status_code == 400
    assert client.get(_decide_url(world, run.pk)).status_code == 405
    assert _state(world, instance) == ("running", [("ok", "active", "")])


def test_another_workspace_gets_404_and_changes_nothing(world: World, other_workspace: Workspace) -> None:
    instance, run = _start(world, world.approval)
    with tenant_context(other_workspace.tenant):
        DealFactory()  # ids there may well collide with ours
    connection.set_schema_to_public()
    client = other_workspace.client(logged_in_as=other_workspace.owner)
    connection.set_schema_to_public()
    assert client.post(_decide_url(world, run.pk), {"decision": "approve"}).status_code == 404
    cancel = f"/processes/records/deal/{world.deal.pk}/instances/{instance.pk}/cancel/"
    assert client.post(cancel).status_code == 404
    assert (
        client.post(f"/processes/records/deal/{world.deal.pk}/start/", {"definition": world.checklist.pk}).status_code
        == 404
    )
    assert _state(world, instance) == ("running", [("ok", "active", "")])
    with world.inside():
        assert Instance.objects.count() == 1


# --- start and cancel from the card ------------------------------------------------------------------------


def test_start_a_process_from_the_card(world: World) -> None:
    url = f"/processes/records/deal/{world.deal.pk}/start/"
    response = world.client(world.manager).post(url, {"definition": world.checklist.pk}, **HTMX)
    assert response.status_code == 200 and "Shipment checklist" in response.content.decode()
    with world.inside():
        instance = only_instance(world.checklist)
        assert (instance.record_id, instance.state, instance.started_by_id) == (
            world.deal.pk,
            "running",
            world.manager.pk,
        )
    # Twice: it is running already, said in the panel.
    response = world.client(world.manager).post(url, {"definition": world.checklist.pk}, **HTMX)
    assert response.status_code == 422 and 'data-testid="process-message"' in response.content.decode()
    with world.inside():
        assert Instance.objects.filter(definition=world.checklist).count() == 1


def test_start_is_refused_to_who_may_not_edit_the_record_and_odd_definitions(world: World) -> None:
    url = f"/processes/records/deal/{world.deal.pk}/start/"
    with world.inside():
        reader = UserFactory(role=builtin_role("read_only"))  # sees every deal, edits none
        not_manual = process(
            world.ws.owner,
            {"trigger": {"type": "record_created", "record_type": "deal"}, "steps": [APPROVAL_STEPS[1]]},
            name="Automatic",
        )
    connection.set_schema_to_public()
    assert world.client(reader).post(url, {"definition": world.checklist.pk}).status_code == 403
    client = world.client(world.manager)
    for definition in ("", "abc", "\x00", "99999999999999999999999", str(not_manual.pk), [world.checklist.pk, 1]):
        assert client.post(url, {"definition": definition}).status_code == 404, definition
    with world.inside():
        assert not Instance.objects.exists()


def test_cancel_from_the_card_is_for_process_managers(world: World) -> None:
    instance, _run = _start(world, world.checklist)
    url = f"/processes/records/deal/{world.deal.pk}/instances/{instance.pk}/cancel/"
    assert world.client(world.manager).post(url, **HTMX).status_code == 403
    assert _state(world, instance)[0] == "running"
    response = world.client(world.head).post(url, **HTMX)
    assert response.status_code == 200 and "The process was cancelled." in response.content.decode()
    assert _state(world, instance)[0] == "cancelled"
    # Again: not running any more, said in the panel.
    response = world.client(world.head).post(url, **HTMX)
    assert response.status_code == 422 and 'data-testid="process-message"' in response.content.decode()


# --- My day ------------------------------------------------------------------------------------------------


def test_my_day_shows_my_approvals_and_decides_them(world: World) -> None:
    instance, run = _start(world, world.approval)
    client = world.client(world.head)
    page = client.get("/").content.decode()
    assert 'data-testid="my-approvals"' in page and f'data-testid="approval-{run.pk}"' in page
    assert "Discount approval" in page and "Big order" in page
    # The owner waits for no approval.
    assert 'data-testid="my-approvals"' not in world.client(world.manager).get("/").content.decode()
    response = client.post(_decide_url(world, run.pk), {"decision": "reject", "back": "my_day"}, **HTMX)
    assert response.status_code == 422 and 'data-testid="comment-error"' in response.content.decode()
    response = client.post(
        _decide_url(world, run.pk), {"decision": "reject", "comment": "No", "back": "my_day"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'id="my-approvals"' in body and f"approval-{run.pk}" not in body
    assert _state(world, instance) == ("completed", [("ok", "done", "rejected")])


def test_my_day_approve_without_htmx_goes_back_to_my_day(world: World) -> None:
    instance, run = _start(world, world.approval)
    response = world.client(world.head).post(_decide_url(world, run.pk), {"decision": "approve", "back": "my_day"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert _state(world, instance)[1][0] == ("ok", "done", "approved")


def test_my_day_labels_the_tasks_of_processes(world: World) -> None:
    _start(world, world.checklist)
    with world.inside():
        task = Activity.objects.get(deal_id=world.deal.pk, subject="Collect documents")
        Activity.objects.filter(pk=task.pk).update(due_at=timezone.now() - datetime.timedelta(hours=1))
        Activity.objects.create(
            kind="task", subject="My own task", assignee=world.manager, due_at=timezone.now(), created_by=world.manager
        )
    connection.set_schema_to_public()
    page = world.client(world.manager).get("/").content.decode()
    assert "Collect documents" in page and "My own task" in page
    assert page.count('data-testid="process-label"') == 1
    assert "Shipment checklist" in page


# --- notifications -----------------------------------------------------------------------------------------


@pytest.fixture
def notices(world: World) -> dict[str, Notification]:
    with world.inside():
        made = {
            "mine": Notification.objects.create(user=world.manager, text="Yours to do", url="/deals/", key="a"),
            "evil": Notification.objects.create(user=world.manager, text="Odd link", url="//evil.com/x", key="b"),
            "abs": Notification.objects.create(user=world.manager, text="Abs link", url="https://evil.com", key="c"),
            "theirs": Notification.objects.create(user=world.head, text="Not for you", url="/", key="d"),
        }
    connection.set_schema_to_public()
    return made


def test_the_notifications_page_shows_only_mine_and_the_header_counts_them(
    world: World, notices: dict[str, Notification]
) -> None:
    client = world.client(world.manager)
    page = client.get("/processes/notifications/").content.decode()
    assert "Yours to do" in page and "Odd link" in page and "Not for you" not in page
    assert page.count('data-testid="unread"') == 3
    assert 'data-testid="notifications-link"' in client.get("/").content.decode()
    count = client.get("/processes/notifications/unread/", **HTMX).content.decode()
    assert 'data-testid="unread-count"' in count and ">3<" in count
    # Someone else's notification is not found.
    assert client.get(f"/processes/notifications/{notices['theirs'].pk}/").status_code == 404
    with world.inside():
        assert Notification.objects.get(pk=notices["theirs"].pk).read_at is None


def test_opening_a_notification_marks_it_read_and_goes_only_to_this_site(
    world: World, notices: dict[str, Notification]
) -> None:
    client = world.client(world.manager)
    response = client.get(f"/processes/notifications/{notices['mine'].pk}/")
    assert response.status_code == 302 and response["Location"] == "/deals/"
    for key in ("evil", "abs"):
        response = client.get(f"/processes/notifications/{notices[key].pk}/")
        assert response.status_code == 302 and response["Location"] == "/processes/notifications/", key
    with world.inside():
        assert not Notification.objects.filter(user=world.manager, read_at=None).exists()
    count = client.get("/processes/notifications/unread/").content.decode()
    assert 'data-testid="unread-count"' not in count


def test_mark_all_read_touches_only_mine(world: World, notices: dict[str, Notification]) -> None:
    client = world.client(world.manager)
    assert client.get("/processes/notifications/read-all/").status_code == 405
    response = client.post("/processes/notifications/read-all/")
    assert response.status_code == 302
    with world.inside():
        assert not Notification.objects.filter(user=world.manager, read_at=None).exists()
        assert Notification.objects.get(pk=notices["theirs"].pk).read_at is None


def test_odd_notification_input_is_never_a_500(world: World, notices: dict[str, Notification]) -> None:
    client = world.client(world.manager)
    for pk in ("abc", "99999999999999999999999", "%00", "0", "-1", "1.5"):
        assert client.get(f"/processes/notifications/{pk}/").status_code == 404, pk
    for page in ("abc", "\x00", "99999999999999999999999", "-1", ""):
        assert client.get("/processes/notifications/", {"page": page}).status_code == 200, page


def test_the_notifications_page_is_paged(world: World) -> None:
    with world.inside():
        Notification.objects.bulk_create(
            Notification(user=world.manager, text=f"Notice {n:03d}", key=f"n{n}") for n in range(60)
        )
    connection.set_schema_to_public()
    client = world.client(world.manager)
    first = client.get("/processes/notifications/").content.decode()
    assert "Notice 059" in first and "Notice 009" not in first and "?page=2" in first
    second = client.get("/processes/notifications/", {"page": 2}).content.decode()
    assert "Notice 009" in second and "Notice 059" not in second


def test_notifications_need_a_login(world: World) -> None:
    client = Client(HTTP_HOST=world.ws.domain)
    assert client.get("/processes/notifications/").status_code == 302
    assert client.post("/processes/notifications/read-all/").status_code == 302


def test_a_held_deal_stays_on_its_stage_on_the_board_and_in_the_api(world: World) -> None:
    from crm.deals.models import Stage
    from tests.api.conftest import bearer_client, key_for

    _start(world, world.approval)
    with world.inside():
        deal = Deal.objects.get(pk=world.deal.pk)
        target = Stage.objects.filter(pipeline_id=deal.pipeline_id).exclude(pk=deal.stage_id).order_by("position")[0]
    connection.set_schema_to_public()
    board = world.client(world.ws.owner).post(
        "/deals/board/move/",
        {"deal": deal.pk, "stage": target.pk, "version": deal.version},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert board.status_code == 422 and "waits for an approval" in board.content.decode()
    api = bearer_client(world.ws, key_for(world.ws))
    refused = api.post(f"/deals/{deal.pk}/move", {"stage": target.pk, "version": deal.version})
    assert refused.status_code == 422 and "waits for an approval" in refused.content.decode()
    with world.inside():
        assert Deal.objects.get(pk=deal.pk).stage_id == deal.stage_id


def test_marking_all_read_drops_my_old_read_notifications_only(world: World) -> None:
    with world.inside():
        long_ago = timezone.now() - datetime.timedelta(days=200)
        engine.notify([world.head, world.manager], text="Old news", key="old")
        Notification.objects.filter(key__startswith="old:").update(read_at=long_ago)
        engine.notify([world.head], text="Fresh", key="fresh")
        engine.notify([world.head], text="Read lately", key="lately")
        Notification.objects.filter(key__startswith="lately:").update(read_at=timezone.now())
    connection.set_schema_to_public()
    response = world.client(world.head).post("/processes/notifications/read-all/")
    assert response.status_code == 302
    with world.inside():
        mine = set(Notification.objects.filter(user=world.head).values_list("text", flat=True))
        assert mine == {"Fresh", "Read lately"}  # the old read one is gone, the others are kept (now read)
        assert not Notification.objects.filter(user=world.head, read_at=None).exists()
        # Another person's old read notification is theirs to keep until they prune.
        assert Notification.objects.filter(user=world.manager, text="Old news").exists()
