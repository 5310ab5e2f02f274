"""Late-fee questions: the rule without identity, the own amount only after the check."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.billing import ActionBillingQuery
from actions.late_fee import asks_own_amount
from bot.settings import city


def run(tracker: Any, domain: Dict[str, Any]) -> tuple:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionBillingQuery().run(dispatcher, tracker, domain))
    return dispatcher.messages, events


@pytest.mark.parametrize("text", ["滞纳金怎么算的", "从哪天开始算滞纳金", "滞纳金是千分之几", "滞纳金有上限吗", "我想问下滞纳金咋算"])
def test_general_questions_get_the_rule_and_an_offer(text: str, tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, events = run(tracker_for(text, "ask_late_fee"), domain)
    assert [m["response"] for m in messages] == ["utter_late_fee_rule", "utter_late_fee_offer"]
    rule = messages[0]
    late_fee = city()["late_fee"]
    assert rule["start"] == str(late_fee["start"])
    assert rule["rate_permille"] == "1"
    assert rule["cap_percent"] == "100"
    assert SlotSet("late_fee_rule_told", True) in events
    assert SlotSet("billing_topic", "ask_late_fee") in events
    assert not any(event.get("event") == "followup" for event in events)


def test_a_yes_to_the_offer_starts_the_check_for_the_late_fee(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, events = run(tracker_for("好的", "affirm", slots={"billing_topic": "ask_late_fee"}), domain)
    assert messages == []
    assert events == [SlotSet("verified_account", None), SlotSet("billing_topic", "ask_late_fee"), FollowupAction("identity_form")]


def test_a_yes_without_an_offer_is_acknowledged(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, events = run(tracker_for("好的", "affirm"), domain)
    assert [m["response"] for m in messages] == ["utter_affirm_ack"]
    assert events == []


def test_the_second_time_the_rule_is_only_summed_up(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    tracker = tracker_for("那滞纳金到底咋算", "ask_late_fee", slots={"late_fee_rule_told": True})
    messages, _ = run(tracker, domain)
    assert [m["response"] for m in messages] == ["utter_late_fee_rule_again", "utter_late_fee_offer"]


def test_inside_the_identity_check_no_offer_is_made(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, events = run(tracker_for("那滞纳金咋算", "ask_late_fee", active_loop="identity_form"), domain)
    assert [m["response"] for m in messages] == ["utter_late_fee_rule"]
    assert events == [SlotSet("late_fee_rule_told", True)]  # the balance asked for stays the topic


@pytest.mark.parametrize("text", ["我家滞纳金多少", "我有滞纳金吗", "帮我查下滞纳金", "滞纳金 2024000001"])
def test_the_own_amount_starts_the_identity_check(text: str, tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, events = run(tracker_for(text, "ask_late_fee"), domain)
    assert messages == []
    assert SlotSet("billing_topic", "ask_late_fee") in events
    assert FollowupAction("identity_form") in events


@pytest.mark.parametrize(
    "text, own",
    [("滞纳金怎么算的", False), ("千分之几", False), ("滞纳金", False), ("我想问下滞纳金咋算", False),
     ("我家滞纳金多少钱", True), ("滞纳金是怎么算的 我家有多少", True), ("户号２０２４０００００１的滞纳金", True)],
)
def test_asks_own_amount(text: str, own: bool) -> None:
    assert asks_own_amount(text) is own
