"""The AMI session against the local fake Asterisk: login, events, Ping, reconnection after a drop, a refused
login; the runner that turns a connection's events into finished calls; the one-shot Originate."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.telephony.ami import AmiAuthError, AmiClient, AmiSettings, originate
from integrations.telephony.calls import CallData
from integrations.telephony.runner import ConnectionRunner, Target, in_shard, targets
from tests.fakes.ami_server import FakeAmi, inbound_call

from .conftest import AMI_SECRET, AMI_USER, Setup


class Running:
    """An asyncio coroutine run in a thread of its own until stopped."""

    def __init__(self, make: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.make = make
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            await self.make(self.stop_event)

        self.loop.run_until_complete(main())

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def _settings(ami: FakeAmi, **overrides: Any) -> AmiSettings:
    values = {"host": ami.host, "port": ami.port, "username": AMI_USER, "secret": AMI_SECRET,
              "connect_timeout": 2.0, "ping_interval": 0.2, "backoff_max": 0.2, **overrides}  # fmt: skip
    return AmiSettings(**values)


@pytest.fixture
def events() -> Iterator[queue.Queue[dict[str, str]]]:
    yield queue.Queue()


def _take(q: queue.Queue[Any], name: str) -> dict[str, str]:
    while True:
        item = q.get(timeout=10)
        if not isinstance(item, dict) or item.get("Event") == name:
            return item


def test_logs_in_reads_events_and_pings(ami: FakeAmi, events: queue.Queue[dict[str, str]]) -> None:
    client = AmiClient(_settings(ami), events.put)
    with Running(client.run):
        ami.wait_for(lambda: ami.logins == 1)
        [login] = ami.actions_named("Login")
        assert (login["Username"], login["Secret"], login["ActionID"]) == (AMI_USER, AMI_SECRET, login["ActionID"])
        ami.emit([{"Event": "Newchannel", "Uniqueid": "1.1", "Linkedid": "1.1", "Channel": "PJSIP/x-1"}])
        assert _take(events, "Newchannel")["Uniqueid"] == "1.1"
        ami.wait_for(lambda: len(ami.actions_named("Ping")) >= 2)


def test_reconnects_after_the_server_drops_the_session(ami: FakeAmi, events: queue.Queue[dict[str, str]]) -> None:
    client = AmiClient(_settings(ami), events.put)
    with Running(client.run):
        ami.wait_for(lambda: ami.sessions == 1)
        ami.drop()
        ami.wait_for(lambda: ami.logins == 2 and ami.sessions == 1)
        ami.emit([{"Event": "Hangup", "Uniqueid": "2.1"}])
        assert _take(events, "Hangup")["Uniqueid"] == "2.1"


def test_reconnects_when_pings_go_unanswered(ami: FakeAmi, events: queue.Queue[dict[str, str]]) -> None:
    client = AmiClient(_settings(ami, connect_timeout=0.3), events.put)
    with Running(client.run):
        ami.wait_for(lambda: ami.logins == 1)
        ami.mute_pings = True
        ami.wait_for(lambda: ami.logins >= 2 or len(ami.actions_named("Login")) >= 2)


def test_a_refused_login_is_tried_again_later(ami: FakeAmi, events: queue.Queue[dict[str, str]]) -> None:
    client = AmiClient(_settings(ami, secret="wrong"), events.put)
    with Running(client.run):
        ami.wait_for(lambda: ami.refused_logins >= 2)
    assert ami.logins == 0


def test_the_runner_hands_over_finished_calls(ami: FakeAmi) -> None:
    calls: queue.Queue[CallData] = queue.Queue()
    target = Target(
        tenant_id=0,
        schema="x",
        connection_id=1,
        ami=_settings(ami),
        extensions=("101",),
        wait_for_cdr=False,
        recording_url="",
    )
    runner = ConnectionRunner(target, lambda _t, call: calls.put(call))
    with Running(runner.run):
        ami.wait_for(lambda: ami.sessions == 1)
        script = inbound_call(linkedid="3.1", caller="+79161234567")
        ami.emit(script[:3])
        ami.drop()  # the session drops in the middle of the call: the tracker keeps it
        ami.wait_for(lambda: ami.sessions == 1)
        ami.emit(script[3:])
        call = calls.get(timeout=10)
    assert (call.pbx_call_id, call.external, call.extension, call.result) == ("3.1", "+79161234567", "101", "answered")


def test_originate_sends_the_action(ami: FakeAmi) -> None:
    answer = originate(
        _settings(ami), {"Channel": "PJSIP/101", "Context": "from-internal", "Exten": "79161234567", "Priority": "1"}
    )
    assert answer["Response"] == "Success"
    [action] = ami.actions_named("Originate")
    assert (action["Channel"], action["Exten"], action["Context"]) == ("PJSIP/101", "79161234567", "from-internal")
    with pytest.raises(AmiAuthError):
        originate(_settings(ami, secret="wrong"), {"Channel": "PJSIP/101"})
    assert len(ami.actions_named("Originate")) == 1


def test_targets_are_the_active_asterisk_connections(setup: Setup) -> None:
    from django.db import connection

    from integrations.core import directory

    # The test's connections are not committed, so the directory has not heard of them: it reads the workspaces.
    directory._redis().delete(directory._BUILT)
    found = [t for t in targets() if t.schema == setup.workspace.schema]
    connection.set_tenant(setup.workspace.tenant)
    assert [(t.connection_id, t.ami.username, t.ami.secret, t.extensions) for t in found] == [
        (setup.asterisk.pk, AMI_USER, AMI_SECRET, ("101",))
    ]
    assert sum(in_shard(setup.workspace.schema, setup.asterisk.pk, (i, 3)) for i in range(3)) == 1
    setup.asterisk.is_active = False
    setup.asterisk.save()
    assert [t for t in targets() if t.schema == setup.workspace.schema] == []
    connection.set_tenant(setup.workspace.tenant)
