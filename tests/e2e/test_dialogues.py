"""Whole conversations through the running stack (issues 10 and 11): the clarifying question in
REST and the widget, general late-fee answers without an identity check, and an identity form a
resident can interrupt, leave, correct, and type digits into however they come."""

from __future__ import annotations

import uuid
from typing import Any, Dict, List

import httpx
import pytest
import socketio  # noqa: F401 - the widget client below needs it installed

from tests.conftest import Resident
from tests.e2e.ambiguity import Ambiguous, find_ambiguous
from tests.e2e.test_widget import WidgetUser, own_loop
from tests.stack import Stack

ASKS_ACCOUNT = "请告诉我您的供热户号"
ASKS_TAIL = "手机号的后四位"
ACCOUNT_FORMAT = "户号应该是8到10位数字"
CLARIFY = "我想确认一下"
HANDED_OFF = "已为您转接人工客服"
FULL_RULE = "部分缴费后"  # only the full rule says this
BALANCE_1 = "未交热费 1509.00 元 + 滞纳金 78.41 元"  # the one-bubble balance of 2024000001 (issue 11)


@pytest.fixture(scope="module")
def ambiguous(stack: Stack) -> Ambiguous:
    return find_ambiguous(stack.url("rasa"), stack.env["RASA_TOKEN"])


def rest(stack: Stack, sender: str, text: str) -> List[Dict[str, Any]]:
    """Rasa's standard REST answer, buttons included."""
    answer = httpx.post(
        stack.url("rasa") + "/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()


def joined(replies: List[str]) -> str:
    return "\n".join(replies)


def latest_intent(stack: Stack, conversation: str) -> str:
    """The intent of the conversation's latest message (ids carry their channel: `rest:<sender>`)."""
    tracker = httpx.get(
        f"{stack.url('rasa')}/conversations/{conversation}/tracker", params={"token": stack.env["RASA_TOKEN"]}, timeout=10
    ).json()
    return tracker["latest_message"]["intent"]["name"]


def fresh_answer(stack: Stack, text: str) -> List[str]:
    """What a new resident gets for `text`: the oracle for "the conversation continued with it"."""
    return [item.get("text", "") for item in rest(stack, f"oracle-{uuid.uuid4().hex[:10]}", text)]


# -- the clarifying question -------------------------------------------------------------------


def test_rest_ambiguous_message_gets_two_choices_as_buttons(stack: Stack, ambiguous: Ambiguous) -> None:
    sender = f"clarify-{uuid.uuid4().hex[:10]}"
    [question] = rest(stack, sender, ambiguous.text)
    assert CLARIFY in question["text"]
    assert question["buttons"] == [
        {"title": label, "payload": payload} for label, payload in zip(ambiguous.labels, ambiguous.payloads)
    ]
    # Clicking the second choice continues the conversation with exactly that intent.
    continued = [item.get("text", "") for item in rest(stack, sender, ambiguous.payloads[1])]
    assert latest_intent(stack, f"rest:{sender}") == ambiguous.intents[1]
    assert continued and continued == fresh_answer(stack, ambiguous.payloads[1])
    assert not any(CLARIFY in text for text in continued)


def test_rest_second_miss_in_a_row_goes_to_a_person(stack: Stack, ambiguous: Ambiguous) -> None:
    resident = Resident(stack, f"miss-{uuid.uuid4().hex[:10]}")
    assert CLARIFY in joined(resident.say(ambiguous.text))
    assert HANDED_OFF in joined(resident.say(ambiguous.text))


def test_rest_a_clarified_question_does_not_count_as_a_miss(stack: Stack, ambiguous: Ambiguous) -> None:
    resident = Resident(stack, f"miss-{uuid.uuid4().hex[:10]}")
    resident.say(ambiguous.text)
    resident.say("/ask_price")  # an understood message in between (one that opens no form)
    again = joined(resident.say(ambiguous.text))
    assert CLARIFY in again and HANDED_OFF not in again


@own_loop
async def test_widget_shows_the_choices_as_quick_replies_and_a_click_continues(
    stack: Stack, ambiguous: Ambiguous
) -> None:
    async with WidgetUser(stack) as user:
        await user.start()
        [question] = await user.say(ambiguous.text)
        assert CLARIFY in question["text"]
        assert [(r["title"], r["payload"]) for r in question["quick_replies"]] == list(
            zip(ambiguous.labels, ambiguous.payloads)
        )
        # The widget sends the payload and shows the title (heatdesk-widget.js does the same).
        before = len(user.of("user_echo"))
        await user.client.emit(
            "user_uttered",
            {"message": ambiguous.payloads[0], "display": ambiguous.labels[0], "session_id": user.session_id,
             "client_id": f"c-{uuid.uuid4().hex[:12]}"},
        )
        await user.wait(lambda: len(user.of("bot_uttered")) > 1)
        await user.quiet(1.5)
        continued = [m.get("text", "") for m in user.of("bot_uttered")[1:]]
        assert user.of("user_echo")[before]["text"] == ambiguous.labels[0]
        assert continued == fresh_answer(stack, ambiguous.payloads[0])
        assert latest_intent(stack, f"widget:{user.session_id}") == ambiguous.intents[0]


# -- late fee without identity -------------------------------------------------------------------


def test_general_late_fee_question_is_answered_without_an_identity_check(resident: Resident) -> None:
    first = joined(resident.say("滞纳金怎么算的"))
    assert "2024-01-01" in first and "1‰" in first and "100%" in first and FULL_RULE in first
    assert "本金" in first
    assert ASKS_ACCOUNT not in first
    assert "帮您算" in first  # the offer to compute the resident's own figure

    second = joined(resident.say("滞纳金从哪天开始算"))
    assert "1‰" in second and FULL_RULE not in second and ASKS_ACCOUNT not in second

    # Taking up the offer (the button's payload) starts the check, then computes the own figure.
    assert ASKS_ACCOUNT in joined(resident.say("/affirm"))
    resident.say("2024000001")
    own = joined(resident.say("5678"))
    assert "合计滞纳金 78.41 元" in own


def test_rest_offer_button_is_returned(stack: Stack) -> None:
    replies = rest(stack, f"offer-{uuid.uuid4().hex[:10]}", "滞纳金怎么算的")
    buttons = [button for item in replies for button in item.get("buttons", [])]
    assert buttons == [{"title": "帮我算算我家的", "payload": "/affirm"}]


def test_own_late_fee_still_needs_the_identity_check(resident: Resident) -> None:
    assert ASKS_ACCOUNT in joined(resident.say("我家滞纳金多少钱"))


# -- the identity form: interruptions, leaving, digits -------------------------------------------


def test_leaving_the_form_with_a_price_question(resident: Resident) -> None:
    assert ASKS_ACCOUNT in joined(resident.say("查欠费"))
    answer = joined(resident.say("算了不查了，暖气费多少钱一平"))
    assert "26.00 元" in answer
    assert "已取消查询" in answer
    assert ACCOUNT_FORMAT not in answer and ASKS_ACCOUNT not in answer
    # The form is gone: a number now is a new, spontaneous question, not a leftover answer.
    after = joined(resident.say("那供暖是几号开始"))
    assert "采暖期" in after and ASKS_ACCOUNT not in after


def test_a_late_fee_question_inside_the_form_is_answered_and_the_form_resumes(resident: Resident) -> None:
    resident.say("查欠费")
    answer = joined(resident.say("那滞纳金咋算"))
    assert "1‰" in answer and ACCOUNT_FORMAT not in answer
    assert ASKS_ACCOUNT in answer  # the check goes on
    assert ASKS_TAIL in joined(resident.say("户号：２０２４０００００１"))
    done = joined(resident.say("伍陆柒捌"))
    assert "身份核实成功" in done and BALANCE_1 in done


def test_a_price_question_inside_the_form_and_then_the_check_goes_on(resident: Resident) -> None:
    resident.say("我家欠多少暖气费")
    answer = joined(resident.say("等下 暖气费现在多少钱一平米"))
    assert "26.00 元" in answer and ASKS_ACCOUNT in answer and ACCOUNT_FORMAT not in answer
    resident.say("2024000001")
    assert BALANCE_1 in joined(resident.say("5678"))


@pytest.mark.parametrize("typed", ["2024 0000 01", "2024-0000-01", "２０２４０００００１", "户号：2024 0000 01"])
def test_account_numbers_however_typed(resident: Resident, typed: str) -> None:
    resident.say("查欠费")
    reply = joined(resident.say(typed))
    assert ASKS_TAIL in reply and ACCOUNT_FORMAT not in reply


@pytest.mark.parametrize("tail", ["五六七八", "５６７８", "56 78"])
def test_phone_tails_however_typed(resident: Resident, tail: str) -> None:
    resident.say("查欠费")
    resident.say("2024000001")
    assert BALANCE_1 in joined(resident.say(tail))


def test_correcting_the_account_number(resident: Resident) -> None:
    resident.say("查欠费")
    assert ASKS_TAIL in joined(resident.say("2024000002"))
    assert ASKS_TAIL in joined(resident.say("不对，户号是2024000001"))
    done = joined(resident.say("5678"))
    assert "张*" in done and BALANCE_1 in done


def test_anger_in_the_middle_of_a_balance_check_goes_to_a_person(resident: Resident) -> None:
    resident.say("查欠费")
    resident.say("2024000001")
    assert HANDED_OFF in joined(resident.say("你们这破系统磨磨唧唧的！！！气死我了 我要投诉"))
