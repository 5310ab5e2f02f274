"""The clarifying question (two likely meanings as buttons whose payloads are the intents) and the
out-of-scope answer, both of which send a message plainly about a bill to the billing action."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import ActionClarify, ActionOutOfScope, intent_labels

RANKING = [
    {"name": "nlu_fallback", "confidence": 0.3},
    {"name": "ask_balance", "confidence": 0.28},
    {"name": "ask_late_fee", "confidence": 0.26},
    {"name": "ask_price", "confidence": 0.1},
]


def run(tracker: Any, domain: Dict[str, Any]) -> tuple:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionClarify().run(dispatcher, tracker, domain))
    return dispatcher.messages, events


def test_two_likely_meanings_are_offered_as_buttons(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, events = run(tracker_for("欠的那个钱咋回事", "nlu_fallback", ranking=RANKING), domain)
    assert events == []
    [message] = messages
    assert message["response"] == "utter_clarify"
    assert message["buttons"] == [
        {"title": "查欠费", "payload": "/ask_balance"},
        {"title": "问滞纳金怎么算", "payload": "/ask_late_fee"},
    ]


def test_intents_without_a_label_are_not_offered(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "affirm", "confidence": 0.29}] + RANKING[1:]
    messages, _ = run(tracker_for("嗯那个钱", "nlu_fallback", ranking=ranking), domain)
    assert [button["payload"] for button in messages[0]["buttons"]] == ["/ask_balance", "/ask_late_fee"]


def test_without_two_plausible_meanings_the_bot_asks_to_rephrase(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.3},
        {"name": "greet", "confidence": 0.25},
        {"name": "goodbye", "confidence": 0.2},
        {"name": "ask_price", "confidence": 0.19},
        {"name": "ask_balance", "confidence": 0.1},
    ]
    messages, _ = run(tracker_for("呃呃呃", "nlu_fallback", ranking=ranking), domain)
    assert messages == [_message("utter_default")]


def _message(response: str) -> Dict[str, Any]:
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(response=response)
    return dispatcher.messages[0]


def test_every_label_names_a_domain_intent(domain: Dict[str, Any]) -> None:
    labels = intent_labels(domain)
    assert set(labels) <= set(domain["intents"])
    assert all(label.strip() for label in labels.values())
    assert len(set(labels.values())) == len(labels)


# -- action_out_of_scope ---------------------------------------------------------------------


def _out_of_scope(tracker: Any, domain: Dict[str, Any]) -> tuple:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionOutOfScope().run(dispatcher, tracker, domain))
    return dispatcher.messages, events


def test_out_of_scope_steers_back_to_what_the_bot_does(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, events = _out_of_scope(tracker_for("今天股票涨了吗", "out_of_scope"), domain)
    assert messages == [_message("utter_out_of_scope")] and events == []
    assert "查欠费和滞纳金" in domain["responses"]["utter_out_of_scope"][0]["text"]


@pytest.mark.parametrize(
    "text, entities, slots",
    [("帮我看看 2024 0000 04 这个", [], {}),
     ("我妈那户", [{"entity": "account_no", "value": "2024000004"}], {}),
     ("明细呢", [], {"verified_account": "2024000001"})],
)
def test_out_of_scope_that_is_plainly_about_a_bill_goes_to_billing(
    text: str, entities: list, slots: dict, tracker_for: Callable, domain: Dict[str, Any]
) -> None:
    messages, events = _out_of_scope(tracker_for(text, "out_of_scope", entities=entities, slots=slots), domain)
    assert messages == []
    assert events == [{"event": "followup", "timestamp": None, "name": "action_billing_query"}]


def test_details_before_any_balance_are_out_of_scope(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    messages, _events = _out_of_scope(tracker_for("明细呢", "out_of_scope"), domain)
    assert messages == [_message("utter_out_of_scope")]
