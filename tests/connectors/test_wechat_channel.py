"""The WeChat channel end to end at the HTTP level.

A real Sanic app (built with Rasa's own `register`) on a free port, real
Redis, the real handoff router, a real fake WeChat API server, and a small
async "agent" that answers through the channel's output channel like Rasa does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.channels.channel import UserMessage, register
from redis.asyncio import Redis
from sanic import Sanic

from bot.handoff.router import HandoffRouter
from bot import messages
from connectors.wechat import WeChatInput, WeChatOutput
from connectors.wechat_protocol.answers import CLICK_INTENTS
from connectors.wechat_protocol.callback import CallbackQuery
from connectors.wechat_protocol.crypto import WeChatCrypto
from connectors.wechat_protocol.exceptions import (
    InvalidSignatureError,
    MessageParseError,
    WeChatProtocolError,
)
from connectors.wechat_protocol.messages import TextMessage, parse_xml_fields
from connectors.wechat_protocol.replies import MAX_TEXT_BYTES
from connectors.wechat_protocol.signature import compute_signature
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.owner import AGENT, Owner
from heatdesk_contract.streams import AgentMessage, TicketUserMessage, parse_ticket_entry
from tests.connectors.conftest import REDIS_URL
from tests.connectors.fake_wechat import FakeWeChat
from tests.connectors.sanic_server import LiveSanic

TOKEN = "heatdesk-test-token"
ACCOUNT = "gh_heatdesk_test"
AES_KEY = base64.b64encode(b"K" * 32).decode()[:43]
DEADLINE = 0.6  # the passive-reply deadline seam (4 s in production)
LONG_REPLY = "您的账户信息如下。" + "请注意按时缴纳采暖费，逾期将按日加收滞纳金。" * 80


class FakeAgent:
    """Stands in for `rasa.core.agent.Agent`: answers through the message's output channel."""

    def __init__(self) -> None:
        self.received: List[UserMessage] = []
        self.lock = threading.Lock()

    def texts(self) -> List[str]:
        with self.lock:
            return [message.text or "" for message in self.received]

    async def handle_message(self, message: UserMessage) -> None:
        with self.lock:
            self.received.append(message)
        text = message.text or ""
        out = message.output_channel
        recipient = message.sender_id
        if text.startswith("slow"):
            await out.send_response(recipient, {"text": "正在为您查询，请稍候…"})
            await asyncio.sleep(float(text.split(":")[1]) if ":" in text else 1.5)
            await out.send_response(recipient, {"text": "查询完成：欠费 1509.00 元。"})
        elif text == "两条":
            await out.send_response(recipient, {"text": "第一条"})
            await out.send_response(recipient, {"text": "第二条"})
        elif text == "长":
            await out.send_response(recipient, {"text": LONG_REPLY})
        elif text == "按钮":
            await out.send_response(
                recipient,
                {"text": "请选择：", "buttons": [{"title": "查欠费", "payload": "/ask_balance"}, {"title": "转人工", "payload": "/request_human"}]},
            )
        elif text == "boom":
            raise RuntimeError("the bot broke")
        elif text == "escape":
            await out.send_response(recipient, {"text": "a]]>b <xml>&amp;"})
        else:
            await out.send_response(recipient, {"text": f"收到：{text}"})


@pytest.fixture
def settings_prefix(key_space: KeySpace) -> str:
    """Point the shared Redis key prefix (owner keys, ticket stream) at the test's prefix."""
    return key_space.prefix


class Harness:
    """One running app: its channel, agent, fake WeChat and HTTP helpers."""

    def __init__(self, server: LiveSanic, channel: WeChatInput, agent: FakeAgent, fake: FakeWeChat) -> None:
        self.server = server
        self.channel = channel
        self.agent = agent
        self.fake = fake
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.client_crypto = WeChatCrypto(TOKEN, AES_KEY, fake.state.appid)

    # -- building callbacks ----------------------------------------------------------

    @staticmethod
    def query(timestamp: Optional[int] = None, nonce: Optional[str] = None, token: str = TOKEN) -> Dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or str(uuid.uuid4().int % 10**9)
        return {"signature": compute_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce}

    @staticmethod
    def text_xml(openid: str, content: str, msg_id: Optional[str] = None, msg_type: str = "text", **extra: str) -> str:
        fields = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in extra.items())
        body = f"<Content><![CDATA[{content}]]></Content>" if msg_type == "text" else ""
        msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
        return (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"{body}{fields}{msg_id_xml}</xml>"
        )

    @staticmethod
    def event_xml(openid: str, event: str, key: str = "", create_time: Optional[int] = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
        )

    def post(self, xml: str | bytes, query: Optional[Dict[str, str]] = None) -> httpx.Response:
        body = xml.encode("utf-8") if isinstance(xml, str) else xml
        return self.http.post("/webhooks/wechat/webhook", params=query or self.query(), content=body)

    def post_safe(self, inner_xml: str, crypto: Optional[WeChatCrypto] = None, tamper: bool = False) -> httpx.Response:
        encrypted = (crypto or self.client_crypto).encrypt(inner_xml)
        query = self.query()
        query["encrypt_type"] = "aes"
        query["msg_signature"] = compute_signature(TOKEN, query["timestamp"], query["nonce"], encrypted)
        if tamper:
            encrypted = encrypted[:-8] + "AAAAAAA="
        envelope = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        return self.post(envelope, query)

    def decrypt_reply(self, response: httpx.Response) -> Dict[str, str]:
        envelope = parse_xml_fields(response.content)
        expected = compute_signature(TOKEN, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"])
        assert envelope["MsgSignature"] == expected
        return parse_xml_fields(self.client_crypto.decrypt(envelope["Encrypt"]))

    def wait_background(self) -> None:
        self.server.call(lambda: self.channel.wait_background(10))


@pytest.fixture
def harness_factory(settings_prefix: str, fake_wechat: FakeWeChat) -> Iterator[Any]:
    started: List[LiveSanic] = []

    def build(**overrides: Any) -> Harness:
        options: Dict[str, Any] = dict(
            token=TOKEN,
            appid=fake_wechat.state.appid,
            appsecret=fake_wechat.state.secret,
            aes_key="",
            api_base=fake_wechat.base_url,
            redis_url=REDIS_URL,
            key_prefix=settings_prefix,
            reply_deadline=DEADLINE,
            overflow_delay=0.05,
            router=HandoffRouter(redis=Redis.from_url(REDIS_URL, decode_responses=True)),
            register_delivery=False,
        )
        options.update(overrides)
        channel = WeChatInput(**options)
        agent = FakeAgent()
        app = Sanic(f"wechat_test_{uuid.uuid4().hex}")
        app.ctx.agent = agent
        register([channel], app, route="/webhooks/")
        server = LiveSanic(app).__enter__()
        started.append(server)
        return Harness(server, channel, agent, fake_wechat)

    yield build
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def plain(harness_factory: Any) -> Harness:
    return harness_factory()


@pytest.fixture
def safe(harness_factory: Any) -> Harness:
    return harness_factory(aes_key=AES_KEY)


def openid() -> str:
    return "oTest" + uuid.uuid4().hex[:20]


# -- URL verification and health ---------------------------------------------------------


def test_get_verification_echoes_plain_text(plain: Harness) -> None:
    query = plain.query()
    query["echostr"] = "5927782489442352469"
    response = plain.http.get("/webhooks/wechat/webhook", params=query)
    assert response.status_code == 200
    assert response.text == "5927782489442352469"


def test_get_verification_in_safe_mode_still_echoes_plain_text(safe: Harness) -> None:
    query = safe.query()
    query["echostr"] = "echo-me"
    response = safe.http.get("/webhooks/wechat/webhook", params=query)
    assert (response.status_code, response.text) == (200, "echo-me")


def test_get_verification_with_encrypted_echostr(safe: Harness) -> None:
    echostr = safe.client_crypto.encrypt("1234567890")
    ts, nonce = str(int(time.time())), "42"
    query = {"msg_signature": compute_signature(TOKEN, ts, nonce, echostr), "timestamp": ts, "nonce": nonce, "echostr": echostr}
    response = safe.http.get("/webhooks/wechat/webhook", params=query)
    assert (response.status_code, response.text) == (200, "1234567890")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda q: q.update(signature="0" * 40),
        lambda q: q.update(nonce=q["nonce"] + "1"),
        lambda q: q.pop("signature"),
        lambda q: q.update(Harness.query(timestamp=int(time.time()) - 3600)),
        lambda q: q.update(Harness.query(token="someone-else")),
    ],
    ids=["zero-signature", "wrong-nonce", "no-signature", "stale", "other-token"],
)
def test_get_verification_refuses_bad_signatures(plain: Harness, mutate: Any) -> None:
    query = plain.query()
    mutate(query)
    query["echostr"] = "x"
    assert plain.http.get("/webhooks/wechat/webhook", params=query).status_code == 403


def test_get_verification_without_echostr_is_a_bad_request(plain: Harness) -> None:
    assert plain.http.get("/webhooks/wechat/webhook", params=plain.query()).status_code == 400


def test_health(plain: Harness) -> None:
    response = plain.http.get("/webhooks/wechat/")
    assert response.status_code == 200 and response.json() == {"status": "ok", "redis": True}


# -- messages --------------------------------------------------------------------------


def test_text_is_answered_passively(plain: Harness) -> None:
    user = openid()
    started = time.monotonic()
    response = plain.post(plain.text_xml(user, "你好", msg_id="1001"))
    assert time.monotonic() - started < DEADLINE
    assert response.status_code == 200
    reply = parse_xml_fields(response.content)
    assert reply["ToUserName"] == user and reply["FromUserName"] == ACCOUNT
    assert reply["MsgType"] == "text" and reply["Content"] == "收到：你好"
    (message,) = plain.agent.received
    assert message.sender_id == f"wechat:{user}"  # conversation ids belong to their channel
    assert message.input_channel == "wechat"
    assert message.message_id == "1001"
    assert message.metadata == {"channel": "wechat", "openid": user}
    assert plain.fake.sends() == []


def test_a_text_over_the_channel_limit_is_answered_by_the_channel_not_the_bot(plain: Harness) -> None:
    from connectors.base import MAX_TEXT

    reply = parse_xml_fields(plain.post(plain.text_xml(openid(), "热" * (MAX_TEXT + 1), msg_id="1099")).content)
    assert reply["Content"] == messages.WECHAT_MESSAGE_TOO_LONG.format(limit=MAX_TEXT)
    assert plain.agent.received == []
    reply = parse_xml_fields(plain.post(plain.text_xml(openid(), "a" * MAX_TEXT, msg_id="1098")).content)
    assert reply["Content"] == "收到：" + "a" * MAX_TEXT  # at the limit: the bot's turn


def test_several_bot_messages_are_joined_in_one_passive_reply(plain: Harness) -> None:
    reply = parse_xml_fields(plain.post(plain.text_xml(openid(), "两条", msg_id="1002")).content)
    assert reply["Content"] == "第一条\n\n第二条"


def test_buttons_are_listed_under_the_text(plain: Harness) -> None:
    reply = parse_xml_fields(plain.post(plain.text_xml(openid(), "按钮", msg_id="1003")).content)
    assert reply["Content"] == f"请选择：\n1. 查欠费\n2. 转人工\n{messages.WECHAT_CHOICE_HINT}"


@pytest.mark.parametrize("answer, expected", [("1", "/ask_balance"), ("２", "/request_human"), (" 2。", "/request_human"), ("3", "3"), ("查欠费", "查欠费")])
def test_a_digit_answers_the_numbered_choices_with_the_offered_payload(plain: Harness, answer: str, expected: str) -> None:
    user = openid()
    plain.post(plain.text_xml(user, "按钮", msg_id=f"11{uuid.uuid4().int % 10**6}"))
    reply = parse_xml_fields(plain.post(plain.text_xml(user, answer, msg_id=f"12{uuid.uuid4().int % 10**6}")).content)
    assert plain.agent.texts()[-1] == expected
    assert reply["Content"] == f"收到：{expected}"


def test_the_choices_are_used_once_and_belong_to_their_user(plain: Harness) -> None:
    user, other = openid(), openid()
    plain.post(plain.text_xml(user, "按钮", msg_id="1301"))
    plain.post(plain.text_xml(other, "1", msg_id="1302"))  # another resident's "1" means nothing
    plain.post(plain.text_xml(user, "1", msg_id="1303"))
    plain.post(plain.text_xml(user, "1", msg_id="1304"))  # the offer was used up by the first answer
    assert plain.agent.texts()[-3:] == ["1", "/ask_balance", "1"]


def test_a_digit_without_an_offer_is_plain_text(plain: Harness) -> None:
    plain.post(plain.text_xml(openid(), "1", msg_id="1401"))
    assert plain.agent.texts()[-1] == "1"


def test_reply_escapes_cdata_end(plain: Harness) -> None:
    response = plain.post(plain.text_xml(openid(), "escape", msg_id="1004"))
    assert "]]]]><![CDATA[>" in response.text
    assert parse_xml_fields(response.content)["Content"] == "a]]>b <xml>&amp;"


def test_voice_uses_recognition(plain: Harness) -> None:
    response = plain.post(plain.text_xml(openid(), "", msg_id="1005", msg_type="voice", MediaId="m", Format="amr", Recognition="查询欠费"))
    assert parse_xml_fields(response.content)["Content"] == "收到：查询欠费"


def test_voice_without_recognition_asks_to_type(plain: Harness) -> None:
    response = plain.post(plain.text_xml(openid(), "", msg_id="1006", msg_type="voice", MediaId="m", Format="amr"))
    assert parse_xml_fields(response.content)["Content"] == messages.WECHAT_VOICE_PLEASE_TYPE
    assert plain.agent.received == []


def test_image_is_answered_politely(plain: Harness) -> None:
    response = plain.post(plain.text_xml(openid(), "", msg_id="1007", msg_type="image", PicUrl="http://127.0.0.1/x.jpg", MediaId="m"))
    assert parse_xml_fields(response.content)["Content"] == messages.WECHAT_IMAGE_RECEIVED
    assert plain.agent.received == []


def test_unsupported_message_type_is_answered_politely(plain: Harness) -> None:
    response = plain.post(plain.text_xml(openid(), "", msg_id="1008", msg_type="location", Label="哈尔滨"))
    assert parse_xml_fields(response.content)["Content"] == messages.WECHAT_UNSUPPORTED_MESSAGE


def test_subscribe_gets_the_welcome_and_unsubscribe_nothing(plain: Harness) -> None:
    user = openid()
    welcome = parse_xml_fields(plain.post(plain.event_xml(user, "subscribe")).content)
    assert welcome["Content"] == messages.WECHAT_WELCOME
    goodbye = plain.post(plain.event_xml(user, "unsubscribe"))
    assert (goodbye.status_code, goodbye.text) == (200, "success")
    view = plain.post(plain.event_xml(user, "VIEW", key="https://example.invalid"))
    assert view.text == "success"
    assert plain.agent.received == []


@pytest.mark.parametrize("key, intent", sorted(CLICK_INTENTS.items()))
def test_menu_clicks_become_intents(plain: Harness, key: str, intent: str) -> None:
    response = plain.post(plain.event_xml(openid(), "CLICK", key=key))
    assert parse_xml_fields(response.content)["Content"] == f"收到：{intent}"
    assert plain.agent.texts() == [intent]


def test_click_intents_are_the_contracted_ones() -> None:
    assert CLICK_INTENTS == {"QUERY_BALANCE": "/ask_balance", "LATE_FEE_HELP": "/ask_late_fee", "HUMAN": "/request_human"}


def test_unknown_menu_key_is_answered_without_the_bot(plain: Harness) -> None:
    response = plain.post(plain.event_xml(openid(), "CLICK", key="NO_SUCH_KEY"))
    assert parse_xml_fields(response.content)["Content"] == messages.WECHAT_UNKNOWN_MENU
    assert plain.agent.received == []


def test_a_failing_bot_gets_an_apology_not_a_500(plain: Harness) -> None:
    response = plain.post(plain.text_xml(openid(), "boom", msg_id="1009"))
    assert response.status_code == 200
    assert parse_xml_fields(response.content)["Content"] == messages.WECHAT_SERVICE_ERROR


# -- refusals: signatures, sizes, bombs ----------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda q: q.update(signature="f" * 40),
        lambda q: q.pop("signature"),
        lambda q: q.pop("timestamp"),
        lambda q: q.update(Harness.query(timestamp=int(time.time()) + 3600)),
        lambda q: q.update(signature="签名"),
    ],
    ids=["wrong", "missing", "no-timestamp", "future", "non-ascii"],
)
def test_post_with_a_bad_signature_is_refused(plain: Harness, mutate: Any) -> None:
    query = plain.query()
    mutate(query)
    response = plain.post(plain.text_xml(openid(), "你好", msg_id="2001"), query)
    assert response.status_code == 403
    assert plain.agent.received == []


def test_unsigned_garbage_never_reaches_the_parser(plain: Harness) -> None:
    response = plain.post(b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml>&a;</xml>", {"timestamp": "1"})
    assert response.status_code == 403


def test_oversized_body_is_refused(plain: Harness) -> None:
    xml = plain.text_xml(openid(), "热" * 30000, msg_id="2002")  # ~90 KB
    assert plain.post(xml).status_code == 413


def test_oversized_chunked_body_is_refused(plain: Harness) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"<a>" + b"x" * 1000 + b"</a>"

    response = plain.http.post("/webhooks/wechat/webhook", params=plain.query(), content=chunks())
    assert response.status_code == 413


def test_body_just_under_the_limit_is_fine(plain: Harness) -> None:
    xml = plain.text_xml(openid(), "x", msg_id="2003")
    padded = xml.replace("</xml>", "<Pad>" + "p" * (64 * 1024 - len(xml) - 20) + "</Pad></xml>")
    assert len(padded.encode()) <= 64 * 1024
    assert plain.post(padded).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>",
        b"definitely not xml",
        b"",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><Content>&lol3;</Content></xml>',
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><FromUserName>o</FromUserName><MsgType>text</MsgType><Content>&xxe;</Content></xml>',
    ],
    ids=["truncated", "not-xml", "empty", "billion-laughs", "external-entity"],
)
def test_malformed_xml_and_bombs_get_400_and_the_server_lives_on(plain: Harness, body: bytes) -> None:
    started = time.monotonic()
    response = plain.post(body)
    assert response.status_code == 400
    assert time.monotonic() - started < 2
    assert plain.agent.received == []
    assert plain.post(plain.text_xml(openid(), "还在吗", msg_id=uuid.uuid4().hex[:16])).status_code == 200


def test_no_token_configured_refuses_everything(harness_factory: Any) -> None:
    harness = harness_factory(token="")
    query = harness.query(token="")
    assert harness.post(harness.text_xml(openid(), "hi", msg_id="2004"), query).status_code == 403


# -- safe mode ---------------------------------------------------------------------------


def test_safe_mode_round_trip(safe: Harness) -> None:
    user = openid()
    response = safe.post_safe(safe.text_xml(user, "你好", msg_id="3001"))
    assert response.status_code == 200
    reply = safe.decrypt_reply(response)
    assert reply["ToUserName"] == user and reply["Content"] == "收到：你好"


def test_safe_mode_subscribe_welcome_is_encrypted(safe: Harness) -> None:
    reply = safe.decrypt_reply(safe.post_safe(safe.event_xml(openid(), "subscribe")))
    assert reply["Content"] == messages.WECHAT_WELCOME


def test_safe_mode_refuses_a_tampered_payload(safe: Harness) -> None:
    assert safe.post_safe(safe.text_xml(openid(), "你好", msg_id="3002"), tamper=True).status_code == 403
    assert safe.agent.received == []


def test_safe_mode_refuses_another_appid(safe: Harness) -> None:
    other = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000")
    assert safe.post_safe(safe.text_xml(openid(), "你好", msg_id="3003"), crypto=other).status_code == 400


def test_safe_mode_refuses_a_bomb_inside_the_encrypted_payload(safe: Harness) -> None:
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><xml><Content>&b;</Content></xml>'
    assert safe.post_safe(bomb).status_code == 400


def test_safe_mode_accepts_the_previous_key_during_rotation(harness_factory: Any) -> None:
    new_key = base64.b64encode(os.urandom(32)).decode()[:43]
    harness = harness_factory(aes_key=new_key, previous_aes_key=AES_KEY)
    response = harness.post_safe(harness.text_xml(openid(), "旧密钥", msg_id="3004"))
    assert response.status_code == 200
    envelope = parse_xml_fields(response.content)
    current = WeChatCrypto(TOKEN, new_key, harness.fake.state.appid)
    assert parse_xml_fields(current.decrypt(envelope["Encrypt"]))["Content"] == "收到：旧密钥"


def test_encrypted_callback_without_a_key_is_a_bad_request(plain: Harness) -> None:
    assert plain.post_safe(plain.text_xml(openid(), "你好", msg_id="3005")).status_code == 400


# -- the 5-second rule, retries -------------------------------------------------------------


def test_slow_bot_answers_success_then_delivers_once_in_order(plain: Harness) -> None:
    user = openid()
    started = time.monotonic()
    response = plain.post(plain.text_xml(user, "slow:1.2", msg_id="4001"))
    elapsed = time.monotonic() - started
    assert (response.status_code, response.text) == (200, "success")
    assert DEADLINE <= elapsed < 3  # `success` itself proves it did not wait for the bot
    delivered = plain.fake.wait_for_delivered(2)
    plain.wait_background()
    assert [(d["touser"], d["text"]["content"]) for d in plain.fake.delivered()] == [
        (user, "正在为您查询，请稍候…"),
        (user, "查询完成：欠费 1509.00 元。"),
    ]
    assert len(delivered) == 2


def test_three_retries_of_a_slow_message_run_the_bot_once(plain: Harness) -> None:
    user = openid()
    xml = plain.text_xml(user, "slow:1.0", msg_id="4002")
    responses = [plain.post(xml)]  # WeChat retries only after it got no answer in time;
    responses += [plain.post(xml) for _ in range(2)]  # ours came at the deadline: `success`
    assert [r.text for r in responses] == ["success"] * 3
    plain.fake.wait_for_delivered(2)
    plain.wait_background()
    time.sleep(0.3)
    assert plain.agent.texts() == ["slow:1.0"]
    assert len(plain.fake.delivered()) == 2


def test_concurrent_retries_run_the_bot_once_and_share_the_passive_reply(plain: Harness) -> None:
    user = openid()
    xml = plain.text_xml(user, "你好", msg_id="4003")
    query = plain.query()
    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(pool.map(lambda _: plain.post(xml, dict(query)), range(3)))
    assert all(r.status_code == 200 for r in responses)
    assert [parse_xml_fields(r.content)["Content"] for r in responses] == ["收到：你好"] * 3
    assert plain.agent.texts() == ["你好"]
    assert plain.fake.sends() == []


def test_a_later_retry_gets_the_cached_passive_reply(plain: Harness) -> None:
    xml = plain.text_xml(openid(), "两条", msg_id="4004")
    first = parse_xml_fields(plain.post(xml).content)["Content"]
    second = parse_xml_fields(plain.post(xml).content)["Content"]
    assert first == second == "第一条\n\n第二条"
    assert plain.agent.texts() == ["两条"]


def test_retried_events_are_deduplicated(plain: Harness) -> None:
    xml = plain.event_xml(openid(), "CLICK", key="HUMAN", create_time=1732700000 + 7)
    for _ in range(3):
        plain.post(xml)
    assert plain.agent.texts() == ["/request_human"]


def test_safe_mode_retry_gets_a_freshly_encrypted_copy(safe: Harness) -> None:
    xml = safe.text_xml(openid(), "你好", msg_id="4005")
    first, second = safe.post_safe(xml), safe.post_safe(xml)
    assert safe.decrypt_reply(first)["Content"] == safe.decrypt_reply(second)["Content"] == "收到：你好"
    assert safe.agent.texts() == ["你好"]


def test_long_answer_is_split_passive_first_then_customer_service(plain: Harness) -> None:
    user = openid()
    response = plain.post(plain.text_xml(user, "长", msg_id="4006"))
    first = parse_xml_fields(response.content)["Content"]
    assert len(first.encode()) <= MAX_TEXT_BYTES
    plain.wait_background()
    rest = [d["text"]["content"] for d in plain.fake.wait_for_delivered(1)]
    assert all(len(piece.encode()) <= MAX_TEXT_BYTES for piece in rest)
    assert first + "".join(rest) == LONG_REPLY


# -- handoff -----------------------------------------------------------------------------


def test_messages_go_through_the_handoff_router(plain: Harness, key_space: KeySpace) -> None:
    import redis as sync_redis

    from bot.handoff.policy import OWNER_METADATA_KEY

    user = openid()
    client = sync_redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.hset(key_space.owner(f"wechat:{user}"),
                mapping=Owner(AGENT, "GD202501010001", "王芳", channel="wechat").to_fields())
    try:
        plain.post(plain.text_xml(user, "人呢？", msg_id="5001"))
        (message,) = plain.agent.received
        assert message.metadata[OWNER_METADATA_KEY] == "agent"
        assert message.metadata["openid"] == user
        entries = [parse_ticket_entry(fields) for _id, fields in client.xrange(key_space.tickets_stream())]
        # The resident's message, then the bot's answer while queued (the agent sees both).
        assert [(type(e), e.conversation_id, e.text, e.channel, e.sender) for e in entries] == [  # type: ignore[union-attr]
            (TicketUserMessage, f"wechat:{user}", "人呢？", "wechat", "user"),
            (TicketUserMessage, f"wechat:{user}", "收到：人呢？", "wechat", "bot"),
        ]
    finally:
        client.close()


def test_agent_replies_are_delivered_and_refusals_reported(plain: Harness) -> None:
    from bot.delivery import DeliveryRejected

    user = openid()
    reply = AgentMessage("m1", "GD1", f"wechat:{user}", "wechat", "您好，我是客服王芳。", "王芳")
    plain.server.call(lambda: plain.channel.deliver(f"wechat:{user}", reply.text, reply))
    assert [(d["touser"], d["text"]["content"]) for d in plain.fake.delivered()] == [(user, "您好，我是客服王芳。")]
    # A conversation of another channel is never sent to WeChat under its bare id.
    with pytest.raises(DeliveryRejected) as foreign:
        plain.server.call(lambda: plain.channel.deliver(f"rest:{user}", "串号", reply))
    assert foreign.value.reason == messages.WECHAT_AGENT_NOT_WECHAT

    plain.fake.fail_next_sends(45015)
    with pytest.raises(DeliveryRejected) as rejected:
        plain.server.call(lambda: plain.channel.deliver(f"wechat:{user}", "还在吗？", reply))
    assert rejected.value.reason == messages.WECHAT_AGENT_OUTSIDE_WINDOW


def test_blueprint_registers_the_deliverer(harness_factory: Any) -> None:
    from bot.delivery import deliverer_for

    harness = harness_factory(register_delivery=True)
    deliverer = deliverer_for("wechat")
    assert deliverer is not None and getattr(deliverer, "__self__", None) is harness.channel


# -- construction and the small extractors ------------------------------------------------


def test_from_credentials_maps_keys_and_falls_back_to_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("WECHAT_TOKEN", "env-token")
    monkeypatch.setenv("WECHAT_APPID", "wxenv")
    monkeypatch.setenv("WECHAT_APPSECRET", "env-secret")
    monkeypatch.setenv("WECHAT_AES_KEY", AES_KEY)
    monkeypatch.setenv("WECHAT_API_BASE", "http://127.0.0.1:9")
    get_settings.cache_clear()
    try:
        from_env = WeChatInput.from_credentials(None)
        assert (from_env.token, from_env.appid, from_env.api_base) == ("env-token", "wxenv", "http://127.0.0.1:9")
        assert from_env.crypto is not None
        from_file = WeChatInput.from_credentials({"token": "file-token", "aes_key": "", "reply_deadline": "3.5"})
        assert (from_file.token, from_file.appid, from_file.reply_deadline) == ("file-token", "wxenv", 3.5)
        assert from_file.crypto is not None  # empty value in the file → the environment's key
    finally:
        get_settings.cache_clear()
    assert "env-secret" not in repr(from_env) and "env-token" not in repr(from_env)


def test_a_malformed_aes_key_fails_at_start_up() -> None:
    with pytest.raises(ValueError):
        WeChatInput(token=TOKEN, appid="wx", aes_key="too-short")


class _Args(dict):
    def get(self, key: str, default: Any = None) -> Any:  # like Sanic's RequestParameters
        return super().get(key, default)


class _StubRequest:
    def __init__(self, **args: str) -> None:
        self.args = _Args(args)


def test_extract_query_and_message_directly() -> None:
    channel = WeChatInput(token=TOKEN, clock=lambda: 1732700000.0)
    ts, nonce = "1732700000", "77"
    query = channel._extract_query(_StubRequest(signature=compute_signature(TOKEN, ts, nonce), timestamp=ts, nonce=nonce))  # type: ignore[arg-type]
    assert query == CallbackQuery(compute_signature(TOKEN, ts, nonce), ts, nonce, None, "raw", None)
    message = channel._extract_message(query, Harness.text_xml("oUser", "暖气不热", msg_id="9"))  # type: ignore[arg-type]
    assert isinstance(message, TextMessage) and message.content == "暖气不热"
    assert channel._extract_text(message) == "暖气不热"
    with pytest.raises(MessageParseError):
        channel._extract_message(query, b"<xml>")
    late = WeChatInput(token=TOKEN, clock=lambda: 1732700000.0 + 301)
    with pytest.raises(InvalidSignatureError):
        late._extract_message(query, b"<xml/>")


def test_output_channel_without_collecting_pushes_directly(fake_wechat: FakeWeChat, redis_prefix: str) -> None:
    from connectors.wechat_protocol.api import WeChatAPI

    async def main() -> None:
        redis = Redis.from_url(REDIS_URL, decode_responses=True)
        api = WeChatAPI(fake_wechat.state.appid, fake_wechat.state.secret, redis, base_url=fake_wechat.base_url, key_prefix=redis_prefix)
        try:
            output = WeChatOutput(api)
            await output.send_response("oUser", {"text": "主动推送"})
            await output.send_response("oUser", {"custom": {"widget_only": True}})
        finally:
            await api.aclose()
            await redis.close()

    asyncio.run(main())
    assert [d["text"]["content"] for d in fake_wechat.delivered()] == ["主动推送"]


_FUZZ_NOW = 1732700000.0
_FUZZ_QUERY = CallbackQuery(compute_signature(TOKEN, "1732700000", "1"), "1732700000", "1", None, "raw", None)


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=4096))
def test_fuzz_signed_bodies_only_raise_protocol_errors(body: bytes) -> None:
    channel = WeChatInput(token=TOKEN, clock=lambda: _FUZZ_NOW)
    with contextlib.suppress(WeChatProtocolError):  # a typed refusal is fine; nothing else is
        channel._extract_message(_FUZZ_QUERY, body)


@settings(max_examples=200, deadline=1000)
@given(st.one_of(st.text(max_size=600), st.binary(max_size=512).map(lambda raw: base64.b64encode(raw).decode())))
def test_fuzz_encrypted_payloads_only_raise_protocol_errors(encrypted: str) -> None:
    channel = WeChatInput(token=TOKEN, appid="wxfuzz", aes_key=AES_KEY, clock=lambda: _FUZZ_NOW)
    query = CallbackQuery(None, "1732700000", "1", compute_signature(TOKEN, "1732700000", "1", encrypted), "aes", None)
    envelope = f"<xml><Encrypt>{encrypted}</Encrypt></xml>".encode("utf-8", "surrogatepass")
    with contextlib.suppress(WeChatProtocolError):  # a typed refusal is fine; nothing else is
        channel._extract_message(query, envelope)


def test_answer_still_arrives_when_wechat_hangs_up_early(plain: Harness) -> None:
    user = openid()
    xml = plain.text_xml(user, "slow:0.8", msg_id="4007")
    with pytest.raises(httpx.ReadTimeout):
        plain.http.post("/webhooks/wechat/webhook", params=plain.query(), content=xml.encode(), timeout=0.2)
    delivered = plain.fake.wait_for_delivered(2)
    assert [d["text"]["content"] for d in delivered] == ["正在为您查询，请稍候…", "查询完成：欠费 1509.00 元。"]
    # WeChat's retry neither runs the bot again nor gets a second answer.
    assert plain.post(xml).text == "success"
    plain.wait_background()
    assert plain.agent.texts() == ["slow:0.8"]
    assert len(plain.fake.delivered()) == 2
