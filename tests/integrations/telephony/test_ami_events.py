"""The AMI event tracker, a pure function of the events: scripted sequences as Asterisk sends them."""

from __future__ import annotations

import datetime

from integrations.telephony.ami import CallTracker, MessageReader, action_bytes, calls_from_events, channel_peer
from tests.fakes.ami_server import block, inbound_call, outbound_call

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def test_an_answered_inbound_call() -> None:
    [call] = calls_from_events(inbound_call(linkedid="1700000000.1", caller="+79161234567", talk=65), NOW)
    assert call.pbx_call_id == "1700000000.1"
    assert (call.direction, call.external, call.line, call.extension) == (
        "inbound",
        "+79161234567",
        "74951234567",
        "101",
    )
    assert (call.result, call.duration) == ("answered", 65)
    assert call.started_at == datetime.datetime.fromtimestamp(1_700_000_000, tz=datetime.UTC)
    assert call.answered_at is not None and call.ended_at is not None


def test_unanswered_busy_and_failed_inbound_calls() -> None:
    for status, result in (("NOANSWER", "missed"), ("CANCEL", "missed"), ("BUSY", "busy"), ("CHANUNAVAIL", "failed")):
        [call] = calls_from_events(inbound_call(linkedid="1.1", caller="+79161234567", status=status), NOW)
        assert (call.result, call.duration, call.answered_at, call.extension) == (result, 0, None, "101")


def test_an_outbound_call_finds_the_number_dialled() -> None:
    [call] = calls_from_events(outbound_call(linkedid="2.1", number="79161234567", talk=30), NOW)
    assert (call.direction, call.external, call.extension, call.result, call.duration) == (
        "outbound", "79161234567", "101", "answered", 30
    )  # fmt: skip


def test_nothing_until_the_last_channel_hangs_up() -> None:
    events = inbound_call(linkedid="3.1", caller="+79161234567")
    tracker = CallTracker()
    assert [c for e in events[:-1] for c in tracker.feed(e, NOW)] == []
    assert tracker.open_calls == 1
    assert len(tracker.feed(events[-1], NOW)) == 1
    assert tracker.open_calls == 0


def test_with_cdr_the_call_waits_for_its_cdr_and_takes_its_figures() -> None:
    events = inbound_call(linkedid="4.1", caller="+79161234567", talk=65, cdr=True)
    events[-1]["BillableSeconds"] = "61"
    tracker = CallTracker(wait_for_cdr=True)
    finished = [c for e in events[:-1] for c in tracker.feed(e, NOW)]
    assert finished == []
    [call] = tracker.feed(events[-1], NOW)
    assert (call.result, call.duration) == ("answered", 61)


def test_a_cdr_that_never_comes_is_given_up_after_the_grace() -> None:
    events = inbound_call(linkedid="5.1", caller="+79161234567", status="NOANSWER")
    tracker = CallTracker(wait_for_cdr=True, cdr_grace=10)
    end = datetime.datetime.fromtimestamp(float(events[-1]["Timestamp"]), tz=datetime.UTC)
    assert [c for e in events for c in tracker.feed(e, NOW)] == []
    assert tracker.expire(end + datetime.timedelta(seconds=5)) == []
    [call] = tracker.expire(end + datetime.timedelta(seconds=11))
    assert call.result == "missed"


def test_interleaved_calls_are_kept_apart() -> None:
    a = inbound_call(linkedid="6.1", caller="+79161234567", extension="101")
    b = outbound_call(linkedid="7.1", number="79169876543", extension="102")
    mixed = [e for pair in zip(a, b, strict=True) for e in pair]
    calls = {c.pbx_call_id: c for c in calls_from_events(mixed, NOW)}
    assert calls["6.1"].external == "+79161234567" and calls["6.1"].extension == "101"
    assert calls["7.1"].external == "79169876543" and calls["7.1"].extension == "102"


def test_known_extensions_decide_what_is_internal() -> None:
    [call] = calls_from_events(
        outbound_call(linkedid="8.1", number="79161234567", extension="2001"), NOW, extensions=["2001"]
    )
    assert (call.direction, call.extension) == ("outbound", "2001")
    [call] = calls_from_events(inbound_call(linkedid="9.1", caller="2001", extension="101"), NOW, extensions=["2001"])
    assert call.direction == "inbound" and call.extension == ""  # 101 is not one of the connection's


def test_odd_events_are_ignored() -> None:
    tracker = CallTracker()
    odd = [
        {},
        {"Event": "Hangup"},
        {"Event": "DialEnd", "Linkedid": "x"},
        {"Event": "Cdr", "UniqueID": "y"},
        {"Event": "Newchannel", "Uniqueid": "z", "Timestamp": "not a number"},
        {"Event": "Hangup", "Uniqueid": "q\x00"},
    ]
    for event in odd:
        assert tracker.feed(event, NOW) == []


def test_recording_address_from_the_template() -> None:
    [call] = calls_from_events(
        inbound_call(linkedid="10.1", caller="+79161234567"),
        NOW,
        recording_url_template="https://pbx.example/{linkedid}.wav",
    )
    assert call.recording_url == "https://pbx.example/10.1.wav"


def test_wire_format() -> None:
    assert action_bytes("Ping", action_id="a1") == b"Action: Ping\r\nActionID: a1\r\n\r\n"
    # A value cannot smuggle another header in.
    assert b"\r\nSecret: x" not in action_bytes("Login", {"Username": "u\r\nSecret: x"})
    reader = MessageReader()
    data = block({"Event": "Newchannel", "Uniqueid": "1.1"}) + block({"Response": "Success", "ActionID": "a1"})
    assert reader.feed(data[:10]) == []
    assert reader.feed(data[10:]) == [
        {"Event": "Newchannel", "Uniqueid": "1.1"},
        {"Response": "Success", "ActionID": "a1"},
    ]
    assert channel_peer("PJSIP/101-0000002a") == "101" and channel_peer("Local/101@from-internal-1;1") == "101"
