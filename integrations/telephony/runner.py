"""The process behind `manage.py telephony_ami`: one AMI session per active Asterisk connection of every
workspace (or of this process's shard of them), each feeding its own CallTracker; finished calls are logged
one at a time in a worker thread, in the connection's workspace. Connections added, changed, turned off or
removed are picked up every TELEPHONY_AMI_RESCAN_SECONDS."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from integrations.core import directory
from integrations.core.models import Connection
from integrations.core.services import connection_secrets
from integrations.telephony import services
from integrations.telephony.ami import AmiClient, AmiSettings, CallTracker, Message
from integrations.telephony.calls import CallData
from integrations.telephony.kinds import ASTERISK
from tenants.models import Tenant

log = logging.getLogger(__name__)
EXPIRE_EVERY = 5.0


@dataclass(frozen=True)
class Target:
    """One Asterisk connection to keep a session with, and what it was read with (a change restarts it)."""

    tenant_id: int
    schema: str
    connection_id: int
    ami: AmiSettings
    extensions: tuple[str, ...]
    wait_for_cdr: bool
    recording_url: str

    @property
    def key(self) -> str:
        data = json.dumps(
            [self.schema, self.connection_id, vars(self.ami), self.extensions, self.wait_for_cdr, self.recording_url]
        )
        return hashlib.sha256(data.encode()).hexdigest()


def in_shard(schema: str, connection_id: int, shard: tuple[int, int]) -> bool:
    index, count = shard
    return zlib.crc32(f"{schema}:{connection_id}".encode()) % count == index


def target_of(tenant: Tenant, conn: Connection) -> Target | None:
    s = conn.settings
    if not s.get("host") or not s.get("username"):
        return None
    try:
        secret = connection_secrets(conn).get("secret", "")
        port = int(s.get("port") or 5038)
    except Exception:
        log.warning("telephony: connection %s of %s cannot be read", conn.pk, tenant.schema_name)
        return None
    return Target(
        tenant_id=tenant.pk,
        schema=tenant.schema_name,
        connection_id=conn.pk,
        ami=AmiSettings(
            host=str(s["host"]),
            port=port,
            username=str(s["username"]),
            secret=secret,
            connect_timeout=settings.TELEPHONY_AMI_CONNECT_TIMEOUT,
            ping_interval=settings.TELEPHONY_AMI_PING_SECONDS,
            backoff_max=settings.TELEPHONY_AMI_RECONNECT_MAX_SECONDS,
        ),
        extensions=tuple(sorted(str(e) for e in (s.get("extensions") or {}))),
        wait_for_cdr=bool(s.get("wait_for_cdr")),
        recording_url=str(s.get("recording_url") or ""),
    )


def targets(shard: tuple[int, int] = (0, 1)) -> list[Target]:
    """The active Asterisk connections (of this shard), found through the core's directory: the workspaces that
    have one are read, never the whole fleet."""
    mine: dict[str, list[int]] = {}
    for schema, connection_id in directory.members(ASTERISK):
        if in_shard(schema, connection_id, shard):
            mine.setdefault(schema, []).append(connection_id)
    found = []
    for tenant in Tenant.objects.filter(schema_name__in=list(mine), kind=Tenant.Kind.WORKSPACE):
        with tenant_context(tenant):
            active = Connection.objects.filter(
                pk__in=mine[tenant.schema_name], kind=ASTERISK, is_active=True, identity__is_active=True
            )
            found += [target for conn in active if (target := target_of(tenant, conn))]
    return found


def _targets_read(shard: tuple[int, int]) -> list[Target]:
    close_old_connections()
    return targets(shard)


def call_store(target: Target, call: CallData) -> None:
    """Log one finished call in its workspace (in a worker thread)."""
    close_old_connections()
    try:
        tenant = Tenant.objects.get(pk=target.tenant_id)
        with tenant_context(tenant):
            conn = Connection.objects.select_related("identity").filter(pk=target.connection_id, is_active=True).first()
            if conn is not None:
                services.call_handle(conn, call, request={"source": "ami"})
    except Exception:
        log.exception("telephony: call %s of connection %s not logged", call.pbx_call_id, target.connection_id)


class ConnectionRunner:
    """The session with one PBX and the tracker of its calls; finished calls go to `sink`."""

    def __init__(self, target: Target, sink: Callable[[Target, CallData], None]) -> None:
        self.target = target
        self.sink = sink
        self.tracker = CallTracker(
            extensions=target.extensions, wait_for_cdr=target.wait_for_cdr, recording_url_template=target.recording_url
        )
        self.client = AmiClient(target.ami, self._event, name=f"{target.schema}/{target.connection_id}")

    def _event(self, message: Message) -> None:
        for call in self.tracker.feed(message, timezone.now()):
            self.sink(self.target, call)

    async def run(self, stop: asyncio.Event) -> None:
        expiring = asyncio.create_task(self._expire(stop))
        try:
            await self.client.run(stop)
        finally:
            expiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await expiring

    async def _expire(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=EXPIRE_EVERY)
            for call in self.tracker.expire(timezone.now()):
                self.sink(self.target, call)


class Supervisor:
    def __init__(
        self, *, shard: tuple[int, int] = (0, 1), store: Callable[[Target, CallData], None] = call_store
    ) -> None:
        self.shard = shard
        self.store = store
        self.queue: asyncio.Queue[tuple[Target, CallData]] = asyncio.Queue()
        # One thread does every database read and write of the process (one connection, kept between calls).
        self.database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telephony-db")
        self.runners: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}

    def _sink(self, target: Target, call: CallData) -> None:
        self.queue.put_nowait((target, call))

    async def _write(self) -> None:
        while True:
            target, call = await self.queue.get()
            try:
                await asyncio.get_running_loop().run_in_executor(self.database, self.store, target, call)
            finally:
                self.queue.task_done()

    async def run(self, stop: asyncio.Event) -> None:
        writer = asyncio.create_task(self._write())
        try:
            while not stop.is_set():
                try:
                    read = await asyncio.get_running_loop().run_in_executor(self.database, _targets_read, self.shard)
                    found = {t.key: t for t in read}
                except Exception:
                    log.exception("telephony: the connections could not be read")
                    found = None
                if found is not None:
                    self._apply(found)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=settings.TELEPHONY_AMI_RESCAN_SECONDS)
        finally:
            for key in list(self.runners):
                self._stop(key)
            tasks = [task for task, _ in self.runners.values()]
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.queue.join()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await asyncio.get_running_loop().run_in_executor(self.database, connections.close_all)
            self.database.shutdown(wait=True)

    def _apply(self, found: dict[str, Target]) -> None:
        for key in [k for k in self.runners if k not in found]:
            self._stop(key)
            del self.runners[key]
        for key, target in found.items():
            if key not in self.runners:
                stop = asyncio.Event()
                runner = ConnectionRunner(target, self._sink)
                self.runners[key] = (asyncio.create_task(runner.run(stop)), stop)
        log.info("telephony: %d AMI session(s)", len(self.runners))

    def _stop(self, key: str) -> None:
        _task, stop = self.runners[key]
        stop.set()
