"""action_handoff on a tracker against real Redis and the real billing service: the ticket request on
the stream (the console's input), the owner switch, the queue and what the resident is told."""

from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest
from redis import Redis

from actions.handoff import ActionHandoff, priority_of, urgent_cold
from actions.identity import remember_verified
from bot.settings import city, redis_keys
from heatdesk_contract.owner import AGENT, Owner
from heatdesk_contract.streams import TicketRequest, parse_ticket_entry
from tests.actions.support import SENDER, Turn, make_tracker, render, run_action, run_async


def present(redis: Redis) -> None:
    """An agent on duty, as the console writes it."""
    redis.zadd(redis_keys().presence(), {"1": time.time() + 60})


def requests(redis: Redis) -> List[TicketRequest]:
    entries = [parse_ticket_entry(fields) for _id, fields in redis.xrange(redis_keys().tickets_stream())]
    assert all(isinstance(entry, TicketRequest) for entry in entries)
    return entries  # type: ignore[return-value]


def hand_off(domain: Dict[str, Any], text: str, intent: str, **kwargs: Any) -> Turn:
    return run_action(ActionHandoff(), make_tracker(text, intent, **kwargs), domain)


def test_a_request_for_a_person_writes_the_ticket_and_hands_the_conversation_over(
    billing: str, redis: Redis, domain: Dict[str, Any]
) -> None:
    present(redis)
    events = [
        {"event": "user", "text": "我的电话13800005678 暖气费的事", "timestamp": 1739577500.0, "parse_data": {}},
        {"event": "bot", "text": "请问有什么可以帮您？", "timestamp": 1739577510.0},
        {"event": "user", "text": "转人工", "timestamp": 1739577600.0, "message_id": "m-42", "input_channel": "rest",
         "parse_data": {"intent": {"name": "request_human", "confidence": 0.97}}},
    ]
    turn = hand_off(domain, "转人工", "request_human", confidence=0.97, events=events)
    assert turn.responses == ["utter_handoff"]
    [request] = requests(redis)
    assert request.ticket_no == "GD202502150001"  # HEATING_TODAY's day, first of the day
    assert render(domain, turn.messages[0]).startswith("已为您转接人工客服（工单号 GD202502150001），您目前排在第 1 位")
    assert (request.conversation_id, request.channel, request.category, request.priority) == (SENDER, "rest", "request_human", "normal")
    assert (request.trigger_kind, request.trigger_name, request.trigger_confidence) == ("intent", "request_human", 0.97)
    assert request.account_no is None and request.account_verified is False
    assert [m["text"] for m in request.summary["last_messages"]] == ["我的电话138****5678 暖气费的事", "请问有什么可以帮您？", "转人工"]
    owner = Owner.from_fields(redis.hgetall(redis_keys().owner(SENDER)))
    assert (owner.owner, owner.ticket_no, owner.ticket_key) == (AGENT, request.ticket_no, request.idempotency_key)
    assert redis.zrank(redis_keys().queue(), request.ticket_no) == 0
    assert turn.slots() == {"ticket_no": "GD202502150001", "handoff_trigger": None, "queue_position": 1.0,
                            "dispute_pending": None, "requested_slot": None}
    assert {"event": "active_loop", "timestamp": None, "name": None} in turn.events  # a half-done check ends


def test_the_same_message_handed_over_twice_keeps_one_ticket(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    present(redis)
    hand_off(domain, "转人工", "request_human")
    again = hand_off(domain, "转人工", "request_human")
    assert again.responses == ["utter_handoff_existing"] and again.messages[0]["ticket_no"] == "GD202502150001"
    assert len(requests(redis)) == 1


def test_the_position_is_the_consoles_queue_order(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    present(redis)
    hand_off(domain, "转人工", "request_human", sender="rest:first")
    second = hand_off(domain, "转人工", "request_human", sender="rest:second")
    assert second.messages[0]["position"] == 2 and second.slots()["queue_position"] == 2.0
    leak = hand_off(domain, "暖气片爆了 水哗哗的", "report_leak", sender="rest:third")
    assert leak.message("utter_emergency_ticket")["position"] == 1  # urgent tickets are worked first


def test_an_angry_resident_with_a_credit_case_is_high_priority_with_their_bills(
    billing: str, redis: Redis, domain: Dict[str, Any]
) -> None:
    present(redis)
    run_async(lambda: remember_verified(SENDER, "2024000001"))
    trigger = {"kind": "emotion", "name": "angry", "confidence": 0.93, "text": "你们这什么破服务！",
               "intent": "complain", "emotion": "angry", "emotion_confidence": 0.93}
    turn = hand_off(domain, "你们这什么破服务！", "complain", emotion="angry",
                    slots={"handoff_trigger": trigger, "verified_account": "2024000001"})
    assert turn.responses == ["utter_handoff"]
    [request] = requests(redis)
    assert (request.priority, request.category, request.trigger_kind, request.trigger_name) == ("high", "complain", "emotion", "angry")
    assert request.account_no == "2024000001" and request.account_verified is True
    assert request.summary["holder_masked"] == "张*" and request.summary["address"] == "阳光小区3号楼2单元501"
    assert request.summary["emotion"] == {"name": "angry", "confidence": 0.93}
    [bill] = request.summary["bills"]
    assert (bill["unpaid"], bill["late_fee"], bill["overdue_days"], bill["credit_warning"]) == ("1509.00", "78.41", 46, True)


def test_an_angry_late_fee_question_is_explained_then_filed_as_a_dispute(
    billing: str, redis: Redis, domain: Dict[str, Any]
) -> None:
    present(redis)
    turn = hand_off(domain, "凭啥从1月1号就开始算我滞纳金？", "ask_late_fee", emotion="angry")
    assert turn.responses == ["utter_late_fee_rule", "utter_handoff"]
    assert requests(redis)[0].category == "dispute_late_fee"


def test_rejected_late_fee_explanation_opens_a_dispute_ticket(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    present(redis)
    turn = hand_off(domain, "我不服", "deny", slots={"dispute_pending": True})
    assert turn.responses == ["utter_handoff"]  # explained already: not again
    assert requests(redis)[0].category == "dispute_late_fee"
    assert turn.slots()["dispute_pending"] is None


def test_leak_ticket_is_urgent_and_asks_for_the_address(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    present(redis)
    turn = hand_off(domain, "卫生间暖气片接口呲水了 地上全是水 快来人", "report_leak")
    assert turn.responses == ["utter_leak_safety", "utter_emergency_ticket", "utter_ask_repair_address"]
    assert turn.messages[0]["hotline"] == city()["hotline"] and turn.messages[0]["minutes"] == 30
    assert turn.slots()["repair_step"] == "address" and turn.slots()["repair_kind"] == "leak"
    [request] = requests(redis)
    assert (request.priority, request.category) == ("urgent", "report_leak")
    assert Owner.from_fields(redis.hgetall(redis_keys().owner(SENDER))).ticket_no == request.ticket_no


def test_a_repair_with_account_and_tail_is_verified_on_the_way(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    present(redis)
    turn = hand_off(domain, "户号2024000001 尾号5678 我家暖气不热", "report_not_warm")
    assert turn.responses == ["utter_identity_verified", "utter_not_warm", "utter_repair_ticket", "utter_repair_address_known"]
    assert turn.message("utter_repair_address_known")["address"] == "阳光小区3号楼2单元501"
    slots = turn.slots()
    assert (slots["verified_account"], slots["repair_kind"], slots["repair_step"]) == ("2024000001", "repair", "phone")
    [request] = requests(redis)
    assert (request.priority, request.category, request.account_verified) == ("normal", "report_not_warm", True)


def test_a_cold_home_with_a_baby_is_an_emergency(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    present(redis)
    turn = hand_off(domain, "孩子才三个月 屋里冷得很", "report_not_warm")
    assert turn.responses == ["utter_cold_safety", "utter_emergency_ticket", "utter_ask_repair_address"]
    assert turn.messages[0]["minutes"] == city()["sla"]["urgent_minutes"]
    assert requests(redis)[0].priority == "urgent"


def test_handoff_without_an_agent_on_duty_says_so(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    turn = hand_off(domain, "转人工", "request_human")
    assert turn.responses == ["utter_handoff", "utter_no_agent_on_duty"]
    assert turn.messages[1]["hours"] == "每天 8:00-20:00" and turn.messages[1]["hotline"] == "0451-12345678"
    assert not any(e.get("event") == "pause" for e in turn.events)  # the bot keeps answering while queued


def test_redis_down_sends_the_resident_to_the_hotline(redis_down: str, domain: Dict[str, Any]) -> None:
    turn = hand_off(domain, "转人工", "request_human")
    assert turn.responses == ["utter_handoff_unavailable"]
    assert render(domain, turn.messages[0]) == "抱歉，人工客服系统暂时连不上，请拨打供热服务热线 0451-12345678，我们会尽快为您处理。"
    assert turn.slots() == {"handoff_trigger": None}


@pytest.mark.parametrize(
    "text, urgent",
    [("家里才12度 我爸八十多了冻得直哆嗦", True), ("孩子才三个月 屋里13度 冻得直哭", True),
     ("屋里才16度", False), ("暖气不热", False), ("屋里13.5℃", True)],
)
def test_urgent_cold_words_and_temperatures(text: str, urgent: bool) -> None:
    assert urgent_cold(text) is urgent


@pytest.mark.parametrize(
    "trigger, credit_case, priority",
    [({"intent": "report_leak"}, False, "urgent"),
     ({"intent": "report_not_warm", "text": "屋里12度"}, False, "urgent"),
     ({"intent": "complain", "emotion": "angry"}, False, "high"),
     ({"intent": "ask_balance", "emotion": "angry"}, True, "high"),
     ({"intent": "ask_balance", "emotion": "angry"}, False, "normal"),
     ({"intent": "request_human", "emotion": "neutral"}, True, "normal")],
)
def test_priority_of(trigger: Dict[str, Any], credit_case: bool, priority: str) -> None:
    assert priority_of(trigger, credit_case) == priority
