"""Stream entries: what writers put on the wire, what readers make of it, and what they refuse.

The wire dicts below are the field names and encodings the runtimes exchanged before the contract
package existed; a change to them is a change of the protocol between two deployed runtimes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatdesk_contract import streams
from heatdesk_contract.streams import (
    AgentMessage,
    ConsoleEvent,
    DeadLetter,
    DeliveryConfirmed,
    DeliveryFailed,
    MalformedEntry,
    TicketCsat,
    TicketDetails,
    TicketRenumbered,
    TicketRequest,
    TicketResolved,
    TicketUserMessage,
    TicketWithdrawn,
    UnknownEntry,
    parse_outbox_entry,
    parse_ticket_entry,
    parse_time,
)

UTC = dt.timezone.utc
WHEN = dt.datetime(2025, 2, 15, 8, 0, 0, 123456, tzinfo=UTC)
STAMP = "2025-02-15T08:00:00.123456+00:00"


def _now_ish() -> dt.datetime:
    return dt.datetime.now(UTC)


WIRE: Dict[str, Any] = {
    "ticket.request": (
        TicketRequest(
            idempotency_key="k1", ticket_no="GD202502150001", conversation_id="rest:u1", channel="rest",
            account_no="2024000001", account_verified=True, category="complain", priority="high",
            trigger_kind="emotion", trigger_name="angry", trigger_confidence=0.91234, trigger_text="太慢了",
            summary={"district": "道里区", "bills": []}, created_at=WHEN,
        ),
        {"type": "ticket.request", "idempotency_key": "k1", "ticket_no": "GD202502150001",
         "conversation_id": "rest:u1", "channel": "rest", "account_no": "2024000001", "account_verified": "1",
         "category": "complain", "priority": "high", "trigger_kind": "emotion", "trigger_name": "angry",
         "trigger_confidence": "0.9123", "trigger_text": "太慢了",
         "summary": json.dumps({"district": "道里区", "bills": []}, ensure_ascii=False), "created_at": STAMP},
    ),
    "ticket.user_message": (
        TicketUserMessage(idempotency_key="k2", ticket_no="GD1", conversation_id="wechat:o1", text="人呢",
                          sender="bot", ticket_key="k1", channel="wechat", created_at=WHEN),
        {"type": "ticket.user_message", "idempotency_key": "k2", "ticket_no": "GD1", "ticket_key": "k1",
         "conversation_id": "wechat:o1", "channel": "wechat", "sender": "bot", "text": "人呢", "created_at": STAMP},
    ),
    "ticket.details": (
        TicketDetails("GD1", "rest:u1", "rest", callback_phone="13800005678", created_at=WHEN),
        {"type": "ticket.details", "ticket_no": "GD1", "conversation_id": "rest:u1", "channel": "rest",
         "created_at": STAMP, "callback_phone": "13800005678"},
    ),
    "ticket.withdrawn": (
        TicketWithdrawn("GD1", "rest:u1", "取消转人工", created_at=WHEN),
        {"type": "ticket.withdrawn", "idempotency_key": "withdrawn:GD1", "ticket_no": "GD1",
         "conversation_id": "rest:u1", "text": "取消转人工", "created_at": STAMP},
    ),
    "ticket.csat": (
        TicketCsat("GD1", 4, "挺好", "csat:1"),
        {"type": "ticket.csat", "idempotency_key": "csat:1", "ticket_no": "GD1", "score": "4", "comment": "挺好"},
    ),
    "delivery.confirmed": (
        DeliveryConfirmed("GD1", "rest:u1", "m1", created_at=WHEN),
        {"type": "delivery.confirmed", "idempotency_key": "delivery.confirmed:m1", "ticket_no": "GD1",
         "message_id": "m1", "conversation_id": "rest:u1", "created_at": STAMP},
    ),
    "delivery.failed": (
        DeliveryFailed("GD1", "48 小时窗口已过", "m1", "wechat:o1", created_at=WHEN),
        {"type": "delivery.failed", "idempotency_key": "delivery.failed:m1:0", "ticket_no": "GD1", "message_id": "m1",
         "conversation_id": "wechat:o1", "reason": "48 小时窗口已过", "created_at": STAMP},
    ),
    "agent.message": (
        AgentMessage("m1", "GD1", "widget:s1", "widget", "您好，我是客服", "王芳", attempt=2),
        {"type": "agent.message", "message_id": "m1", "ticket_no": "GD1", "conversation_id": "widget:s1",
         "channel": "widget", "text": "您好，我是客服", "agent_name": "王芳", "attempt": "2"},
    ),
    "ticket.resolved": (
        TicketResolved("GD1", "widget:s1", "widget"),
        {"type": "ticket.resolved", "ticket_no": "GD1", "conversation_id": "widget:s1", "channel": "widget",
         "ask_csat": "1"},
    ),
    "ticket.renumbered": (
        TicketRenumbered("m2", "GD2", "GD1", "rest:u1", "rest"),
        {"type": "ticket.renumbered", "message_id": "m2", "ticket_no": "GD2", "previous_no": "GD1",
         "conversation_id": "rest:u1", "channel": "rest"},
    ),
}


def test_every_entry_type_has_a_wire_example() -> None:
    assert set(WIRE) == set(streams.TICKET_ENTRIES) | set(streams.OUTBOX_ENTRIES)


@pytest.mark.parametrize("kind", sorted(WIRE))
def test_writers_put_the_agreed_fields_on_the_wire(kind: str) -> None:
    entry, wire = WIRE[kind]
    assert entry.to_fields() == wire
    assert all(isinstance(value, str) for value in entry.to_fields().values())


@pytest.mark.parametrize("kind", sorted(WIRE))
def test_readers_get_back_what_the_writer_wrote(kind: str) -> None:
    entry, wire = WIRE[kind]
    parse = parse_ticket_entry if kind in streams.TICKET_ENTRIES else parse_outbox_entry
    parsed = parse(wire, "1-0")
    assert parsed == (entry if kind != "ticket.request" else
                      TicketRequest(**{**entry.__dict__, "trigger_confidence": 0.9123}))
    assert parsed.to_fields() == wire


def test_entries_of_one_stream_are_not_read_from_the_other() -> None:
    entry, wire = WIRE["agent.message"]
    assert parse_ticket_entry(wire) == UnknownEntry("agent.message", wire)
    entry, wire = WIRE["ticket.request"]
    assert isinstance(parse_outbox_entry(wire), UnknownEntry)


def test_unknown_types_come_back_as_they_were() -> None:
    fields = {"type": "ticket.teleported", "ticket_no": "GD1"}
    assert parse_ticket_entry(fields) == UnknownEntry("ticket.teleported", fields)
    assert parse_outbox_entry({}) == UnknownEntry("", {})
    assert UnknownEntry("x", fields).to_fields() == fields


def test_a_ticket_request_is_read_with_defaults() -> None:
    request = parse_ticket_entry({
        "type": "ticket.request", "idempotency_key": "k", "ticket_no": "GD202502150001", "conversation_id": "c",
        "trigger_confidence": "0.91", "summary": json.dumps({"district": "道里区"}),
        "created_at": "2025-02-15T08:00:00Z",
    })
    assert isinstance(request, TicketRequest)
    assert request.channel == "rest" and request.priority == "normal" and request.account_no is None
    assert request.category == "request_human" and request.trigger_kind == "intent"
    assert request.trigger_confidence == 0.91 and request.summary == {"district": "道里区"}
    assert request.created_at == dt.datetime(2025, 2, 15, 8, tzinfo=UTC) and not request.account_verified


@pytest.mark.parametrize("fields", [
    {"ticket_no": "GD1", "conversation_id": "c"},
    {"idempotency_key": "k", "conversation_id": "c"},
    {"idempotency_key": "k", "ticket_no": "GD1"},
    {"idempotency_key": "k", "ticket_no": "GD1", "conversation_id": "c", "trigger_confidence": "nan"},
    {"idempotency_key": "k", "ticket_no": "GD1", "conversation_id": "c", "trigger_confidence": "very"},
    {"idempotency_key": "k", "ticket_no": "X" * 40, "conversation_id": "c"},
    {"idempotency_key": "k" * 201, "ticket_no": "GD1", "conversation_id": "c"},
])
def test_incomplete_requests_are_malformed(fields: Dict[str, str]) -> None:
    with pytest.raises(MalformedEntry):
        parse_ticket_entry({"type": "ticket.request", **fields})


def test_damaged_optional_fields_are_kept_or_replaced() -> None:
    base = {"type": "ticket.request", "idempotency_key": "k", "ticket_no": "GD1", "conversation_id": "c"}
    assert parse_ticket_entry({**base, "summary": "not json"}).summary == {"text": "not json"}  # type: ignore[union-attr]
    assert parse_ticket_entry({**base, "summary": "[1, 2]"}).summary == {"value": [1, 2]}  # type: ignore[union-attr]
    before = _now_ish()
    for stamp in ("yesterday-ish", "1900-01-01T00:00:00+00:00", ""):
        created = parse_ticket_entry({**base, "created_at": stamp}).created_at  # type: ignore[union-attr]
        assert created >= before  # unusable or absurd: the time it was read


@pytest.mark.parametrize("fields", [
    {"type": "ticket.user_message", "idempotency_key": "k", "ticket_no": "GD1", "conversation_id": "c", "text": "  "},
    {"type": "ticket.user_message", "idempotency_key": "k", "ticket_no": "GD1", "text": "hi"},
    {"type": "ticket.details", "ticket_no": "GD1", "address": "  "},
    {"type": "ticket.details", "address": "阳光小区3号楼"},
    {"type": "ticket.withdrawn", "conversation_id": "c"},
    {"type": "ticket.csat", "ticket_no": "GD1", "score": "0"},
    {"type": "ticket.csat", "ticket_no": "GD1", "score": "6"},
    {"type": "ticket.csat", "ticket_no": "GD1", "score": "five"},
    {"type": "ticket.csat", "score": "5"},
    {"type": "delivery.confirmed", "ticket_no": "GD1", "conversation_id": "c"},
    {"type": "delivery.confirmed", "ticket_no": "GD1", "message_id": "m1"},
    {"type": "delivery.failed", "message_id": "m1", "reason": "x"},
])
def test_malformed_ticket_stream_entries_are_refused(fields: Dict[str, str]) -> None:
    with pytest.raises(MalformedEntry):
        parse_ticket_entry(fields)


@pytest.mark.parametrize("kind", ["agent.message", "ticket.resolved", "ticket.renumbered"])
def test_an_outbox_entry_without_its_conversation_is_malformed(kind: str) -> None:
    with pytest.raises(MalformedEntry):
        parse_outbox_entry({"type": kind, "ticket_no": "GD1", "channel": "rest", "text": "x"})


def test_keys_made_up_for_entries_without_one() -> None:
    assert parse_ticket_entry({"type": "ticket.csat", "ticket_no": "GD1", "score": "5"}, "1-0") == TicketCsat(
        "GD1", 5, None, "csat:GD1:1-0")
    failure = parse_ticket_entry(
        {"type": "delivery.failed", "ticket_no": "GD1", "idempotency_key": "delivery.failed:", "reason": "x"}, "7-0")
    assert isinstance(failure, DeliveryFailed)
    assert failure.idempotency_key == "delivery.failed:GD1:7-0" and failure.message_id is None
    withdrawn = parse_ticket_entry({"type": "ticket.withdrawn", "ticket_no": " GD1 ", "text": "x" * 900})
    assert withdrawn == TicketWithdrawn("GD1", "", "x" * 500, "withdrawn:GD1", withdrawn.created_at)  # type: ignore[union-attr]
    details = parse_ticket_entry({"type": "ticket.details", "ticket_no": "GD1", "address": " 阳光小区 ", "x": "y"})
    assert details.details() == {"address": "阳光小区"}  # type: ignore[union-attr]


def test_a_failure_report_names_the_entry_even_when_it_could_not_be_read() -> None:
    report = DeliveryFailed.of({"type": "agent.message", "ticket_no": "GD1", "message_id": "m9"}, "malformed")
    assert report.to_fields()["idempotency_key"] == "delivery.failed:m9:0" and report.ticket_no == "GD1"
    resolved = DeliveryFailed.of(TicketResolved("GD1", "rest:u1", "rest"), "no deliverer")
    assert resolved.message_id is None and resolved.to_fields()["message_id"] == ""
    assert resolved.to_fields()["conversation_id"] == "rest:u1"


def test_each_attempt_of_a_message_fails_on_its_own() -> None:
    first = DeliveryFailed.of(AgentMessage("m1", "GD1", "wechat:o1", "wechat", "在吗", attempt=1), "window")
    retry = DeliveryFailed.of(AgentMessage("m1", "GD1", "wechat:o1", "wechat", "在吗", attempt=2), "window")
    assert (first.idempotency_key, retry.idempotency_key) == ("delivery.failed:m1:1", "delivery.failed:m1:2")
    for damaged in ("", "x", "-3"):
        fields = {**AgentMessage("m1", "GD1", "c", "rest", "t").to_fields(), "attempt": damaged}
        assert parse_outbox_entry(fields).attempt == 0  # type: ignore[union-attr]


_fields = st.dictionaries(
    st.sampled_from(["type", "idempotency_key", "ticket_no", "conversation_id", "text", "score", "message_id",
                     "trigger_confidence", "summary", "created_at", "address", "sender", "channel", "other"]),
    st.one_of(st.text(max_size=40), st.sampled_from(sorted(WIRE)), st.sampled_from(["1", "nan", "-1", "{}"])),
    max_size=10,
)


@settings(deadline=None)  # a loaded CI machine is no failure
@given(_fields)
def test_any_entry_is_read_refused_or_unknown_never_a_crash(fields: Dict[str, str]) -> None:
    for parse in (parse_ticket_entry, parse_outbox_entry):
        try:
            entry = parse(fields, "1-0")
        except MalformedEntry:
            continue
        assert all(isinstance(value, str) for value in entry.to_fields().values())


def test_console_events_survive_damage() -> None:
    event = ConsoleEvent("ticket.created", "GD1", {"ticket": {"id": 1}}, WHEN)
    assert event.to_fields() == {"type": "ticket.created", "ticket_no": "GD1", "data": '{"ticket": {"id": 1}}',
                                 "ts": STAMP}
    assert ConsoleEvent.from_fields(event.to_fields()) == event
    assert ConsoleEvent.from_fields(event.to_fields()).payload() == {
        "type": "ticket.created", "ticket_no": "GD1", "ts": STAMP, "ticket": {"id": 1}}
    damaged = ConsoleEvent.from_fields({"data": "{broken"})
    assert damaged.payload() == {"type": "unknown", "ticket_no": None, "ts": None}
    assert ConsoleEvent.from_fields({"type": "x", "data": "[1]"}).data == {"value": [1]}


def test_dead_letters_keep_the_original_fields() -> None:
    letter = DeadLetter("5-0", "missing field 'text'", "console-a", {"type": "ticket.user_message", "text": ""})
    wire = letter.to_fields()
    assert wire == {"orig.type": "ticket.user_message", "orig.text": "", "original_id": "5-0",
                    "error": "missing field 'text'", "consumer": "console-a"}
    assert DeadLetter.from_fields(wire) == letter


def test_times() -> None:
    assert parse_time(0) == dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_time("2025-02-15T08:00:00+08:00") == dt.datetime(2025, 2, 15, 0, tzinfo=UTC)
    assert parse_time("2025-02-15T08:00:00") == dt.datetime(2025, 2, 15, 8, tzinfo=UTC)
    assert parse_time("1739606400.5").year == 2025  # type: ignore[union-attr]
    assert parse_time("soon") is None and parse_time(None) is None and parse_time(1e30) is None
    assert parse_time(True) is None
