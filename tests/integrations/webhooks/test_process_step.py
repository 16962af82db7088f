"""The processes' webhook step: the record goes to the receiver signed, once per step, as the identity sees it."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from crm.processes import engine
from crm.processes.models import Instance
from integrations.core import services as core
from integrations.webhooks import processes
from integrations.webhooks.models import Delivery
from tests.crm.processes.support import process
from tests.factories import DealFactory
from tests.fakes import webhook_receiver
from tests.integrations.webhooks.test_webhooks import hook

pytestmark = pytest.mark.django_db


def test_a_process_step_posts_the_record_to_the_receiver(
    workspace, receiver, django_capture_on_commit_callbacks
) -> None:
    conn = hook(workspace, receiver)
    with tenant_context(workspace.tenant):
        definition = process(
            workspace.owner,
            {
                "trigger": {"type": "manual", "record_type": "deal"},
                "steps": [{"id": "tell_erp", "type": "webhook", "connection": str(conn.uid)}],
            },
            name="Tell the ERP",
        )
        deal = DealFactory(title="Tractors")
        with django_capture_on_commit_callbacks(execute=True):
            instance = engine.manual_start(
                actor=workspace.owner, definition=definition, record=deal, record_type="deal"
            )
        assert Instance.objects.get(pk=instance.pk).state == "completed"
        [delivery] = Delivery.objects.filter(type=processes.EVENT_TYPE)
        assert delivery.status == "delivered"
    [arrival] = receiver.arrivals
    body = json.loads(arrival.body)
    assert (body["type"], body["kind"], body["record_id"]) == ("process.step", "deal", deal.pk)
    assert body["data"]["title"] == "Tractors"
    assert body["data"]["process"] == {"name": "Tell the ERP", "instance": instance.pk, "step": "tell_erp"}
    assert webhook_receiver.signature_valid(
        receiver.secret, arrival.headers["Kontor-Webhook-Timestamp"], arrival.headers["Kontor-Signature"], arrival.body
    )


def test_a_step_naming_a_gone_or_disabled_connection_stops_the_process(workspace, receiver) -> None:
    conn = hook(workspace, receiver)
    with tenant_context(workspace.tenant):
        definition = process(
            workspace.owner,
            {
                "trigger": {"type": "manual", "record_type": "deal"},
                "steps": [{"id": "w", "type": "webhook", "connection": str(conn.uid)}],
            },
        )
        core.connection_set_active(actor=workspace.owner, connection=conn, active=False)
        instance = engine.manual_start(
            actor=workspace.owner, definition=definition, record=DealFactory(), record_type="deal"
        )
        instance.refresh_from_db()
        assert instance.state == "failed" and "turned off" in instance.error
        assert not Delivery.objects.filter(type=processes.EVENT_TYPE).exists()
        assert processes.webhook_step_errors({"connection": "not-a-uuid"})
        assert processes.webhook_step_errors({"connection": str(conn.uid)}) == []
        with pytest.raises(ValidationError):
            processes.webhook_step(
                engine.StepContext(
                    instance=instance,
                    step={"connection": "00000000-0000-0000-0000-000000000000"},
                    run=instance.steps.get(),
                    record=None,
                    known_actor=workspace.owner,
                )
            )
