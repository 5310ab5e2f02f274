"""The website widget channel live: a real Sanic app with the channel on a free port.

Tests talk to it with python-socketio's own client over real HTTP long-polling,
against real Redis under a unique key prefix (`redis_prefix`, cleaned up
afterwards); a small fake agent answers like Rasa does. Payload validation and
the transcript store have their own files (test_widget_payloads.py,
test_widget_transcript.py).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import socketio
from rasa.core.channels.channel import UserMessage, register
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sanic import Sanic

from bot import messages
from connectors.base import MAX_TEXT
from connectors.widget import WidgetInput
from connectors.widget_protocol.payloads import PROTOCOL_RICH, Credential, conversation_id
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.owner import AGENT, Owner
from heatdesk_contract.streams import AgentMessage, TicketResolved
from tests.connectors.conftest import REDIS_URL
from tests.connectors.sanic_server import LiveSanic

SESSION = "0123456789abcdef0123456789abcdef"


class FakeAgent:
    """Stands in for Rasa's agent: answers through the message's output channel."""

    def __init__(self) -> None:
        self.received: List[UserMessage] = []
        self.lock = threading.Lock()

    def texts(self) -> List[str]:
        with self.lock:
            return [message.text or "" for message in self.received]

    async def handle_message(self, message: UserMessage) -> None:
        with self.lock:
            self.received.append(message)
        text, out, recipient = message.text or "", message.output_channel, message.sender_id
        if (message.metadata or {}).get("handoff_owner") == "agent":
            return  # the bot stays silent while an agent owns the conversation
        if text == "boom":
            raise RuntimeError("the bot broke")
        if text == "慢":
            await asyncio.sleep(0.5)
        if text == "按钮":
            await out.send_response(
                recipient,
                {"text": "请选择：", "buttons": [{"title": "查欠费", "payload": "/ask_balance"}]},
            )
            return
        await out.send_response(recipient, {"text": f"收到：{text}"})


class Recorder:
    """A python-socketio client that records every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: List[Tuple[str, Any]] = []
        self._changed = asyncio.Event()

        @self.client.on("*")
        async def any_event(event: str, data: Any = None) -> None:
            self.events.append((event, data))
            self._changed.set()

    async def connect(self, url: str) -> "Recorder":
        # Long-polling: engineio's websocket client needs a newer aiohttp than Rasa 3.6 pins
        # (the end-to-end and browser tests cover websockets).
        await self.client.connect(url, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)
        return self

    async def emit(self, event: str, data: Any) -> None:
        await self.client.emit(event, data)

    def of(self, event: str) -> List[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for(self, event: str, count: int = 1, timeout: float = 10.0) -> List[Any]:
        async def poll() -> List[Any]:
            while len(self.of(event)) < count:
                self._changed.clear()
                await self._changed.wait()
            return self.of(event)

        return await asyncio.wait_for(poll(), timeout)

    async def session(
        self, credential: Optional[Dict[str, str]] = None, last_message_id: Optional[int] = None, rich: bool = True
    ) -> Any:
        """`session_request` as our widget (rich) or rasa-webchat (plain) sends it; the confirmation."""
        before = len(self.of("session_confirm"))
        data: Dict[str, Any] = dict(credential or {})
        if rich:
            data["protocol"] = PROTOCOL_RICH
        if last_message_id is not None:
            data["last_message_id"] = last_message_id
        await self.emit("session_request", data)
        return (await self.wait_for("session_confirm", before + 1))[-1]

    async def close(self) -> None:
        """Hang up without waiting for the pending long-poll (Sanic answers it only at the next ping, 25 s)."""
        eio = self.client.eio
        await eio.disconnect(abort=True)
        for task in (getattr(eio, "read_loop_task", None), getattr(eio, "write_loop_task", None)):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


class Harness:
    def __init__(self, server: LiveSanic, channel: WidgetInput, agent: FakeAgent, prefix: str) -> None:
        self.server = server
        self.channel = channel
        self.agent = agent
        self.prefix = prefix
        self.redis = SyncRedis.from_url(REDIS_URL, decode_responses=True)


@pytest.fixture
def test_keys(key_space: KeySpace) -> str:
    """Owner and queue keys (bot.settings.redis_keys) under the test prefix too."""
    return key_space.prefix


@pytest.fixture
def harness(test_keys: str) -> Iterator[Harness]:
    channel = WidgetInput(
        redis_url=REDIS_URL,
        key_prefix=test_keys,
        redis=Redis.from_url(REDIS_URL, decode_responses=True),
        register_delivery=False,
    )
    agent = FakeAgent()
    app = Sanic(f"widget_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    with LiveSanic(app) as server:
        yield Harness(server, channel, agent, test_keys)


@pytest.fixture
async def user(harness: Harness) -> Any:
    recorder = await Recorder().connect(harness.server.url)
    yield recorder
    await recorder.close()


def test_health_answers_when_redis_does(harness: Harness) -> None:
    import httpx

    answer = httpx.get(harness.server.url + "/webhooks/widget/", timeout=5)
    assert answer.status_code == 200 and answer.json()["redis"] is True


async def test_session_request_confirms_a_new_server_issued_session(harness: Harness, user: Recorder) -> None:
    confirm = await user.session({"session_id": SESSION})  # a bare id is not a key: a new session
    assert confirm["session_id"] != SESSION and len(confirm["session_id"]) == 32
    assert len(confirm["resume_token"]) == 43
    assert (await user.wait_for("handoff_state"))[-1]["status"] == "bot"
    stored = harness.redis.get(harness.channel.store().session_key(confirm["session_id"]))
    assert stored and confirm["resume_token"] not in stored  # only a digest is kept


async def test_a_message_is_echoed_answered_and_numbered(harness: Harness, user: Recorder) -> None:
    session_id = (await user.session())["session_id"]
    await user.emit("user_uttered", {"message": "你好", "session_id": session_id, "client_id": "c-1"})
    bot = (await user.wait_for("bot_uttered"))[0]
    echo = user.of("user_echo")[0]
    assert echo == {"id": 1, "text": "你好", "client_id": "c-1", "ts": echo["ts"]}
    assert bot["text"] == "收到：你好" and bot["message_id"] == 2
    typing = await user.wait_for("bot_typing", 2)
    assert [event["typing"] for event in typing] == [True, False]
    assert harness.agent.received[0].sender_id == "widget:" + session_id
    assert harness.agent.received[0].input_channel == "widget"


async def test_a_plain_rasa_client_gets_exactly_rasa_payloads(harness: Harness, user: Recorder) -> None:
    """What rasa-webchat needs: Rasa's shapes only, and no HeatDesk events."""
    handle = await user.session({"session_id": SESSION}, rich=False)
    assert isinstance(handle, str) and handle.startswith(handle.split(".")[0] + ".") and SESSION not in handle
    await user.emit("user_uttered", {"message": "你好", "session_id": handle, "customData": {"language": "zh"}})
    await user.emit("user_uttered", {"message": "按钮", "session_id": handle})
    answers = await user.wait_for("bot_uttered", 2)
    assert sorted(answers, key=len) == [  # the two answers run concurrently
        {"text": "收到：你好"},
        {"text": "请选择：", "quick_replies": [{"content_type": "text", "title": "查欠费", "payload": "/ask_balance"}]},
    ]
    await asyncio.sleep(0.3)
    assert {name for name, _ in user.events} == {"session_confirm", "bot_uttered"}
    # The handle resumes the same conversation after a reload.
    again = await Recorder().connect(harness.server.url)
    try:
        assert await again.session({"session_id": handle}, rich=False) == handle
        await again.emit("user_uttered", {"message": "还在", "session_id": handle})
        assert (await again.wait_for("bot_uttered"))[0] == {"text": "收到：还在"}
        senders = {message.sender_id for message in harness.agent.received}
        assert senders == {"widget:" + handle.split(".")[0]}
    finally:
        await again.close()


async def test_buttons_become_quick_replies(user: Recorder) -> None:
    await user.session()
    await user.emit("user_uttered", {"message": "按钮"})
    bot = (await user.wait_for("bot_uttered"))[0]
    assert bot["quick_replies"] == [{"content_type": "text", "title": "查欠费", "payload": "/ask_balance"}]


@pytest.mark.parametrize(
    "payload, code",
    [
        ("只是一个字符串", "invalid_payload"),
        ({"message": 12345}, "invalid_message"),
        ({"message": "   "}, "empty_message"),
        ({"message": "长" * (MAX_TEXT + 1), "client_id": "c-9"}, "message_too_long"),
    ],
)
async def test_bad_payloads_get_a_polite_error_and_the_socket_stays_usable(
    harness: Harness, user: Recorder, payload: Any, code: str
) -> None:
    await user.session()
    await user.emit("user_uttered", payload)
    error = (await user.wait_for("widget_error"))[0]
    assert error["code"] == code and "\u4e00" <= error["message"][0] <= "\u9fff"
    if isinstance(payload, dict) and payload.get("client_id"):
        assert error["client_id"] == payload["client_id"]
    await user.emit("user_uttered", {"message": "还在吗"})
    assert (await user.wait_for("bot_uttered"))[0]["text"] == "收到：还在吗"
    assert harness.agent.texts() == ["还在吗"]


async def test_a_quick_reply_payload_is_shown_by_its_title(harness: Harness, user: Recorder) -> None:
    session_id = (await user.session())["session_id"]
    await user.emit("user_uttered", {"message": "/greet", "display": "打个招呼"})
    await user.wait_for("bot_uttered")
    assert harness.agent.texts() == ["/greet"]
    assert user.of("user_echo")[0]["text"] == "打个招呼"
    stored = await _run(harness, harness.channel.store().since(session_id))
    assert stored[0].data["text"] == "打个招呼"


async def test_a_message_goes_to_the_confirmed_session_whatever_id_it_names(harness: Harness, user: Recorder) -> None:
    session_id = (await user.session())["session_id"]
    await user.emit("user_uttered", {"message": "你好", "session_id": SESSION})
    await user.wait_for("bot_uttered")
    assert harness.agent.received[0].sender_id == "widget:" + session_id


async def test_a_message_before_any_session_starts_a_new_one(harness: Harness, user: Recorder) -> None:
    await user.emit("user_uttered", {"message": "你好", "session_id": SESSION})
    handle = (await user.wait_for("session_confirm"))[0]
    assert (await user.wait_for("bot_uttered"))[0] == {"text": "收到：你好"}
    assert [m.sender_id for m in harness.agent.received] == ["widget:" + handle.split(".")[0]]
    assert handle.split(".")[0] != SESSION


async def test_a_failing_bot_apologises(user: Recorder) -> None:
    await user.session()
    await user.emit("user_uttered", {"message": "boom"})
    assert (await user.wait_for("bot_uttered"))[0]["text"] == messages.WIDGET_SERVICE_ERROR


async def test_reconnect_replays_only_what_was_missed(harness: Harness, user: Recorder) -> None:
    credential = await user.session()
    session_id = credential["session_id"]
    for text in ("你好", "查欠费"):
        await user.emit("user_uttered", {"message": text})
        await user.wait_for("bot_uttered", len(user.of("bot_uttered")) + 1)
    seen = max(event["message_id"] for event in user.of("bot_uttered"))
    await user.close()

    # While the resident is away, the bot (any process) says one more thing.
    await asyncio.wait_for(
        _run(harness, harness.channel.get_output_channel().send_text_message(  # type: ignore[union-attr]
            conversation_id(session_id), "您还在吗？")),
        10,
    )

    again = await Recorder().connect(harness.server.url)
    try:
        assert await again.session(credential, last_message_id=seen) == credential
        replay = (await again.wait_for("transcript"))[0]
        assert [(m["id"], m["role"]) for m in replay["messages"]] == [(seen + 1, "bot")]
        assert replay["messages"][0]["payload"]["text"] == "您还在吗？"

        fresh = await Recorder().connect(harness.server.url)
        try:
            await fresh.session(credential, last_message_id=0)
            full = (await fresh.wait_for("transcript"))[0]["messages"]
            assert [m.get("text") or m["payload"]["text"] for m in full] == [
                "你好", "收到：你好", "查欠费", "收到：查欠费", "您还在吗？"
            ]
            assert [m["id"] for m in full] == [1, 2, 3, 4, 5]
        finally:
            await fresh.close()
    finally:
        await again.close()


async def test_a_resent_message_is_answered_once(harness: Harness, user: Recorder) -> None:
    await user.session()
    message = {"message": "慢", "client_id": "c-resend"}
    await user.emit("user_uttered", message)
    await user.emit("user_uttered", message)  # e.g. resent after a reconnect
    await user.wait_for("bot_uttered")
    await asyncio.sleep(0.8)
    assert harness.agent.texts() == ["慢"]
    assert len(user.of("bot_uttered")) == 1
    echoes = user.of("user_echo")
    assert len(echoes) == 2 and echoes[0]["id"] == echoes[1]["id"] == 1


async def test_every_socket_of_a_session_sees_the_conversation(harness: Harness, user: Recorder) -> None:
    credential = await user.session()
    other_tab = await Recorder().connect(harness.server.url)
    plain_tab = await Recorder().connect(harness.server.url)
    try:
        await other_tab.session(credential)
        await plain_tab.session({"session_id": Credential(credential["session_id"], credential["resume_token"]).plain()},
                                rich=False)
        await user.emit("user_uttered", {"message": "你好", "client_id": "c-tab"})
        assert (await other_tab.wait_for("bot_uttered"))[0]["text"] == "收到：你好"
        assert other_tab.of("user_echo")[0]["client_id"] == "c-tab"
        assert (await plain_tab.wait_for("bot_uttered"))[0] == {"text": "收到：你好"}
    finally:
        await other_tab.close()
        await plain_tab.close()


async def test_an_emit_from_another_process_reaches_the_socket(harness: Harness, user: Recorder) -> None:
    """What a second Rasa process does: emit to the session's room through the Redis manager."""
    from connectors.widget_protocol.events import emit_bot

    session_id = (await user.session())["session_id"]
    elsewhere = socketio.AsyncRedisManager(REDIS_URL, channel=harness.channel.pubsub_channel(), write_only=True)
    server = socketio.AsyncServer(client_manager=elsewhere)
    await emit_bot(server, "bot_uttered", session_id, {"text": "来自另一个进程"}, None, "/")
    assert (await user.wait_for("bot_uttered"))[0]["text"] == "来自另一个进程"


def _run(harness: Harness, coroutine: Any) -> Any:
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, harness.server.loop))  # type: ignore[arg-type]


async def test_handoff_queue_agent_reply_and_resolve(harness: Harness, user: Recorder, key_space: KeySpace) -> None:
    keys = key_space
    session_id = (await user.session())["session_id"]
    conversation = conversation_id(session_id)
    ticket = "GD202502150007"
    harness.redis.zadd(keys.queue(), {"GD202502150001": 1.0, ticket: 2.0})
    harness.redis.hset(keys.owner(conversation), mapping=Owner(AGENT, ticket, channel="widget").to_fields())

    await user.emit("handoff_state_request", {})
    state = (await user.wait_for("handoff_state", 2))[-1]
    assert state == {"status": "queued", "ticket_no": ticket, "position": 2, "agent": ""}

    # While queued the message is flagged for the bot (which answers queued residents, see
    # actions/queue.py; this fake one stays silent), so the typing dots show while it thinks.
    await user.emit("user_uttered", {"message": "人呢"})
    await user.wait_for("handoff_state", 3)
    assert user.of("bot_uttered") == [] and [t["typing"] for t in user.of("bot_typing")] == [True, False]
    assert harness.agent.received[0].metadata["handoff_owner"] == "agent"
    assert harness.redis.xlen(keys.tickets_stream()) == 1

    message = AgentMessage("m-42", ticket, conversation, "widget", "您好，我是客服王芳，马上为您处理。", "王芳")
    await _run(harness, harness.channel.deliver(conversation, message.text, message))
    await _run(harness, harness.channel.deliver(conversation, message.text, message))  # at-least-once: a repeat
    reply = (await user.wait_for("bot_uttered"))[0]
    assert reply["text"] == message.text and reply["metadata"]["agent"] == "王芳"
    assert (await user.wait_for("handoff_state", 4))[-1]["status"] == "agent"

    harness.redis.delete(keys.owner(conversation))
    resolved = TicketResolved(ticket, conversation, "widget")
    await _run(harness, harness.channel.deliver(conversation, "人工客服已处理完毕。", resolved))
    await user.wait_for("bot_uttered", 2)
    assert (await user.wait_for("handoff_state", 5))[-1]["status"] == "bot"
    await asyncio.sleep(0.3)
    assert [event["text"] for event in user.of("bot_uttered")] == [message.text, "人工客服已处理完毕。"]

    stored = await _run(harness, harness.channel.store().since(session_id))
    assert [(e.role, e.data.get("agent")) for e in stored] == [("user", None), ("bot", "王芳"), ("bot", None)]


async def test_a_plain_client_sees_agent_replies_live_as_plain_text(harness: Harness, user: Recorder) -> None:
    handle = await user.session(rich=False)
    conversation = conversation_id(handle.split(".")[0])
    message = AgentMessage("m-7", "GD202502150009", conversation, "widget", "我是客服小李。", "小李")
    await _run(harness, harness.channel.deliver(conversation, message.text, message))
    assert (await user.wait_for("bot_uttered"))[0] == {"text": "我是客服小李。"}


async def test_without_redis_the_resident_is_told_and_nothing_crashes(test_keys: str) -> None:
    """Transcript and owner keys unreachable (a dead port); the socket.io manager still works."""
    dead = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    channel = WidgetInput(redis_url=REDIS_URL, key_prefix=test_keys, redis=dead, register_delivery=False)
    agent = FakeAgent()
    app = Sanic(f"widget_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    with LiveSanic(app) as server:
        tab = await Recorder().connect(server.url)
        try:
            await tab.emit("session_request", {"protocol": PROTOCOL_RICH})
            error = (await tab.wait_for("widget_error"))[0]
            assert error == {"code": "unavailable", "message": messages.WIDGET_TEMPORARILY_UNAVAILABLE, "client_id": None}
            await tab.emit("user_uttered", {"message": "你好", "client_id": "c-1"})
            await tab.wait_for("widget_error", 2)
            assert agent.texts() == [] and tab.of("session_confirm") == []
        finally:
            await tab.close()


def test_credentials_map_to_typed_arguments() -> None:
    channel = WidgetInput.from_credentials(
        {"socketio_path": "/socket.io", "user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
         "session_persistence": True}
    )
    assert channel.name() == "widget"
    assert channel.session_persistence is True and channel.socketio_path == "/socket.io"
    assert channel.sio is None  # no server, no network until the blueprint is built
    assert channel.pubsub_channel().endswith(":socketio:" + channel.redis_url.rsplit("/", 1)[-1])
    assert json.loads(json.dumps({"repr": repr(channel)}))
