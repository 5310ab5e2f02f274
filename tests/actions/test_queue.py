"""action_while_queued and the repair part of action_handoff, run on a tracker against real Redis.

Redis is the test database of this run (HEATDESK_TEST_REDIS_DB), flushed per test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest
import yaml
from redis import Redis
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.settings import ROOT, city, get_settings, redis_keys
from heatdesk_contract.owner import AGENT, Owner
from heatdesk_contract.streams import TicketDetails, TicketRequest, TicketWithdrawn, parse_ticket_entry
from tests.stack import TEST_REDIS_DB

DOMAIN: Dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
SENDER = "rest:queued-resident"


@pytest.fixture
def redis() -> Iterator[Redis]:
    base = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    url = f"{base}/{TEST_REDIS_DB}"
    os.environ["REDIS_URL"] = url
    get_settings.cache_clear()
    from bot import redis_client

    redis_client._clients.clear()
    client = Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    redis_client._clients.clear()


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
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, DOMAIN))
    return [m.get("response") for m in dispatcher.messages], dispatcher.messages, events


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


@pytest.mark.parametrize(
    "text, urgent",
    [("家里才12度 我爸八十多了冻得直哆嗦", True), ("孩子才三个月 屋里13度 冻得直哭", True),
     ("屋里才16度", False), ("暖气不热", False), ("屋里13.5℃", True)],
)
def test_urgent_cold_words_and_temperatures(text: str, urgent: bool) -> None:
    from actions.handoff import urgent_cold

    assert urgent_cold(text) is urgent


def test_leak_ticket_is_urgent_and_asks_for_the_address(redis: Redis) -> None:
    from actions.handoff import ActionHandoff

    present(redis)
    responses, messages, events = run(ActionHandoff(), tracker("卫生间暖气片接口呲水了 地上全是水 快来人", "report_leak"))
    assert responses == ["utter_leak_safety", "utter_emergency_ticket", "utter_ask_repair_address"]
    assert messages[0]["hotline"] == city()["hotline"]
    assert slot_events(events)["repair_step"] == "address"
    [(_id, fields)] = redis.xrange(redis_keys().tickets_stream())
    request = parse_ticket_entry(fields)
    assert isinstance(request, TicketRequest) and (request.priority, request.category) == ("urgent", "report_leak")
    assert Owner.from_fields(redis.hgetall(redis_keys().owner(SENDER))).ticket_no == request.ticket_no


def test_handoff_without_an_agent_on_duty_says_so(redis: Redis) -> None:
    from actions.handoff import ActionHandoff

    responses, _m, events = run(ActionHandoff(), tracker("转人工", "request_human"))
    assert responses == ["utter_handoff", "utter_no_agent_on_duty"]
    assert not any(e.get("event") == "pause" for e in events)  # the bot keeps answering while queued


def test_rejected_late_fee_explanation_opens_a_dispute_ticket(redis: Redis) -> None:
    from actions.handoff import ActionHandoff

    present(redis)
    run(ActionHandoff(), tracker("我不服", "deny", {"dispute_pending": True}))
    [(_id, fields)] = redis.xrange(redis_keys().tickets_stream())
    assert parse_ticket_entry(fields).category == "dispute_late_fee"  # type: ignore[union-attr]


def test_what_now_repeats_the_safety_steps_of_this_emergency(redis: Redis) -> None:
    from actions.queue import ActionWhileQueued

    present(redis)
    queue_ticket(redis, "GD202502150001", "urgent")
    slots = {"repair_step": "address", "repair_kind": "cold", "ticket_no": "GD202502150001"}
    responses, messages, _e = run(ActionWhileQueued(), tracker("那我现在咋办啊", "affirm", slots))
    assert responses == ["utter_queued_ack_answer", "utter_cold_safety"]
    assert messages[0]["ticket_no"] == "GD202502150001"
