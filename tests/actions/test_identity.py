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


# -- the check against the real billing service and Redis -----------------------------------------
# Seed: 2024000001 张三 13800005678 阳光小区3号楼2单元501.

from redis import Redis  # noqa: E402

from actions.billing import ActionBillingQuery  # noqa: E402
from actions.identity import LOCKED, UNAVAILABLE, VERIFIED, session_verified  # noqa: E402
from bot.settings import redis_keys  # noqa: E402
from tests.actions.support import SENDER, Turn, make_tracker, render, run_action, run_async  # noqa: E402


def form_turn(text: str, domain: Dict[str, Any], sender: str = SENDER, **slots: Any) -> Turn:
    """One message inside the form: Rasa runs validate_identity_form with the slot it asked for."""
    slots.setdefault("requested_slot", "phone_last4" if slots.get("account_no") else "account_no")
    channel = sender.split(":", 1)[0]
    tracker = make_tracker(text, "inform", slots=slots, active_loop="identity_form", sender=sender, channel=channel)
    return run_action(FORM, tracker, domain)


def proven(account_no: str, sender: str = SENDER) -> bool:
    tracker = make_tracker("x", "inform", sender=sender)
    return run_async(lambda: session_verified(tracker, account_no))


def test_the_account_alone_is_not_looked_up(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    turn = form_turn("2024000001", domain)
    assert turn.messages == [] and turn.slots() == {"account_no": "2024000001"}
    assert redis.keys("*") == []  # no try counted, nothing asked: no account-existence oracle


def test_the_right_tail_verifies_this_session_only(billing: str, domain: Dict[str, Any]) -> None:
    turn = form_turn("5678", domain, account_no="2024000001")
    assert turn.responses == ["utter_identity_verified"]
    assert render(domain, turn.messages[0]) == "身份核实成功：户主 张*，手机 138****5678，地址 阳光小区3号楼2单元501。"
    assert turn.slots() == {"account_no": "2024000001", "phone_last4": "5678",
                            "verified_account": "2024000001", "identity_outcome": VERIFIED}
    assert proven("2024000001") and not proven("2024000001", "rest:someone-else")


def test_account_and_tail_in_one_message(billing: str, domain: Dict[str, Any]) -> None:
    turn = form_turn("户号2024000001 尾号5678", domain)
    assert turn.responses == ["utter_identity_verified"]
    assert turn.slots()["verified_account"] == "2024000001"


def test_three_wrong_tails_lock_the_account_in_this_conversation(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    first = form_turn("1111", domain, account_no="2024000001")
    assert first.responses == ["utter_phone_mismatch"] and first.messages[0]["remaining"] == 2
    assert first.slots() == {"account_no": "2024000001", "phone_last4": None}  # the tail is asked again
    assert form_turn("2222", domain, account_no="2024000001").messages[0]["remaining"] == 1
    third = form_turn("3333", domain, account_no="2024000001")
    assert third.responses == ["utter_identity_locked"]
    assert third.slots() == {"account_no": "-", "phone_last4": "-", "identity_outcome": LOCKED}
    assert 0 < redis.ttl(redis_keys().identity_lock("2024000001", SENDER)) <= 15 * 60
    # Locked: the right tail is refused without asking billing, and nothing is verified.
    right = form_turn("5678", domain, account_no="2024000001")
    assert right.responses == ["utter_identity_locked"] and right.slots()["identity_outcome"] == LOCKED
    assert not proven("2024000001")
    # A stranger's guesses do not lock the owner's own conversation.
    owner = form_turn("5678", domain, sender="rest:the-owner", account_no="2024000001")
    assert owner.responses == ["utter_identity_verified"]


def test_an_unknown_account_is_told_like_a_wrong_tail(billing: str, domain: Dict[str, Any]) -> None:
    unknown = form_turn("5678", domain, account_no="2024000099")
    wrong = form_turn("5678", domain, sender="rest:other", account_no="2024000002")
    assert unknown.responses == wrong.responses == ["utter_phone_mismatch"]
    assert render(domain, unknown.messages[0]) == render(domain, wrong.messages[0])


def test_the_right_tail_forgives_earlier_failures(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    form_turn("1111", domain, account_no="2024000001")
    form_turn("2222", domain, account_no="2024000001")
    assert form_turn("5678", domain, account_no="2024000001").responses == ["utter_identity_verified"]
    assert redis.get(redis_keys().identity_failures("2024000001", SENDER)) is None
    assert form_turn("1111", domain, account_no="2024000001").messages[0]["remaining"] == 2


def test_malformed_answers_get_the_format_hint(billing: str, redis: Redis, domain: Dict[str, Any]) -> None:
    account = form_turn("12345", domain)
    assert account.responses == ["utter_account_format"] and account.slots() == {"account_no": None}
    tail = form_turn("就是那个号", domain, account_no="2024000001")
    assert tail.responses == ["utter_phone_format"] and tail.slots() == {"phone_last4": None}
    assert redis.keys("*") == []  # neither counted as a try


def test_billing_down_ends_the_check_without_counting_the_try(billing_down: str, redis: Redis, domain: Dict[str, Any]) -> None:
    turn = form_turn("5678", domain, account_no="2024000001")
    assert turn.responses == ["utter_billing_unavailable"]
    assert turn.slots() == {"account_no": "-", "phone_last4": "-", "identity_outcome": UNAVAILABLE}
    assert redis.get(redis_keys().identity_failures("2024000001", SENDER)) in (None, "0")


def test_a_wechat_check_binds_the_openid_for_the_next_session(billing: str, domain: Dict[str, Any]) -> None:
    assert form_turn("5678", domain, sender="wechat:oZhang", account_no="2024000001").responses == ["utter_identity_verified"]
    # A new session (no slots, no session record): the binding answers, in WeChat only.
    run_async(lambda: _forget_session("wechat:oZhang"))
    tracker = make_tracker("查欠费", "ask_balance", channel="wechat", sender="wechat:oZhang", slots={"credit_warned": True})
    balance = run_action(ActionBillingQuery(), tracker, domain)
    assert balance.responses == ["utter_balance_total", "utter_pay_link"]
    assert balance.messages[0]["total"] == "1587.41"
    rest = make_tracker("查欠费", "ask_balance", sender="rest:oZhang")
    assert run_action(ActionBillingQuery(), rest, domain).followup() == "identity_form"


async def _forget_session(conversation: str) -> None:
    from bot.redis_client import get_redis

    await get_redis().delete(redis_keys().identity_session(conversation))
