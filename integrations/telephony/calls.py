"""A call as a PBX describes it, whichever PBX: what the AMI event tracker and the Zadarma notifications make,
and what services.call_log writes. Plain data, JSON-able (it is the replay of a failed log entry)."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field
from typing import Any

INBOUND, OUTBOUND = "inbound", "outbound"
ANSWERED, MISSED, BUSY, FAILED = "answered", "missed", "busy", "failed"


@dataclass
class CallData:
    pbx_call_id: str
    direction: str  # INBOUND / OUTBOUND
    # The other party's number as the PBX sent it, and the line's own (the DID called, the caller id used).
    external: str
    line: str = ""
    extension: str = ""  # the internal extension that answered (inbound) or placed (outbound) the call
    started_at: datetime.datetime | None = None
    answered_at: datetime.datetime | None = None
    ended_at: datetime.datetime | None = None
    duration: int = 0  # talk time, seconds
    result: str = ""  # "" while the call goes on
    recording_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return bool(self.result)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started_at", "answered_at", "ended_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallData:
        values = dict(data)
        for key in ("started_at", "answered_at", "ended_at"):
            values[key] = datetime.datetime.fromisoformat(values[key]) if values.get(key) else None
        return cls(**values)
