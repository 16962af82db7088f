"""Telephony in the background: fetching a Zadarma recording's link once Zadarma says it is saved (run in the
workspace's schema, by tenant-schemas-celery; safe to run twice)."""

from __future__ import annotations

import logging

from celery import shared_task

from integrations.core.models import Connection
from integrations.telephony import services
from integrations.telephony.kinds import ZADARMA

log = logging.getLogger(__name__)


@shared_task(name="integrations.telephony.tasks.recording_fetch", ignore_result=True)
def recording_fetch(connection_id: int, pbx_call_id: str, call_id_with_rec: str) -> bool:
    conn = Connection.objects.select_related("identity").filter(pk=connection_id, kind=ZADARMA, is_active=True).first()
    if conn is None:
        return False
    link = services.recording_fetch(conn, call_id_with_rec)
    if not link:
        log.warning("telephony: no recording link for call %s of connection %s", pbx_call_id, connection_id)
        return False
    return services.call_recording_set(connection=conn, pbx_call_id=pbx_call_id, url=link) is not None
