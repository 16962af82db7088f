"""Asterisk's manager interface (AMI): its wire format, the tracker that turns a stream of channel events into
finished calls (a pure state machine over parsed events, fed by the client and by the tests alike), the asyncio
client that keeps a session (Login, Ping, reconnect with backoff), and a one-shot Originate for click-to-call.

AMI speaks blocks of "Key: Value\\r\\n" lines ended by an empty line; actions carry an ActionID that their
response repeats; events arrive between responses. The server greets with one line ("Asterisk Call Manager/x").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import logging
import random
import re
import socket
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field

from integrations.core.http import OutboundRefused, host_check
from integrations.telephony.calls import ANSWERED, BUSY, FAILED, INBOUND, MISSED, OUTBOUND, CallData

log = logging.getLogger(__name__)

Message = dict[str, str]
MAX_MESSAGE_BYTES = 64 * 1024
_ids = itertools.count(1)


class AmiError(Exception):
    """The AMI session failed (a refused login, a broken stream, no answer in time)."""


class AmiAuthError(AmiError):
    pass


# --- the wire format ----------------------------------------------------------------------------------------


def action_bytes(action: str, fields: Mapping[str, str] | None = None, *, action_id: str = "") -> bytes:
    """One action block. Values lose their line breaks: a value cannot start another header."""
    lines = [f"Action: {action}"]
    if action_id:
        lines.append(f"ActionID: {action_id}")
    for key, value in (fields or {}).items():
        lines.append(f"{key}: {_one_line(str(value))}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ").replace("\x00", "")


def message_parse(block: str) -> Message:
    message: Message = {}
    for line in block.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            message.setdefault(key.strip(), value.strip())
    return message


class MessageReader:
    """Splits the byte stream into messages; a block larger than MAX_MESSAGE_BYTES breaks the session."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages = []
        while b"\r\n\r\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
            if block.strip():
                messages.append(message_parse(block.decode("utf-8", errors="replace")))
        if len(self._buffer) > MAX_MESSAGE_BYTES:
            raise AmiError("a message larger than the limit")
        return messages


# --- calls from events (pure) ---------------------------------------------------------------------------------

_CHANNEL_PEER = re.compile(r"^(?:PJSIP|SIP|IAX2|DAHDI|Local)/([^-/@;]+)")
_DIAL_RESULT = {"ANSWER": ANSWERED, "BUSY": BUSY, "CHANUNAVAIL": FAILED, "CONGESTION": FAILED}
_CDR_RESULT = {"ANSWERED": ANSWERED, "NO ANSWER": MISSED, "BUSY": BUSY, "FAILED": FAILED, "CONGESTION": FAILED}
# A call still open after this long is given up (its Hangup was lost with a dropped session).
STALE_AFTER = datetime.timedelta(hours=12)
MAX_OPEN_CALLS = 10_000


@dataclass
class _Channel:
    uniqueid: str
    name: str
    caller: str = ""
    exten: str = ""
    hung_up: bool = False


@dataclass
class _Group:
    linkedid: str
    started_at: datetime.datetime
    channels: dict[str, _Channel] = field(default_factory=dict)
    first: _Channel | None = None
    answered_at: datetime.datetime | None = None
    answered_peer: str = ""
    dialed_peers: list[str] = field(default_factory=list)
    dial_targets: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    ended_at: datetime.datetime | None = None
    cdr: Message | None = None


def channel_peer(channel: str) -> str:
    """The peer of a channel name: "PJSIP/101-0000002a" -> "101"."""
    found = _CHANNEL_PEER.match(channel or "")
    return found.group(1) if found else ""


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


class CallTracker:
    """Follows the channels of each call (grouped by Linkedid) from Newchannel through Dial to the last Hangup,
    and hands back the finished call; with `wait_for_cdr`, it waits for the call's Cdr event (cdr_manager) and
    takes its disposition and billable seconds, or gives up waiting after `cdr_grace` seconds (see `expire`).

    `extensions`: the connection's internal numbers; empty, any peer of at most `extension_digits` digits is
    one. Event times come from the events' Timestamp (timestampevents=yes) or from `now`."""

    def __init__(
        self,
        *,
        extensions: Collection[str] = (),
        wait_for_cdr: bool = False,
        cdr_grace: float = 10.0,
        extension_digits: int = 6,
        recording_url_template: str = "",
    ) -> None:
        self.extensions = {str(e) for e in extensions}
        self.wait_for_cdr = wait_for_cdr
        self.cdr_grace = datetime.timedelta(seconds=cdr_grace)
        self.extension_digits = extension_digits
        self.recording_url_template = recording_url_template
        self._groups: dict[str, _Group] = {}
        self._linked: dict[str, str] = {}  # uniqueid -> linkedid

    def is_extension(self, peer: str) -> bool:
        if not peer:
            return False
        if self.extensions:
            return peer in self.extensions
        return peer.isdigit() and len(peer) <= self.extension_digits

    def feed(self, event: Mapping[str, str], now: datetime.datetime) -> list[CallData]:
        name = event.get("Event", "")
        at = _event_time(event, now)
        if name == "Newchannel":
            self._newchannel(event, at)
        elif name == "DialBegin" or (name == "Dial" and event.get("SubEvent") == "Begin"):
            self._dial_begin(event)
        elif name == "DialEnd" or (name == "Dial" and event.get("SubEvent") == "End"):
            self._dial_end(event, at)
        elif name == "Hangup":
            return self._hangup(event, at)
        elif name == "Cdr":
            return self._cdr(event)
        return []

    def expire(self, now: datetime.datetime) -> list[CallData]:
        """Calls done but still waiting for a Cdr past the grace, as they are; calls open too long, dropped."""
        finished = []
        for linkedid, group in list(self._groups.items()):
            if group.ended_at is not None and now - group.ended_at >= self.cdr_grace:
                finished.append(self._finish(linkedid))
            elif group.ended_at is None and now - group.started_at >= STALE_AFTER:
                self._forget(linkedid)
        return finished

    @property
    def open_calls(self) -> int:
        return len(self._groups)

    # -- events

    def _group(self, linkedid: str, at: datetime.datetime) -> _Group:
        group = self._groups.get(linkedid)
        if group is None:
            if len(self._groups) >= MAX_OPEN_CALLS:
                self._forget(min(self._groups, key=lambda k: self._groups[k].started_at))
            group = self._groups[linkedid] = _Group(linkedid=linkedid, started_at=at)
        return group

    def _newchannel(self, event: Mapping[str, str], at: datetime.datetime) -> None:
        uniqueid = event.get("Uniqueid", "")
        if not uniqueid:
            return
        linkedid = event.get("Linkedid") or uniqueid
        group = self._group(linkedid, at)
        channel = _Channel(
            uniqueid=uniqueid,
            name=event.get("Channel", ""),
            caller=event.get("CallerIDNum", ""),
            exten=event.get("Exten", ""),
        )
        group.channels[uniqueid] = channel
        self._linked[uniqueid] = linkedid
        if uniqueid == linkedid or group.first is None:
            group.first = channel

    def _linkedid_of(self, event: Mapping[str, str]) -> str:
        uniqueid = event.get("Uniqueid") or event.get("UniqueID") or ""
        return event.get("Linkedid") or self._linked.get(uniqueid, "")

    def _dial_begin(self, event: Mapping[str, str]) -> None:
        group = self._groups.get(self._linkedid_of(event))
        if group is None:
            return
        dest = event.get("DestChannel") or event.get("Destination") or ""
        peer = channel_peer(dest)
        if peer and peer not in group.dialed_peers:
            group.dialed_peers.append(peer)
        target = (event.get("DialString") or "").rsplit("/", 1)[-1]
        for value in (target, event.get("DestCallerIDNum", "")):
            if value and value not in group.dial_targets:
                group.dial_targets.append(value)

    def _dial_end(self, event: Mapping[str, str], at: datetime.datetime) -> None:
        group = self._groups.get(self._linkedid_of(event))
        if group is None:
            return
        status = (event.get("DialStatus") or "").upper()
        group.statuses.append(status)
        if status == "ANSWER" and group.answered_at is None:
            group.answered_at = at
            group.answered_peer = channel_peer(event.get("DestChannel") or event.get("Destination") or "")

    def _hangup(self, event: Mapping[str, str], at: datetime.datetime) -> list[CallData]:
        linkedid = self._linkedid_of(event)
        group = self._groups.get(linkedid)
        uniqueid = event.get("Uniqueid", "")
        if group is None or uniqueid not in group.channels:
            return []
        group.channels[uniqueid].hung_up = True
        if group.ended_at is None and all(c.hung_up for c in group.channels.values()):
            group.ended_at = at
            if not self.wait_for_cdr or group.cdr is not None:
                return [self._finish(linkedid)]
        return []

    def _cdr(self, event: Mapping[str, str]) -> list[CallData]:
        linkedid = self._linked.get(event.get("UniqueID") or event.get("Uniqueid") or "", "")
        group = self._groups.get(linkedid)
        if group is None:
            return []
        group.cdr = dict(event)
        if group.ended_at is not None:
            return [self._finish(linkedid)]
        return []

    # -- the finished call

    def _forget(self, linkedid: str) -> None:
        group = self._groups.pop(linkedid, None)
        if group is not None:
            for uniqueid in group.channels:
                self._linked.pop(uniqueid, None)

    def _finish(self, linkedid: str) -> CallData:
        group = self._groups[linkedid]
        self._forget(linkedid)
        first = group.first or _Channel(uniqueid=linkedid, name="")
        own = channel_peer(first.name)
        if self.is_extension(own):
            direction, extension = OUTBOUND, own
            candidates = [*group.dial_targets, first.exten]
            external = next((c for c in candidates if self._external(c)), "")
            line = first.caller if not self.is_extension(first.caller) else ""
        else:
            direction = INBOUND
            extension = group.answered_peer or next((p for p in group.dialed_peers if self.is_extension(p)), "")
            external, line = first.caller, first.exten
        result = self._result(group)
        ended = group.ended_at or group.started_at
        duration = int((ended - group.answered_at).total_seconds()) if group.answered_at else 0
        if group.cdr is not None:
            result = _CDR_RESULT.get((group.cdr.get("Disposition") or "").upper(), result)
            if (billable := group.cdr.get("BillableSeconds", "")).isdigit():
                duration = int(billable)
        recording = ""
        if self.recording_url_template and result == ANSWERED:
            recording = self.recording_url_template.replace("{linkedid}", linkedid)
        return CallData(
            pbx_call_id=linkedid,
            direction=direction,
            external=external,
            line=line,
            extension=extension if self.is_extension(extension) else "",
            started_at=group.started_at,
            answered_at=group.answered_at if result == ANSWERED else None,
            ended_at=ended,
            duration=max(duration, 0) if result == ANSWERED else 0,
            result=result,
            recording_url=recording,
        )

    def _external(self, value: str) -> bool:
        digits = _digits(value)
        return len(digits) >= 7 and not self.is_extension(value)

    @staticmethod
    def _result(group: _Group) -> str:
        if group.answered_at is not None:
            return ANSWERED
        for status in group.statuses:
            if status in _DIAL_RESULT:
                return _DIAL_RESULT[status]
        return MISSED


def _event_time(event: Mapping[str, str], now: datetime.datetime) -> datetime.datetime:
    stamp = event.get("Timestamp", "")
    try:
        return datetime.datetime.fromtimestamp(float(stamp), tz=datetime.UTC) if stamp else now
    except (ValueError, OverflowError, OSError):
        return now


def calls_from_events(events: list[Mapping[str, str]], now: datetime.datetime, **options: object) -> list[CallData]:
    """The finished calls of a sequence of events (a whole session's, or a test's script)."""
    tracker = CallTracker(**options)  # type: ignore[arg-type]
    finished = []
    for event in events:
        finished += tracker.feed(event, now)
    return finished


# --- the address -----------------------------------------------------------------------------------------------


def address_check(host: str, port: int) -> None:
    """The PBX's address, as integrations.core.http checks an HTTP one (a private network only if allowed)."""
    host_check(host, port)


# --- the session -----------------------------------------------------------------------------------------------


@dataclass
class AmiSettings:
    host: str
    port: int
    username: str
    secret: str
    connect_timeout: float = 5.0
    ping_interval: float = 20.0
    backoff_max: float = 60.0


class AmiClient:
    """One AMI session kept open: logs in, pings, hands each event to `on_event`, reconnects after a drop with a
    doubling backoff (with jitter, reset once a session logged in), until `stop` is set."""

    def __init__(self, settings: AmiSettings, on_event: Callable[[Message], None], *, name: str = "") -> None:
        self.settings = settings
        self.on_event = on_event
        self.name = name or f"{settings.host}:{settings.port}"
        self.logins = 0
        self.connected = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, asyncio.Future[Message]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            logins = self.logins
            try:
                await self._session(stop)
            except AmiAuthError as exc:
                log.error("telephony: AMI %s refused the login: %s", self.name, exc)
                delay = self.settings.backoff_max
            except (OSError, TimeoutError, AmiError, OutboundRefused) as exc:
                log.warning("telephony: AMI %s: %s", self.name, exc or type(exc).__name__)
            finally:
                self.connected.clear()
            if self.logins > logins:
                delay = 1.0  # the session had logged in: the drop is news, try again soon
            if stop.is_set():
                break
            wait = min(delay, self.settings.backoff_max) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
            delay = min(delay * 2, self.settings.backoff_max)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def action(self, action: str, fields: Mapping[str, str] | None = None, *, timeout: float = 10.0) -> Message:
        """Send an action and wait for its response."""
        if self._writer is None:
            raise AmiError("not connected")
        action_id = f"kontor-{next(_ids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            self._writer.write(action_bytes(action, fields, action_id=action_id))
            await self._writer.drain()
            return await asyncio.wait_for(future, timeout=timeout)
        finally:
            self._pending.pop(action_id, None)

    async def _session(self, stop: asyncio.Event) -> None:
        s = self.settings
        await asyncio.to_thread(address_check, s.host, s.port)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(s.host, s.port), timeout=s.connect_timeout)
        self._writer = writer
        reading = None
        try:
            banner = await asyncio.wait_for(reader.readline(), timeout=s.connect_timeout)
            if not banner.startswith(b"Asterisk Call Manager"):
                raise AmiError(f"not an AMI server: {banner[:60]!r}")
            reading = asyncio.create_task(self._read(reader))
            answer = await self.action("Login", {"Username": s.username, "Secret": s.secret, "Events": "on"})
            if answer.get("Response", "").lower() != "success":
                raise AmiAuthError(answer.get("Message", "login refused"))
            self.logins += 1
            self.connected.set()
            log.info("telephony: AMI %s logged in", self.name)
            while not stop.is_set() and not reading.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stop.wait()), timeout=s.ping_interval)
                if stop.is_set() or reading.done():
                    break
                try:
                    await self.action("Ping", timeout=s.connect_timeout)
                except TimeoutError as exc:
                    raise AmiError("no answer to a Ping") from exc
            if reading.done() and not stop.is_set():
                reading.result()
                raise AmiError("the server closed the session")
        finally:
            self._writer = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(AmiError("the session ended"))
            if reading is not None:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        parser = MessageReader()
        while True:
            data = await reader.read(65536)
            if not data:
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(AmiError("the server closed the session"))
                return
            for message in parser.feed(data):
                action_id = message.get("ActionID", "")
                if "Response" in message and action_id in self._pending:
                    future = self._pending[action_id]
                    if not future.done():
                        future.set_result(message)
                elif "Event" in message:
                    try:
                        self.on_event(message)
                    except Exception:
                        log.exception("telephony: AMI %s: an event could not be handled", self.name)


# --- one action in a short session (click-to-call from a web request) --------------------------------------------


def _messages(sock: socket.socket) -> Iterator[Message]:
    parser = MessageReader()
    while True:
        data = sock.recv(65536)
        if not data:
            raise AmiError("the server closed the session")
        yield from parser.feed(data)


def _response(messages: Iterator[Message], action_id: str) -> Message:
    for message in messages:
        if message.get("ActionID") == action_id and "Response" in message:
            return message
    raise AmiError("no response")  # pragma: no cover - _messages raises first


def originate(settings: AmiSettings, fields: Mapping[str, str], *, timeout: float = 5.0) -> Message:
    """Log in, send one Originate (async: the PBX answers at once, the call follows), log off; the response."""
    address_check(settings.host, settings.port)
    with socket.create_connection((settings.host, settings.port), timeout=timeout) as sock:
        banner = b""
        while not banner.endswith(b"\n") and len(banner) < 200:
            chunk = sock.recv(1)
            if not chunk:
                raise AmiError("the server closed the session")
            banner += chunk
        if not banner.startswith(b"Asterisk Call Manager"):
            raise AmiError("not an AMI server")
        messages = _messages(sock)
        login_id, call_id = f"kontor-{next(_ids)}", f"kontor-{next(_ids)}"
        sock.sendall(
            action_bytes(
                "Login", {"Username": settings.username, "Secret": settings.secret, "Events": "off"}, action_id=login_id
            )
        )
        answer = _response(messages, login_id)
        if answer.get("Response", "").lower() != "success":
            raise AmiAuthError(answer.get("Message", "login refused"))
        sock.sendall(action_bytes("Originate", fields, action_id=call_id))
        answer = _response(messages, call_id)
        with contextlib.suppress(OSError):
            sock.sendall(action_bytes("Logoff", action_id=f"kontor-{next(_ids)}"))
        return answer
