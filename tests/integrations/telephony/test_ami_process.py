"""`manage.py telephony_ami`'s supervisor end to end, with committed data (its writes happen in worker threads):
it finds the workspace's Asterisk connection, keeps a session with the fake Asterisk, logs a call from the
events in the workspace, and lets the session go when the connection is turned off."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.management import CommandError
from django.db import connection
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from integrations.core.models import Connection
from integrations.telephony.management.commands.telephony_ami import _shard
from integrations.telephony.models import Call
from integrations.telephony.runner import Supervisor
from tests.factories import ContactFactory
from tests.fakes.ami_server import FakeAmi, inbound_call

from .conftest import make_setup
from .test_ami_client import Running


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def test_the_supervisor_logs_calls_of_every_workspace(committed_db: Any, ami: FakeAmi, settings: Any) -> None:
    settings.TELEPHONY_AMI_RESCAN_SECONDS = 0.3
    settings.TELEPHONY_AMI_PING_SECONDS = 0.5
    workspace = committed_db()
    with tenant_context(workspace.tenant):
        setup = make_setup(workspace, ami_port=ami.port)
        contact = ContactFactory(phones=["+79161234567"], owner=workspace.owner)
    connection.set_schema_to_public()

    def logged() -> bool:
        with tenant_context(workspace.tenant):
            return Call.objects.filter(logged_at__isnull=False).exists()

    with Running(Supervisor().run):
        ami.wait_for(lambda: ami.sessions == 1, timeout=20)
        ami.emit(inbound_call(linkedid="1800000000.1", caller="+79161234567"))
        _wait(logged)
        with tenant_context(workspace.tenant):
            call = Call.objects.get()
            assert call.connection == setup.asterisk and call.contact == contact and call.user == setup.manager
            assert Activity.objects.get().contact == contact
            Connection.objects.filter(pk=setup.asterisk.pk).update(is_active=False)
        connection.set_schema_to_public()
        ami.wait_for(lambda: ami.sessions == 0, timeout=20)
    connection.set_schema_to_public()


def test_the_shard_option() -> None:
    assert _shard("0/1") == (0, 1) and _shard("2/3") == (2, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(CommandError):
            _shard(bad)
