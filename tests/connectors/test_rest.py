"""The REST channel: request parsing called directly, then the channel on a real Sanic server.

Parsing (`parse_body`, `RestInput._extract_message`) is pure. The live tests run
the channel with Rasa's own `register` on a free port against real Redis (keys
under a unique prefix, cleaned up) and a small agent that answers like Rasa does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any, Iterator, List

import httpx
import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage, register
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sanic import Sanic

from bot import messages
from bot.conversation import CLIENT_METADATA_KEY
from bot.handoff.router import HandoffRouter
from connectors.base import MAX_TEXT
from connectors.rest import (
    INBOX_TOKEN_HEADER,
    MAX_BODY_BYTES,
    MAX_METADATA_BYTES,
    MAX_SENDER,
    BadRequest,
    RestInput,
    as_client_sees,
    parse_body,
)
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.streams import AgentMessage
from tests.connectors.conftest import REDIS_URL
from tests.connectors.sanic_server import LiveSanic

# -- parse_body ----------------------------------------------------------------------------


def _raw(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def test_a_valid_body_keeps_sender_message_and_metadata() -> None:
    body = parse_body(_raw({"sender": "alice", "message": "我家暖气不热", "metadata": {"page": "/pay"}}))
    assert body == {"sender": "alice", "message": "我家暖气不热", "metadata": {"page": "/pay"}}
    assert parse_body(_raw({"sender": "bob", "message": "你好"}))["metadata"] == {}


@pytest.mark.parametrize(
    "raw, names",
    [
        (b"", "JSON object"),
        (b"not json", "JSON object"),
        (b"\xff\xfe", "JSON object"),
        (_raw(["sender", "message"]), "JSON object"),
        (_raw({"message": "你好"}), "'sender'"),
        (_raw({"sender": "   ", "message": "你好"}), "'sender'"),
        (_raw({"sender": 42, "message": "你好"}), "'sender'"),
        (_raw({"sender": "x" * (MAX_SENDER + 1), "message": "你好"}), "'sender'"),
        (_raw({"sender": "alice"}), "'message'"),
        (_raw({"sender": "alice", "message": " \n "}), "'message'"),
        (_raw({"sender": "alice", "message": {"text": "你好"}}), "'message'"),
        (_raw({"sender": "alice", "message": "热" * (MAX_TEXT + 1)}), f"at most {MAX_TEXT}"),
        (_raw({"sender": "alice", "message": "你好", "metadata": "page=/pay"}), "'metadata'"),
        (_raw({"sender": "alice", "message": "你好", "metadata": {"blob": "x" * MAX_METADATA_BYTES}}), "'metadata'"),
    ],
)
def test_a_bad_body_is_refused_with_an_error_naming_the_field(raw: bytes, names: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_body(raw)
    assert names in str(refused.value)


def test_the_limit_itself_is_accepted() -> None:
    assert parse_body(_raw({"sender": "a" * MAX_SENDER, "message": "热" * MAX_TEXT}))["message"] == "热" * MAX_TEXT


# -- _extract_message ---------------------------------------------------------------------


def test_the_message_belongs_to_the_rest_conversation_and_the_channel_names_the_client() -> None:
    body = parse_body(_raw({"sender": "wechat:oUser", "message": "你好",
                            "metadata": {"message_id": "m-1", CLIENT_METADATA_KEY: "ip:6.6.6.6"}}))
    output = CollectingOutputChannel()
    message = RestInput(router=HandoffRouter())._extract_message(body, "10.0.0.7", output)
    # A sender that looks like another channel's id is still a REST conversation.
    assert message.sender_id == "rest:wechat:oUser"
    assert message.input_channel == "rest" and message.output_channel is output
    assert message.metadata[CLIENT_METADATA_KEY] == "ip:10.0.0.7"  # never what the body claimed
    assert message.message_id == "m-1"


def test_without_a_message_id_rasa_makes_one() -> None:
    body = parse_body(_raw({"sender": "alice", "message": "你好"}))
    message = RestInput()._extract_message(body, "127.0.0.1", CollectingOutputChannel())
    assert message.message_id  # Rasa's own uuid, not ""


def test_answers_keep_the_sender_the_client_sent() -> None:
    assert as_client_sees([{"recipient_id": "rest:alice", "text": "您好"}], "alice") == [
        {"recipient_id": "alice", "text": "您好"}
    ]


# -- the live channel ---------------------------------------------------------------------


class FakeAgent:
    """Stands in for Rasa's Agent: answers through the message's output channel."""

    def __init__(self) -> None:
        self.received: List[UserMessage] = []
        self.lock = threading.Lock()

    def is_ready(self) -> bool:
        return False  # no model loaded: the health check must say so

    async def handle_message(self, message: UserMessage) -> None:
        with self.lock:
            self.received.append(message)
        if message.text == "boom":
            raise RuntimeError("the bot broke")
        if message.text == "slow":
            raise asyncio.CancelledError()  # Sanic's response timeout cancels the handler
        await message.output_channel.send_response(message.sender_id, {"text": f"收到：{message.text}"})


class Harness:
    def __init__(self, server: LiveSanic, channel: RestInput, agent: FakeAgent, prefix: str) -> None:
        self.server = server
        self.channel = channel
        self.agent = agent
        self.http = httpx.Client(base_url=server.url + "/webhooks/rest", timeout=10)
        self.redis = SyncRedis.from_url(REDIS_URL, decode_responses=True)
        self.prefix = prefix


@pytest.fixture
def rest(redis_prefix: str, key_space: KeySpace) -> Iterator[Harness]:
    channel = RestInput(router=HandoffRouter(Redis.from_url(REDIS_URL, decode_responses=True)))
    channel.register_delivery = False  # the worker would need Rasa's agent
    agent = FakeAgent()
    app = Sanic(f"rest_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    with LiveSanic(app) as server:
        yield Harness(server, channel, agent, redis_prefix)


def test_a_message_is_answered_in_rasas_shape_with_an_inbox_token(rest: Harness) -> None:
    answer = rest.http.post("/webhook", json={"sender": "alice", "message": "你好"})
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": "alice", "text": "收到：你好"}]
    assert len(answer.headers[INBOX_TOKEN_HEADER]) >= 32
    assert [m.sender_id for m in rest.agent.received] == ["rest:alice"]
    again = rest.http.post("/webhook", json={"sender": "alice", "message": "在吗"})
    assert INBOX_TOKEN_HEADER not in again.headers  # issued once per conversation


def test_bad_and_oversized_bodies_are_refused_before_the_bot(rest: Harness) -> None:
    assert rest.http.post("/webhook", content=b"{").status_code == 400
    assert rest.http.post("/webhook", json={"sender": "alice", "message": "a" * (MAX_TEXT + 1)}).status_code == 400
    assert rest.http.post("/webhook", content=b"x" * (MAX_BODY_BYTES + 1)).status_code == 413
    assert rest.agent.received == []


def test_a_failing_bot_gets_the_resident_an_apology(rest: Harness) -> None:
    answer = rest.http.post("/webhook", json={"sender": "alice", "message": "boom"})
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": "alice", "text": messages.REST_SERVICE_ERROR}]


def test_an_agent_owned_conversation_still_passes_the_router(rest: Harness) -> None:
    rest.redis.hset(KeySpace(rest.prefix).owner("rest:carol"), mapping={"owner": "agent", "ticket_no": "GD202501010001"})
    rest.http.post("/webhook", json={"sender": "carol", "message": "人呢"})
    (message,) = rest.agent.received
    assert message.metadata["handoff_owner"] == "agent"
    entries = rest.redis.xrange(KeySpace(rest.prefix).tickets_stream())
    assert [(e["sender"], e["text"]) for _, e in entries] == [("user", "人呢"), ("bot", "收到：人呢")]


def test_agent_replies_wait_in_the_inbox_for_the_token_holder(rest: Harness) -> None:
    token = rest.http.post("/webhook", json={"sender": "dave", "message": "你好"}).headers[INBOX_TOKEN_HEADER]
    entry = AgentMessage("m-9", "GD202501010003", "rest:dave", "rest", "我是客服王芳。", "王芳")
    rest.server.call(lambda: rest.channel.deliver("rest:dave", "我是客服王芳。", entry))
    assert rest.http.get("/inbox", params={"sender": "dave"}).status_code == 403
    assert rest.http.get("/inbox", params={"sender": "dave", "token": "x" * 32}).status_code == 403
    waiting = rest.http.get("/inbox", params={"sender": "dave"}, headers={INBOX_TOKEN_HEADER: token}).json()
    assert waiting == [{"recipient_id": "dave", "text": "我是客服王芳。", "agent": "王芳", "message_id": "m-9"}]
    assert rest.http.get("/inbox", params={"sender": "dave", "token": token}).json() == []  # taken once


def test_waiting_agent_replies_come_first_in_the_token_holders_next_answer(rest: Harness) -> None:
    token = rest.http.post("/webhook", json={"sender": "erin", "message": "你好"}).headers[INBOX_TOKEN_HEADER]
    entry = AgentMessage("m-10", "GD202501010004", "rest:erin", "rest", "您家的工单已派单。", "王芳")
    rest.server.call(lambda: rest.channel.deliver("rest:erin", "您家的工单已派单。", entry))
    plain = rest.http.post("/webhook", json={"sender": "erin", "message": "在吗"}).json()
    assert plain == [{"recipient_id": "erin", "text": "收到：在吗"}]  # no token, no agent reply
    answer = rest.http.post("/webhook", json={"sender": "erin", "message": "好的"}, headers={INBOX_TOKEN_HEADER: token}).json()
    assert answer == [
        {"recipient_id": "erin", "text": "您家的工单已派单。", "agent": "王芳", "message_id": "m-10"},
        {"recipient_id": "erin", "text": "收到：好的"},
    ]
    assert rest.redis.llen(KeySpace(rest.prefix).inbox("rest:erin")) == 0


def test_the_inbox_needs_a_sender(rest: Harness) -> None:
    assert rest.http.get("/inbox").status_code == 400
    too_long = rest.http.get("/inbox", params={"sender": "x" * (MAX_SENDER + 1)})
    assert too_long.status_code == 400 and "sender" in too_long.json()["error"]


def test_a_timed_out_turn_gets_the_resident_an_apology(rest: Harness) -> None:
    answer = rest.http.post("/webhook", json={"sender": "frank", "message": "slow"})
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": "frank", "text": messages.REST_SERVICE_ERROR}]


def test_health_fails_while_no_model_is_loaded(rest: Harness) -> None:
    answer = rest.http.get("/")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable" and answer.json()["model"] is False


@pytest.fixture
def rest_without_redis(monkeypatch: pytest.MonkeyPatch, key_space: KeySpace) -> Iterator[Harness]:
    """The channel with every Redis client pointed at a port nobody listens on."""
    from bot import redis_client
    from bot.settings import get_settings
    from tests.connectors.sanic_server import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", dead)
    get_settings.cache_clear()
    redis_client._clients.clear()
    channel = RestInput(router=HandoffRouter(Redis.from_url(dead, decode_responses=True)))
    channel.register_delivery = False
    agent = FakeAgent()
    app = Sanic(f"rest_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    with LiveSanic(app) as server:
        yield Harness(server, channel, agent, key_space.prefix)
    monkeypatch.undo()
    get_settings.cache_clear()
    redis_client._clients.clear()


def test_without_redis_the_resident_is_still_answered_and_the_inbox_says_so(rest_without_redis: Harness) -> None:
    answer = rest_without_redis.http.post("/webhook", json={"sender": "gina", "message": "你好"})
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": "gina", "text": "收到：你好"}]  # the bot beats silence
    assert INBOX_TOKEN_HEADER not in answer.headers
    inbox = rest_without_redis.http.get("/inbox", params={"sender": "gina"}, headers={INBOX_TOKEN_HEADER: "t" * 32})
    assert inbox.status_code == 503 and inbox.json() == {"error": "inbox temporarily unavailable"}
