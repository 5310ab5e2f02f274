"""action_while_queued (the bot keeps a queued resident company), run on a tracker against real Redis
and, for the balance while queued, the real billing service.

Redis is the test database of this run (HEATDESK_TEST_REDIS_DB), flushed per test (conftest.py).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Dict, List, Optional

import yaml
from redis import Redis
from rasa_sdk import Tracker

from bot.settings import ROOT, city, redis_keys
from heatdesk_contract.owner import AGENT, Owner
from heatdesk_contract.streams import TicketDetails, TicketWithdrawn, parse_ticket_entry
from tests.actions.support import make_tracker, run_action, run_async

DOMAIN: Dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
SENDER = "rest:queued-resident"


def tracker(text: str, intent: str, slots: Optional[Dict[str, Any]] = None) -> Tracker:
    message = {"intent": {"name": intent, "confidence": 0.9}, "text": text, "entities": []}
    events = [{"event": "user", "text": text, "parse_data": message, "input_channel": "rest"}]
    return Tracker(SENDER, slots or {}, message, events, False, None, None, "action_listen")


def queue_ticket(redis: Redis, ticket_no: str, priority: str = "normal", agent: str = "", minutes_ago: float = 0) -> None:
    created = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    from bot.handoff import queue

    redis.zadd(redis_keys().queue(), {ticket_no: queue.score_for(city(), priority, created)})
    if ticket_no.endswith("1"):
        redis.hset(redis_keys().owner(SENDER), mapping=Owner(AGENT, ticket_no, agent).to_fields())


def present(redis: Redis) -> None:
    redis.zadd(redis_keys().presence(), {"1": time.time() + 60})


def run(action: Any, track: Tracker) -> tuple:
    turn = run_action(action, track, DOMAIN)
    return turn.responses, turn.messages, turn.events


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_each_message_is_acknowledged_once_with_the_queue_position(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150002", "urgent")
    queue_ticket(redis, "GD202502150001", minutes_ago=5)
    responses, messages, events = run(ActionWhileQueued(), tracker("人呢", "nlu_fallback"))
    assert responses == ["utter_queued_ack"]
    assert messages[0]["position"] == 2  # the urgent ticket is worked first, as in the console
    assert slot_events(events)["queue_position"] == 2.0


def test_a_price_question_is_answered_after_the_acknowledgement(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001")
    responses, _m, _e = run(ActionWhileQueued(), tracker("暖气费多少钱一平", "ask_price"))
    assert responses == ["utter_queued_ack_answer", "utter_price"]


def test_cancel_gives_the_conversation_back_and_tells_the_console(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    queue_ticket(redis, "GD202502150001")
    responses, _m, events = run(ActionWhileQueued(), tracker("算了 不用人工了 我自己查吧", "deny"))
    assert responses == ["utter_handoff_cancelled"]
    assert not redis.exists(redis_keys().owner(SENDER))
    assert redis.zscore(redis_keys().queue(), "GD202502150001") is None
    [(_id, fields)] = redis.xrange(redis_keys().tickets_stream())
    withdrawn = parse_ticket_entry(fields)
    assert isinstance(withdrawn, TicketWithdrawn) and withdrawn.ticket_no == "GD202502150001"
    assert slot_events(events)["ticket_no"] is None


def test_nobody_on_duty_is_said_when_the_resident_asks_when(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    queue_ticket(redis, "GD202502150001")
    responses, _m, _e = run(ActionWhileQueued(), tracker("什么时候有人回我", "nlu_fallback"))
    assert responses == ["utter_queued_ack", "utter_no_agent_on_duty"]


def test_an_assigned_agent_is_named_in_the_acknowledgement(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001", agent="小王")
    redis.zrem(redis_keys().queue(), "GD202502150001")  # claimed tickets leave the queue
    responses, messages, _e = run(ActionWhileQueued(), tracker("好的", "affirm"))
    assert responses == ["utter_assigned_ack"] and messages[0]["agent"] == "小王"


def test_repair_address_then_phone_go_to_the_ticket(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001", "urgent")
    responses, _m, events = run(
        ActionWhileQueued(), tracker("红军街87号院2-4-201", "inform", {"repair_step": "address", "ticket_no": "GD202502150001"})
    )
    assert responses == ["utter_repair_address_noted"]
    assert slot_events(events)["repair_step"] == "phone"
    responses, messages, events = run(
        ActionWhileQueued(), tracker("13845671234", "inform", {"repair_step": "phone", "ticket_no": "GD202502150001"})
    )
    assert responses == ["utter_callback_phone_noted"] and messages[0]["phone"] == "138****1234"
    entries = [parse_ticket_entry(fields) for _id, fields in redis.xrange(redis_keys().tickets_stream())]
    details = [entry for entry in entries if isinstance(entry, TicketDetails)]
    assert details[0].address == "红军街87号院2-4-201" and details[1].callback_phone == "13845671234"


def test_valve_question_during_a_leak_is_answered(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001", "urgent")
    responses, _m, _e = run(
        ActionWhileQueued(), tracker("阀门在哪啊 我找不着", "nlu_fallback", {"repair_step": "address"})
    )
    assert responses == ["utter_queued_ack_answer", "utter_valve_help"]


def test_when_do_you_come_is_answered_with_the_service_time(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001")
    responses, messages, _e = run(
        ActionWhileQueued(), tracker("那你们啥时候来人", "ask_heating_period", {"repair_step": "phone"})
    )
    assert responses == ["utter_queued_ack_answer", "utter_repair_eta"]
    assert messages[1]["minutes"] == city()["sla"]["burst_pipe_minutes"]


def test_what_now_repeats_the_safety_steps_of_this_emergency(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001", "urgent")
    slots = {"repair_step": "address", "repair_kind": "cold", "ticket_no": "GD202502150001"}
    responses, messages, _e = run(ActionWhileQueued(), tracker("那我现在咋办啊", "affirm", slots))
    assert responses == ["utter_queued_ack_answer", "utter_cold_safety"]
    assert messages[0]["ticket_no"] == "GD202502150001"


def test_redis_down_sends_the_queued_resident_to_the_hotline(redis_down: str) -> None:
    from actions.queue import ActionWhileQueued

    responses, messages, events = run(ActionWhileQueued(), tracker("人呢", "nlu_fallback"))
    assert responses == ["utter_handoff_unavailable"] and messages[0]["hotline"] == city()["hotline"]
    assert events == []


def test_the_balance_is_answered_while_queued(billing: str, redis: Redis) -> None:
    from actions.identity import remember_verified
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001")
    run_async(lambda: remember_verified(SENDER, "2024000001"))
    track = make_tracker("我家还欠多少", "ask_balance", sender=SENDER,
                         slots={"verified_account": "2024000001", "credit_warned": True, "ticket_no": "GD202502150001"})
    responses, messages, events = run(ActionWhileQueued(), track)
    assert responses == ["utter_queued_ack_answer", "utter_balance_total", "utter_pay_link"]
    assert (messages[0]["ticket_no"], messages[0]["position"]) == ("GD202502150001", 1)
    assert messages[1]["total"] == "1587.41"
    assert slot_events(events)["verified_account"] == "2024000001"


def test_an_account_number_while_queued_starts_the_check_after_the_acknowledgement(billing: str, redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001")
    responses, _m, events = run(ActionWhileQueued(), make_tracker("户号2024000004", "inform", sender=SENDER))
    assert responses == ["utter_queued_ack_answer"]
    assert {"event": "followup", "timestamp": None, "name": "identity_form"} in events


def test_an_id_number_while_queued_is_only_acknowledged(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001")
    responses, _m, events = run(ActionWhileQueued(), tracker("身份证230102199001011234", "inform"))
    assert responses == ["utter_queued_ack"]  # for the agent, not a 户号
    assert not any(event.get("event") == "followup" for event in events)
