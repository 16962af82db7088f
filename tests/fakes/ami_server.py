"""A local fake of Asterisk's manager interface (AMI) for the telephony tests and the benchmark.

It speaks AMI's wire format: the greeting line, then blocks of "Key: Value\\r\\n" lines ended by an empty line.
It answers Login (checking the user and secret), Ping, Originate and Logoff, keeps every action it received,
sends scripted event sequences to the sessions logged in, and can drop every session (to test reconnection).
It runs its own asyncio loop in a thread, on 127.0.0.1 and a free port.

    with FakeAmi(username="kontor", secret="s3cret") as ami:
        ...  # point a connection at ami.host / ami.port
        ami.wait_for(lambda: ami.logins >= 1)
        ami.emit(inbound_call(...))  # a list of events, each a dict
        ami.drop()  # every session closed by the server
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BANNER = b"Asterisk Call Manager/5.0.1\r\n"


def block(fields: Mapping[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()


@dataclass
class _Session:
    writer: asyncio.StreamWriter
    logged_in: bool = False


@dataclass
class FakeAmi:
    username: str = "kontor"
    secret: str = "secret"
    # Events sent to the session right after an Originate (a script of the call it starts), if any.
    on_originate: Callable[[Mapping[str, str]], list[dict[str, str]]] | None = None
    # Ping is not answered while True (a PBX that hangs without closing).
    mute_pings: bool = False
    actions: list[dict[str, str]] = field(default_factory=list)
    logins: int = 0
    refused_logins: int = 0
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        self._sessions: list[_Session] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-ami", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._lock = threading.Lock()

    # -- life

    def start(self) -> FakeAmi:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, self.host, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            self._call(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeAmi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any, timeout: float = 5.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- what a test does

    def reset(self) -> None:
        with self._lock:
            self.actions.clear()
        self.logins = self.refused_logins = 0
        self.mute_pings = False
        self.on_originate = None

    @property
    def sessions(self) -> int:
        return sum(1 for s in self._sessions if s.logged_in)

    def emit(self, events: Iterable[Mapping[str, str]]) -> None:
        """Send the events, in order, to every logged-in session."""
        payload = b"".join(block({"Event": e["Event"], **{k: v for k, v in e.items() if k != "Event"}}) for e in events)

        async def send() -> None:
            for session in list(self._sessions):
                if session.logged_in:
                    session.writer.write(payload)
                    await session.writer.drain()

        self._call(send())

    def drop(self) -> None:
        """Close every session from the server's side."""

        async def close() -> None:
            for session in list(self._sessions):
                session.writer.close()
            self._sessions.clear()

        self._call(close())

    def actions_named(self, name: str) -> list[dict[str, str]]:
        with self._lock:
            return [a for a in self.actions if a.get("Action", "").lower() == name.lower()]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("the fake AMI did not see what was expected in time")
            time.sleep(0.01)

    # -- the server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer=writer)
        self._sessions.append(session)
        writer.write(BANNER)
        buffer = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    action: dict[str, str] = {}
                    for line in raw.decode().split("\r\n"):
                        key, _, value = line.partition(":")
                        action.setdefault(key.strip(), value.strip())
                    with self._lock:
                        self.actions.append(action)
                    if not await self._answer(session, action):
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            if session in self._sessions:
                self._sessions.remove(session)
            writer.close()

    async def _answer(self, session: _Session, action: dict[str, str]) -> bool:
        name = action.get("Action", "").lower()
        reply = {"Response": "Success", "ActionID": action.get("ActionID", "")}
        keep = True
        if name == "login":
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                session.logged_in = True
                self.logins += 1
                reply["Message"] = "Authentication accepted"
            else:
                self.refused_logins += 1
                reply.update(Response="Error", Message="Authentication failed")
                keep = False
        elif not session.logged_in:
            reply.update(Response="Error", Message="Permission denied")
        elif name == "ping":
            if self.mute_pings:
                return True
            reply.update(Ping="Pong", Timestamp=f"{time.time():.6f}")
        elif name == "originate":
            reply["Message"] = "Originate successfully queued"
        elif name == "logoff":
            reply.update(Response="Goodbye", Message="Thanks for all the fish.")
            keep = False
        else:
            reply.update(Response="Error", Message="Invalid/unknown command")
        session.writer.write(block(reply))
        if name == "login" and session.logged_in:
            session.writer.write(block({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}))
        if name == "originate" and self.on_originate is not None and reply["Response"] == "Success":
            for event in self.on_originate(action):
                session.writer.write(block(event))
        await session.writer.drain()
        return keep


# --- scripted calls, as Asterisk 16+ reports them -------------------------------------------------------------


def _channel(kind: str, peer: str, n: int) -> str:
    return f"PJSIP/{peer}-{n:08x}"


def inbound_call(
    *,
    linkedid: str,
    caller: str,
    did: str = "74951234567",
    extension: str = "101",
    status: str = "ANSWER",
    talk: float = 65.0,
    start: float = 1_700_000_000.0,
    trunk: str = "provider",
    cdr: bool = False,
) -> list[dict[str, str]]:
    """Newchannel (trunk), Newchannel (extension), DialBegin, DialEnd, Hangup x2 (and a Cdr): a call from
    `caller` to the DID, rung on `extension`, answered or not (`status`: ANSWER, NOANSWER, BUSY, CANCEL...)."""
    a, b = linkedid, f"{linkedid}1"
    trunk_ch, ext_ch = _channel("trunk", trunk, int(float(linkedid) * 10) % 10**8), _channel("ext", extension, 2)
    ring = start + 1
    answered = ring + 4
    end = answered + talk if status == "ANSWER" else ring + 20
    events = [
        {
            "Event": "Newchannel",
            "Channel": trunk_ch,
            "ChannelState": "0",
            "CallerIDNum": caller,
            "CallerIDName": "",
            "Exten": did,
            "Context": "from-trunk",
            "Uniqueid": a,
            "Linkedid": a,
            "Timestamp": f"{start:.6f}",
        },
        {
            "Event": "Newchannel",
            "Channel": ext_ch,
            "ChannelState": "0",
            "CallerIDNum": extension,
            "Exten": extension,
            "Context": "from-internal",
            "Uniqueid": b,
            "Linkedid": a,
            "Timestamp": f"{ring:.6f}",
        },
        {
            "Event": "DialBegin",
            "Channel": trunk_ch,
            "Uniqueid": a,
            "Linkedid": a,
            "DestChannel": ext_ch,
            "DestUniqueid": b,
            "DestLinkedid": a,
            "DestCallerIDNum": extension,
            "DialString": extension,
            "Timestamp": f"{ring:.6f}",
        },
        {
            "Event": "DialEnd",
            "Channel": trunk_ch,
            "Uniqueid": a,
            "Linkedid": a,
            "DestChannel": ext_ch,
            "DestUniqueid": b,
            "DestLinkedid": a,
            "DialStatus": status,
            "Timestamp": f"{(answered if status == 'ANSWER' else end):.6f}",
        },
        {"Event": "Hangup", "Channel": ext_ch, "Uniqueid": b, "Linkedid": a, "Cause": "16", "Timestamp": f"{end:.6f}"},
        {
            "Event": "Hangup",
            "Channel": trunk_ch,
            "Uniqueid": a,
            "Linkedid": a,
            "Cause": "16",
            "Timestamp": f"{end:.6f}",
        },
    ]
    if cdr:
        events.append(
            {
                "Event": "Cdr",
                "Source": caller,
                "Destination": extension,
                "Channel": trunk_ch,
                "DestinationChannel": ext_ch,
                "Duration": str(int(end - start)),
                "BillableSeconds": str(int(end - answered)) if status == "ANSWER" else "0",
                "Disposition": {"ANSWER": "ANSWERED", "BUSY": "BUSY"}.get(status, "NO ANSWER"),
                "UniqueID": a,
            }
        )
    return events  # fmt: skip


def outbound_call(
    *,
    linkedid: str,
    number: str,
    extension: str = "101",
    status: str = "ANSWER",
    talk: float = 30.0,
    start: float = 1_700_000_000.0,
    trunk: str = "provider",
) -> list[dict[str, str]]:
    """The extension dials `number` through the trunk (as after an Originate of the extension's channel)."""
    a, b = linkedid, f"{linkedid}1"
    ext_ch, trunk_ch = _channel("ext", extension, 3), _channel("trunk", trunk, 4)
    answered = start + 6
    end = answered + talk if status == "ANSWER" else start + 25
    return [
        {"Event": "Newchannel", "Channel": ext_ch, "CallerIDNum": extension, "Exten": number,
         "Context": "from-internal", "Uniqueid": a, "Linkedid": a, "Timestamp": f"{start:.6f}"},
        {"Event": "Newchannel", "Channel": trunk_ch, "CallerIDNum": number, "Exten": "s",
         "Context": "from-internal", "Uniqueid": b, "Linkedid": a, "Timestamp": f"{start + 1:.6f}"},
        {"Event": "DialBegin", "Channel": ext_ch, "Uniqueid": a, "Linkedid": a, "DestChannel": trunk_ch,
         "DestUniqueid": b, "DestCallerIDNum": number, "DialString": f"{trunk}/{number}",
         "Timestamp": f"{start + 1:.6f}"},
        {"Event": "DialEnd", "Channel": ext_ch, "Uniqueid": a, "Linkedid": a, "DestChannel": trunk_ch,
         "DestUniqueid": b, "DialStatus": status, "Timestamp": f"{(answered if status == 'ANSWER' else end):.6f}"},
        {"Event": "Hangup", "Channel": trunk_ch, "Uniqueid": b, "Linkedid": a, "Cause": "16",
         "Timestamp": f"{end:.6f}"},
        {"Event": "Hangup", "Channel": ext_ch, "Uniqueid": a, "Linkedid": a, "Cause": "16", "Timestamp": f"{end:.6f}"},
    ]  # fmt: skip
