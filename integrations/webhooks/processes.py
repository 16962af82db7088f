"""The business processes' "call a webhook" step: the record, as the connection's identity may see it, sent to
the receiver through the same deliveries as events (signed, retried, logged), once per step run."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.processes.engine import Result, StepContext
from integrations.core.models import Connection
from integrations.webhooks import services
from integrations.webhooks.models import Delivery
from tenants.events.outbox import public_snapshot

STEP_TYPE = "webhook"
EVENT_TYPE = "process.step"
# Delivery ids of process steps: uuid5 of the step run under this namespace, so a step run sends one delivery.
_NAMESPACE = uuid.UUID("7d0c1c55-52a5-4c3b-9a4f-0f1c2b6e3a11")


def _receiver(uid: object) -> Connection | None:
    try:
        key = uuid.UUID(str(uid))
    except ValueError:
        return None
    return Connection.objects.select_related("identity", "identity__role").filter(kind=services.KIND, uid=key).first()


def webhook_step(ctx: StepContext) -> Result:
    """Queue one signed delivery of the record to the step's webhook connection."""
    conn = _receiver(ctx.step.get("connection"))
    if conn is None:
        raise ValidationError(_("The webhook connection of this step no longer exists."))
    if not conn.is_active:
        raise ValidationError(_("The webhook connection of this step is turned off."))
    data = public_snapshot(ctx.record) if ctx.record is not None else {}
    if ctx.record is not None:
        from tenants.accounts import policy

        hidden = policy.concealed(policy.hidden_fields(conn.identity, ctx.record_type), ctx.record_type)
        data = {k: v for k, v in data.items() if k not in hidden and k.removesuffix("_id") not in hidden}
    data["process"] = {
        "name": ctx.instance.definition.name,
        "instance": ctx.instance.pk,
        "step": ctx.run.step_id,
    }
    event_uuid = uuid.uuid5(_NAMESPACE, f"{ctx.instance.pk}:{ctx.run.pk}")
    body = services.payload(
        event_uuid=event_uuid,
        type=EVENT_TYPE,
        kind=ctx.record_type or "process",
        record_id=ctx.instance.record_id,
        occurred_at=timezone.now(),
        data=data,
        fields=[],
    )
    [delivery] = Delivery.objects.bulk_create(
        [
            Delivery(
                connection=conn,
                event_uuid=event_uuid,
                type=EVENT_TYPE,
                kind=ctx.record_type or "process",
                record_id=ctx.instance.record_id,
                body=body,
            )
        ],
        update_conflicts=True,
        unique_fields=["connection", "event_uuid"],
        update_fields=["type"],
    )
    if delivery.pk is not None:
        services.queue_after_commit([delivery.pk])
    return Result()


def webhook_step_errors(step: dict[str, object]) -> list[str]:
    """The step names an existing webhook connection."""
    if _receiver(step.get("connection")) is None:
        return [_("Choose one of the workspace's webhook connections.")]
    return []


def webhook_choices() -> list[tuple[str, str]]:
    return [(str(c.uid), c.name) for c in Connection.objects.filter(kind=services.KIND).order_by("name")]
