"""The channel seam (`connectors.base.HandoffInput`), through a fourth channel built on it.

`PhoneInput` is what docs/architecture.md ("Adding a channel") asks of a new
channel: a name, routes that hand messages to `send`, a deliverer. The tests run
it on a real Sanic server with real Redis (unique key prefix) and check that the
seam routed, registered delivery and reported health without the channel's help.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Text

import httpx
import pytest
import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage, register
from rasa.shared.utils.common import class_from_module_path
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.delivery import deliverer_for
from bot.handoff.router import HandoffRouter
from connectors.base import MAX_TEXT, HandoffInput, Send, TextTooLong, text_too_long
from heatdesk_contract.keys import KeySpace
from tests.connectors.conftest import REDIS_URL
from tests.connectors.sanic_server import LiveSanic

ROOT = Path(__file__).resolve().parents[2]


class PhoneInput(HandoffInput):
    """A made-up phone-line channel: `POST /webhooks/phone/call {"caller", "text"}`."""

    def __init__(self, redis: Optional[Redis] = None, register_delivery: bool = True) -> None:
        self._redis = redis
        self.register_delivery = register_delivery
        self.delivered: List[Dict[str, str]] = []

    @classmethod
    def name(cls) -> Text:
        return "phone"

    def routes(self, webhook: Blueprint, send: Send) -> None:
        @webhook.route("/call", methods=["POST"])
        async def call(request: Request) -> HTTPResponse:
            collector = CollectingOutputChannel()
            body = request.json
            await send(UserMessage(body["text"], collector, f"phone:{body['caller']}", input_channel=self.name()))
            return response.json(collector.messages)

    async def deliver(self, conversation_id: str, text: str, fields: Dict[str, str]) -> None:
        self.delivered.append({"conversation_id": conversation_id, "text": text})


class FakeAgent:
    def __init__(self) -> None:
        self.received: List[UserMessage] = []
        self.lock = threading.Lock()

    async def handle_message(self, message: UserMessage) -> None:
        with self.lock:
            self.received.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": f"收到：{message.text}"})


def serve(channel: HandoffInput, agent: FakeAgent) -> LiveSanic:
    from sanic import Sanic

    app = Sanic(f"base_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    return LiveSanic(app)


# -- what the seam enforces -------------------------------------------------------------


def test_a_channel_cannot_bring_its_own_blueprint() -> None:
    from rasa.core.channels.rest import RestInput as RasaRestInput

    with pytest.raises(TypeError, match="routes"):

        class Sneaky(HandoffInput):  # noqa: F841 - refused while the class is created
            def blueprint(self, on_new_message: Any) -> Blueprint:
                return Blueprint("sneaky")

    with pytest.raises(TypeError, match="routes"):

        class RasaFirst(RasaRestInput, HandoffInput):  # noqa: F841 - Rasa's blueprint would win
            pass


def test_every_configured_channel_is_built_on_the_seam() -> None:
    configured = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    classes = [class_from_module_path(path) for path in configured]
    assert [cls.name() for cls in classes] == ["rest", "wechat", "widget"]
    assert all(issubclass(cls, HandoffInput) for cls in classes)
    assert all(cls.blueprint is HandoffInput.blueprint for cls in classes)


def test_the_text_limit_is_one_number() -> None:
    assert not text_too_long("热" * MAX_TEXT) and text_too_long("热" * (MAX_TEXT + 1))
    assert not text_too_long(None)


async def test_send_refuses_an_over_long_message_before_the_router() -> None:
    agent = FakeAgent()
    send = PhoneInput().sender(agent.handle_message)
    with pytest.raises(TextTooLong):
        await send(UserMessage("热" * (MAX_TEXT + 1), CollectingOutputChannel(), "phone:1", input_channel="phone"))
    assert agent.received == []


# -- the seam at work -------------------------------------------------------------------------


@pytest.fixture
def phone(key_space: KeySpace) -> Iterator[Any]:
    channel = PhoneInput(redis=Redis.from_url(REDIS_URL, decode_responses=True), register_delivery=True)
    agent = FakeAgent()
    with serve(channel, agent) as server:
        yield channel, agent, server


def test_messages_pass_the_handoff_router(phone: Any, key_space: KeySpace) -> None:
    keys = key_space
    channel, agent, server = phone
    sync = SyncRedis.from_url(REDIS_URL, decode_responses=True)
    sync.hset(keys.owner("phone:110"), mapping={"owner": "agent", "ticket_no": "GD202501010002"})
    answer = httpx.post(server.url + "/webhooks/phone/call", json={"caller": "110", "text": "我要投诉"}, timeout=10)
    assert answer.json()[0]["text"] == "收到：我要投诉"
    (message,) = agent.received
    assert message.metadata["handoff_owner"] == "agent"  # the router saw it first
    assert [e["text"] for _, e in sync.xrange(keys.tickets_stream())] == ["我要投诉", "收到：我要投诉"]
    assert isinstance(channel.router(), HandoffRouter)


def test_the_deliverer_is_registered_and_health_is_served(phone: Any) -> None:
    channel, _agent, server = phone
    deliverer = deliverer_for("phone")
    assert deliverer is not None and getattr(deliverer, "__self__", None) is channel
    health = httpx.get(server.url + "/webhooks/phone/", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok", "redis": True}


def test_health_is_503_while_redis_is_unreachable(key_space: KeySpace) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    with serve(PhoneInput(redis=dead, register_delivery=False), FakeAgent()) as server:
        health = httpx.get(server.url + "/webhooks/phone/", timeout=10)
    assert health.status_code == 503 and health.json() == {"status": "unavailable", "redis": False}
