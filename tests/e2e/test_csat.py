"""The rating question after an agent resolved a ticket (issue 15), in each channel through the
running stack: the console resolves → the delivery worker asks the resident (widget: quick-reply
buttons, WeChat: numbered text to the fake WeChat API, REST: the same text with buttons in the
inbox) → the resident's "5" is recorded once (`ticket.csat`) and counted on the dashboard; a
second "5" is an ordinary message, and so is anything else said instead of a rating."""

from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest
from redis import Redis

from bot import messages
from connectors.wechat_protocol.messages import parse_xml_fields
from heatdesk_contract.keys import DEFAULT as KEYS
from tests.conftest import Resident
from tests.e2e.conftest import Console
from tests.e2e.test_widget import TICKET_NO, WidgetUser, own_loop, texts
from tests.fakes.wechat_api import FakeWeChat
from tests.security.conftest import WeChatSender, new_openid
from tests.stack import Stack, wait_until

QUESTION = "回复1-5为本次服务评分"
SCORES = ["5", "4", "3", "2", "1"]


@pytest.fixture
def redis(stack: Stack) -> Any:
    client = Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def wechat(stack: Stack) -> Any:
    sender = WeChatSender(stack)
    yield sender
    sender.close()


def serve_and_resolve(console: Console, conversation_id: str) -> str:
    """A person takes the conversation's ticket, answers the resident and resolves it."""
    ticket_no = wait_until(lambda: console.tickets(conversation_id), timeout=30)[0]["ticket_no"]
    client = console.client
    assert client.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    sent = client.post(f"/api/tickets/{ticket_no}/messages", json={"text": "您好，您反映的问题已经处理好了。"})
    assert sent.status_code == 201, sent.text
    resolved = client.post(f"/api/tickets/{ticket_no}/resolve", json={"resolution_category": "answered"})
    assert resolved.status_code == 200, resolved.text
    return ticket_no


def ratings_recorded(console: Console, ticket_no: str) -> List[int]:
    """The ratings the console persisted for the ticket (its history: one entry per rating)."""
    return [e["detail"]["score"] for e in console.detail(ticket_no)["history"] if e["kind"] == "csat"]


def dashboard_csat(console: Console) -> Dict[str, Any]:
    answer = console.client.get("/api/metrics/dashboard")
    answer.raise_for_status()
    return answer.json()["csat"]


def counted(console: Console, ticket_no: str, before: int) -> None:
    """The console persisted the rating: on the ticket, and once more on the dashboard."""
    wait_until(lambda: console.detail(ticket_no)["csat_score"] == 5, timeout=20)
    assert dashboard_csat(console)["count"] == before + 1
    assert ratings_recorded(console, ticket_no) == [5]


def not_counted(console: Console, ticket_no: str, scores: List[int]) -> None:
    time.sleep(2)  # a rating, had one been sent, would be persisted by now (the console reads at once)
    assert ratings_recorded(console, ticket_no) == scores


# -- REST -------------------------------------------------------------------------------------


def _rest_question(resident: Resident) -> Dict[str, Any]:
    seen: List[Dict[str, Any]] = []

    def question() -> List[Dict[str, Any]]:
        seen.extend(resident.inbox_full())
        return [m for m in seen if QUESTION in m.get("text", "")]

    return wait_until(question, timeout=20)[0]


def test_rest_resident_rates_the_service_once(resident: Resident, console: Console) -> None:
    before = dashboard_csat(console)["count"]
    assert TICKET_NO.search("\n".join(resident.say("转人工")))
    ticket_no = serve_and_resolve(console, resident.conversation_id)
    question = _rest_question(resident)
    assert [b["payload"] for b in question["buttons"]] == SCORES
    assert question["buttons"][0]["title"] == "5 非常满意"

    assert resident.say("5") == [messages.CSAT_THANKS]
    counted(console, ticket_no, before)
    # The same "5" again is an ordinary message: the bot answers, nothing is counted twice.
    assert messages.CSAT_THANKS not in resident.say("5")
    not_counted(console, ticket_no, [5])
    assert dashboard_csat(console)["count"] == before + 1


def test_rest_resident_who_asks_something_else_gets_the_bot(resident: Resident, console: Console) -> None:
    assert TICKET_NO.search("\n".join(resident.say("转人工")))
    ticket_no = serve_and_resolve(console, resident.conversation_id)
    _rest_question(resident)
    assert any("智能客服" in text for text in resident.say("你好"))
    # The wait is over: a later "5" is not a rating.
    assert messages.CSAT_THANKS not in resident.say("5")
    not_counted(console, ticket_no, [])
    assert console.detail(ticket_no)["csat_score"] is None


# -- widget -----------------------------------------------------------------------------------


async def _widget_question(user: WidgetUser) -> Dict[str, Any]:
    found = await user.wait(lambda: [m for m in user.of("bot_uttered") if m.get("quick_replies")
                                     and [r["payload"] for r in m["quick_replies"]] == SCORES])
    return found[0]


@own_loop
async def test_widget_resident_rates_with_a_button(stack: Stack, console: Console) -> None:
    before = dashboard_csat(console)["count"]
    async with WidgetUser(stack) as user:
        await user.start()
        assert TICKET_NO.search(texts(await user.say("转人工")))
        ticket_no = serve_and_resolve(console, user.conversation_id)
        question = await _widget_question(user)
        assert "打分" in question["text"] and question["quick_replies"][4]["title"] == "1 非常不满意"
        assert isinstance(question["message_id"], int)  # in the transcript: replayed after a reload

        assert texts(await user.say("5")) == messages.CSAT_THANKS  # what the 5 非常满意 button sends
        counted(console, ticket_no, before)
        assert messages.CSAT_THANKS not in texts(await user.say("5"))
        not_counted(console, ticket_no, [5])
        assert dashboard_csat(console)["count"] == before + 1


@own_loop
async def test_widget_resident_who_asks_something_else_gets_the_bot(stack: Stack, console: Console) -> None:
    async with WidgetUser(stack) as user:
        await user.start()
        assert TICKET_NO.search(texts(await user.say("转人工")))
        ticket_no = serve_and_resolve(console, user.conversation_id)
        await _widget_question(user)
        assert "智能客服" in texts(await user.say("你好"))
        assert messages.CSAT_THANKS not in texts(await user.say("5"))
        not_counted(console, ticket_no, [])


# -- WeChat -----------------------------------------------------------------------------------


def passive_reply(wechat: WeChatSender, openid: str, text: str) -> str:
    """The passive (encrypted) reply to one message, decrypted as WeChat would."""
    answer = wechat.post(wechat.text_xml(openid, text))
    assert answer.status_code == 200, answer.text
    fields = parse_xml_fields(answer.content)
    inner = wechat.crypto.decrypt_message(fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"],
                                          fields["Encrypt"], now=time.time())
    return parse_xml_fields(inner)["Content"]


def _wechat_question(wechat_api: FakeWeChat, openid: str) -> str:
    def question() -> List[str]:
        return [b["text"]["content"] for b in wechat_api.delivered() if b.get("touser") == openid
                and QUESTION in b["text"]["content"]]

    return wait_until(question, timeout=20)[0]


def test_wechat_resident_rates_with_a_digit(wechat: WeChatSender, wechat_api: FakeWeChat, console: Console) -> None:
    before = dashboard_csat(console)["count"]
    openid = new_openid()
    assert TICKET_NO.search(wechat.say(openid, "转人工"))
    wechat.say(openid, "还要等多久")
    ticket_no = serve_and_resolve(console, f"wechat:{openid}")
    question = _wechat_question(wechat_api, openid)
    assert "5 非常满意" in question and "1 非常不满意" in question

    assert passive_reply(wechat, openid, "5") == messages.CSAT_THANKS
    counted(console, ticket_no, before)
    assert messages.CSAT_THANKS not in wechat.say(openid, "5")
    not_counted(console, ticket_no, [5])
    assert dashboard_csat(console)["count"] == before + 1


def test_wechat_rating_one_is_not_an_older_numbered_choice(wechat: WeChatSender, wechat_api: FakeWeChat,
                                                           console: Console, redis: Redis) -> None:
    openid = new_openid()
    wechat.say(openid, "转人工")
    wechat.say(openid, "还要等多久")
    # While queued the bot offers 「取消转人工」 as numbered choice 1 (WeChat has no buttons) …
    assert redis.exists(KEYS.wechat_choices(f"wechat:{openid}"))
    ticket_no = serve_and_resolve(console, f"wechat:{openid}")
    _wechat_question(wechat_api, openid)
    # … which the rating question withdraws: "1" is the score, not 取消转人工.
    assert passive_reply(wechat, openid, "1") == messages.CSAT_THANKS_LOW
    wait_until(lambda: ratings_recorded(console, ticket_no) == [1], timeout=20)
    assert console.tickets(f"wechat:{openid}")[0]["ticket_no"] == ticket_no  # no ticket withdrawn or opened


def test_wechat_resident_who_asks_something_else_gets_the_bot(wechat: WeChatSender, wechat_api: FakeWeChat,
                                                              console: Console) -> None:
    openid = new_openid()
    wechat.say(openid, "转人工")
    ticket_no = serve_and_resolve(console, f"wechat:{openid}")
    _wechat_question(wechat_api, openid)
    assert "智能客服" in wechat.say(openid, "你好")
    assert messages.CSAT_THANKS not in wechat.say(openid, "5")
    not_counted(console, ticket_no, [])

