"""Handoff triggers (DESIGN.md): complain, request_human, angry emotion, report_leak, two fallbacks in a row."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.triggers import detect


def user(text: str, intent: str, emotion: str = "neutral", confidence: float = 0.9) -> UserUttered:
    parse: Dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "emotion": {"name": emotion, "confidence": 0.97},
    }
    return UserUttered(text, parse["intent"], [], parse_data=parse)


def tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("t", [ActionExecuted("action_listen"), *events])


def kind_and_name(events: List[Event]) -> Optional[tuple]:
    trigger = detect(tracker(*events))
    return (trigger.kind, trigger.name) if trigger else None


def test_plain_question_does_not_hand_off() -> None:
    assert kind_and_name([user("我家欠多少钱", "ask_balance")]) is None


def test_intents_that_need_a_person() -> None:
    assert kind_and_name([user("我要投诉", "complain")]) == ("intent", "complain")
    assert kind_and_name([user("转人工", "request_human")]) == ("intent", "request_human")
    assert kind_and_name([user("管子爆了", "report_leak")]) == ("intent", "report_leak")


def test_anger_on_any_intent_hands_off_and_keeps_the_intent() -> None:
    trigger = detect(tracker(user("到底欠多少钱？？？骗子", "ask_balance", emotion="angry")))
    assert trigger is not None
    assert (trigger.kind, trigger.name, trigger.intent) == ("emotion", "angry", "ask_balance")


def test_leak_is_reported_as_the_leak_even_when_angry() -> None:
    assert kind_and_name([user("漏水了没人管？？？", "report_leak", emotion="angry")]) == ("intent", "report_leak")


def test_one_fallback_is_not_enough_two_in_a_row_are() -> None:
    first = user("阿巴阿巴", "nlu_fallback", confidence=0.4)
    assert kind_and_name([first]) is None
    second = user("咕噜咕噜", "nlu_fallback", confidence=0.4)
    assert kind_and_name([first, BotUttered("没太明白"), ActionExecuted("action_listen"), second]) == (
        "fallback",
        "nlu_fallback",
    )


def test_fallbacks_separated_by_an_understood_message_do_not_count() -> None:
    events = [
        user("阿巴阿巴", "nlu_fallback"),
        user("你好", "greet"),
        user("咕噜咕噜", "nlu_fallback"),
    ]
    assert kind_and_name(events) is None


def test_a_message_rewound_by_a_fallback_does_not_fire_again() -> None:
    from rasa.shared.core.events import UserUtteranceReverted

    handed = [user("转人工", "request_human"), ActionExecuted("action_handoff")]
    later = [ActionExecuted("action_listen"), user("你好", "greet"), ActionExecuted("action_default_fallback"),
             UserUtteranceReverted()]
    assert detect(tracker(*handed, *later)) is None
