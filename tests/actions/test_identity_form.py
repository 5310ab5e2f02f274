"""The identity form reads normalised digits, lets other questions through and can be left."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.identity import CANCELLED, STOPPED, ValidateIdentityForm

FORM = ValidateIdentityForm()


def extract(slot: str, tracker: Any, domain: Dict[str, Any]) -> Dict[str, Any]:
    method = getattr(FORM, f"extract_{slot}")
    return asyncio.run(method(CollectingDispatcher(), tracker, domain))


def user_then(text: str, intent: str, actions: List[str]) -> List[Dict[str, Any]]:
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}}
    return [{"event": "user", "text": text, "parse_data": parse}] + [
        {"event": "action", "name": name} for name in actions
    ]


@pytest.mark.parametrize(
    "text, intent",
    [("户号：２０２４０００００１", "inform"), ("2024 0000 01", "inform"), ("2024-0000-01", "ask_balance"),
     ("不对，户号是2024000001", "deny")],
)
def test_account_numbers_are_read_however_typed(text: str, intent: str, tracker_for: Callable, domain: Dict[str, Any]) -> None:
    tracker = tracker_for(text, intent, slots={"requested_slot": "account_no"}, active_loop="identity_form")
    assert extract("account_no", tracker, domain) == {"account_no": "2024000001"}


@pytest.mark.parametrize("text", ["五六七八", "伍陆柒捌", "５６７８", "尾号 56 78"])
def test_phone_tails_are_read_however_typed(text: str, tracker_for: Callable, domain: Dict[str, Any]) -> None:
    tracker = tracker_for(text, "inform", slots={"requested_slot": "phone_last4", "account_no": "2024000001"})
    assert extract("phone_last4", tracker, domain) == {"phone_last4": "5678"}


def test_a_corrected_account_number_is_not_taken_as_a_tail(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    tracker = tracker_for("不对，户号是2024000002", "inform", slots={"requested_slot": "phone_last4", "account_no": "2024000001"})
    assert extract("phone_last4", tracker, domain) == {}
    assert extract("account_no", tracker, domain) == {"account_no": "2024000002"}


def test_a_malformed_answer_is_kept_for_the_format_hint(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    tracker = tracker_for("12345", "inform", slots={"requested_slot": "account_no"})
    assert extract("account_no", tracker, domain) == {"account_no": "12345"}


@pytest.mark.parametrize("text, intent", [("算了不查了，暖气费多少钱一平", "ask_price"), ("那滞纳金咋算", "ask_late_fee")])
def test_another_question_is_not_taken_as_an_answer(text: str, intent: str, tracker_for: Callable, domain: Dict[str, Any]) -> None:
    for slot in ("account_no", "phone_last4"):
        tracker = tracker_for(text, intent, slots={"requested_slot": slot})
        assert extract(slot, tracker, domain) == {}


def test_nothing_is_extracted_again_when_the_form_resumes(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    events = user_then("2024000001", "inform", ["action_extract_slots", "action_city_answer", "identity_form"])
    tracker = tracker_for("2024000001", "inform", slots={"requested_slot": "account_no"}, events=events)
    assert extract("account_no", tracker, domain) == {}


def resume_after(text: str, tracker_for: Callable, domain: Dict[str, Any]) -> tuple:
    """The form's validation when it resumes after a price question was answered."""
    events = user_then(text, "ask_price", ["action_extract_slots", "action_city_answer", "identity_form"])
    tracker = tracker_for(text, "ask_price", slots={"requested_slot": "account_no"}, events=events, active_loop="identity_form")
    dispatcher = CollectingDispatcher()
    return dispatcher, asyncio.run(FORM.run(dispatcher, tracker, domain))


def test_the_check_ends_when_the_resident_said_so_with_the_question(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    dispatcher, result = resume_after("算了不查了，暖气费多少钱一平", tracker_for, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_identity_cancelled"]
    assert SlotSet("identity_outcome", CANCELLED) in result
    assert SlotSet("account_no", STOPPED) in result
    assert SlotSet("requested_slot", None) in result


def test_the_check_goes_on_after_a_question_without_giving_up(tracker_for: Callable, domain: Dict[str, Any]) -> None:
    dispatcher, result = resume_after("暖气费多少钱一平", tracker_for, domain)
    assert dispatcher.messages == []
    assert SlotSet("requested_slot", None) not in result
    assert not any(event.get("name") in ("identity_outcome", "account_no") for event in result)
