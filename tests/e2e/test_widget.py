"""The website widget's socket.io channel through the running stack, over a real websocket:
python-socketio client → Rasa (connectors.widget) → NLU/Core → action server → billing, and
console API → outbox stream → delivery worker → socket.io emit through the Redis manager."""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import httpx
import pytest
import socketio

from tests.stack import Stack

CJK = re.compile(r"[\u4e00-\u9fff]")
TICKET_NO = re.compile(r"GD\d{12}")


def own_loop(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Runs an async test on its own event loop in a worker thread.

    The browser tests' Playwright (sync API) keeps an event loop running on the main thread
    for the whole session, so pytest-asyncio cannot start one there when both folders run.
    """

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        outcome: Dict[str, BaseException] = {}

        def target() -> None:
            try:
                asyncio.run(test(*args, **kwargs))
            except BaseException as error:  # handed to the test thread below, not swallowed
                outcome["error"] = error

        worker = threading.Thread(target=target, name=f"widget-{test.__name__}", daemon=True)
        worker.start()
        worker.join(300)
        if worker.is_alive():
            raise TimeoutError(f"{test.__name__} did not finish within 300 s")
        if "error" in outcome:
            raise outcome["error"]

    return run


class WidgetUser:
    """A resident's browser tab, reduced to its socket.io traffic."""

    def __init__(self, stack: Stack) -> None:
        self.url = stack.url("rasa")
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: List[Tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self.session_id: Optional[str] = None
        self.rich = True

        @self.client.on("*")
        async def record(event: str, data: Any = None) -> None:
            self.events.append((event, data))
            self._changed.set()

    async def connect(self) -> "WidgetUser":
        await self.client.connect(self.url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=15)
        return self

    async def close(self) -> None:
        await self.client.disconnect()

    async def __aenter__(self) -> "WidgetUser":
        return await self.connect()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def of(self, event: str) -> List[Any]:
        return [data for name, data in self.events if name == event]

    async def wait(self, condition: Any, timeout: float = 40.0) -> Any:
        async def poll() -> Any:
            while True:
                result = condition()
                if result:
                    return result
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(poll(), timeout)

    async def start(
        self, credential: Optional[Dict[str, str]] = None, last_message_id: Optional[int] = None, rich: bool = True
    ) -> Any:
        """`session_request` as our widget (rich: heatdesk/2) or a plain Rasa client sends it;
        returns `session_confirm`'s payload (rich: {session_id, resume_token}; plain: one string)."""
        before = len(self.of("session_confirm"))
        request: Dict[str, Any] = dict(credential or {})
        if rich:
            request["protocol"] = "heatdesk/2"
        if last_message_id is not None:
            request["last_message_id"] = last_message_id
        await self.client.emit("session_request", request)
        confirms = await self.wait(lambda: len(self.of("session_confirm")) > before and self.of("session_confirm"))
        confirm = confirms[-1]
        self.rich = rich
        self.session_id = confirm["session_id"] if rich else confirm.split(".")[0]
        return confirm

    @property
    def conversation_id(self) -> str:
        return f"widget:{self.session_id}"

    async def say(self, text: str, idle: float = 1.5, answered: bool = True) -> List[Dict[str, Any]]:
        """Sends `text`; returns the bot messages that arrive until typing stops and things go quiet.

        `answered=False` (an agent owns the conversation): wait for the echo and the quiet only.
        """
        before = len(self.of("bot_uttered"))
        typing_before = len(self.of("bot_typing"))
        echoes_before = len(self.of("user_echo"))
        await self.client.emit("user_uttered", {"message": text, "client_id": f"c-{uuid.uuid4().hex[:12]}"})
        if not self.rich:  # no typing or echo events: wait for an answer, then quiet
            await self.wait(lambda: len(self.of("bot_uttered")) > before)
        elif answered:
            await self.wait(
                lambda: any(not t["typing"] for t in self.of("bot_typing")[typing_before:])
                or len(self.of("bot_uttered")) > before
            )
        else:
            await self.wait(lambda: len(self.of("user_echo")) > echoes_before)
        await self.quiet(idle)
        return self.of("bot_uttered")[before:]

    async def quiet(self, idle: float) -> None:
        """Waits until no event arrived for `idle` seconds."""
        while True:
            count = len(self.events)
            await asyncio.sleep(idle)
            if len(self.events) == count:
                return


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


@pytest.fixture(scope="module")
def agent(stack: Stack) -> httpx.Client:
    client = httpx.Client(base_url=stack.url("console"), timeout=15)
    client.post("/api/login", json={"username": "admin", "password": "admin-test-password"}).raise_for_status()
    return client


def test_widget_channel_health(stack: Stack) -> None:
    answer = httpx.get(stack.url("rasa") + "/webhooks/widget/", timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


@own_loop
async def test_greeting_gets_a_chinese_answer_with_typing_and_ids(stack: Stack) -> None:
    async with WidgetUser(stack) as user:
        confirm = await user.start()
        assert re.fullmatch(r"[0-9a-f]{32}", confirm["session_id"]) and len(confirm["resume_token"]) == 43
        replies = await user.say("你好")
        assert replies and CJK.search(texts(replies)), replies
        assert "智能客服" in texts(replies)
        assert all(isinstance(m["message_id"], int) for m in replies)
        assert [t["typing"] for t in user.of("bot_typing")] == [True, False]
        echo = user.of("user_echo")[0]
        assert echo["text"] == "你好" and echo["id"] == 1
        assert min(m["message_id"] for m in replies) == 2
        assert user.of("handoff_state")[0]["status"] == "bot"


@own_loop
async def test_reconnect_replays_the_transcript_once(stack: Stack) -> None:
    async with WidgetUser(stack) as user:
        credential = await user.start()
        first = await user.say("你好")
        second = await user.say("滞纳金怎么算")
        assert "1‰" in texts(second), second  # a general question: the rule at once, no identity check
        live_ids = sorted([e["id"] for e in user.of("user_echo")] + [m["message_id"] for m in first + second])
        assert live_ids == list(range(1, len(live_ids) + 1))
        await user.close()

        # A reload: same session, nothing seen yet → the whole conversation, each message once.
        reloaded = await WidgetUser(stack).connect()
        try:
            assert await reloaded.start(credential, last_message_id=0) == credential
            replay = (await reloaded.wait(lambda: reloaded.of("transcript")))[0]
            ids = [m["id"] for m in replay["messages"]]
            assert ids == live_ids
            assert [m["text"] for m in replay["messages"] if m["role"] == "user"] == ["你好", "滞纳金怎么算"]
            assert [m["payload"]["text"] for m in replay["messages"] if m["role"] == "bot"] == [
                m["text"] for m in first + second
            ]

            # A reconnect that has seen everything gets nothing again, and the next message continues the ids.
            await reloaded.start(credential, last_message_id=ids[-1])
            second_replay = (await reloaded.wait(lambda: len(reloaded.of("transcript")) > 1 and reloaded.of("transcript")))[1]
            assert second_replay["messages"] == []
            more = await reloaded.say("谢谢")
            assert reloaded.of("user_echo")[0]["id"] == ids[-1] + 1
            assert more and all(m["message_id"] > ids[-1] + 1 for m in more)
        finally:
            await reloaded.close()


@own_loop
async def test_a_resent_message_is_not_answered_twice(stack: Stack) -> None:
    async with WidgetUser(stack) as user:
        await user.start()
        message = {"message": "你好", "client_id": "c-resent-0001"}
        await user.client.emit("user_uttered", message)
        await user.client.emit("user_uttered", message)
        await user.wait(lambda: user.of("bot_uttered"))
        await user.quiet(2.0)
        echoes = user.of("user_echo")
        assert len(echoes) == 2 and echoes[0]["id"] == echoes[1]["id"]
        assert len({m["text"] for m in user.of("bot_uttered")}) == len(user.of("bot_uttered"))
        assert [t["typing"] for t in user.of("bot_typing")] == [True, False]


@pytest.mark.parametrize(
    "payload, code",
    [
        ("不是对象", "invalid_payload"),
        ({"message": 123}, "invalid_message"),
        ({"message": "   "}, "empty_message"),
        ({"message": "长" * 2001}, "message_too_long"),
    ],
)
@own_loop
async def test_bad_payloads_get_a_polite_chinese_error(stack: Stack, payload: Any, code: str) -> None:
    async with WidgetUser(stack) as user:
        await user.start()
        await user.client.emit("user_uttered", payload)
        error = (await user.wait(lambda: user.of("widget_error")))[0]
        assert error["code"] == code and CJK.search(error["message"])
        assert user.client.connected
        assert CJK.search(texts(await user.say("你好")))


@own_loop
async def test_balance_with_account_and_phone_tail(stack: Stack) -> None:
    async with WidgetUser(stack) as user:
        await user.start()
        assert "户号" in texts(await user.say("查欠费"))
        answer = texts(await user.say("户号2024000001 尾号5678"))
        assert "未交热费 1509.00 元 + 滞纳金 78.41 元" in answer, answer
        assert "13800005678" not in answer


@own_loop
async def test_handoff_agent_reply_and_resolve_reach_the_widget(stack: Stack, agent: httpx.Client) -> None:
    async with WidgetUser(stack) as user:
        await user.start()
        reply = texts(await user.say("转人工"))
        ticket = TICKET_NO.search(reply)
        assert ticket and "排在第" in reply, reply
        queued = await user.wait(lambda: [s for s in user.of("handoff_state") if s["status"] == "queued"])
        assert queued[-1]["ticket_no"] == ticket.group(0) and queued[-1]["position"] >= 1

        # While queued the bot keeps the resident company: one acknowledgement with the position.
        waiting = texts(await user.say("请快一点"))
        assert "已收到，客服接入后会看到" in waiting and f"第 {queued[-1]['position']} 位" in waiting, waiting

        ticket_no = ticket.group(0)

        def listed() -> bool:
            items = agent.get("/api/tickets", params={"conversation_id": user.conversation_id}).json()["items"]
            return bool(items)

        for _ in range(60):
            if listed():
                break
            await asyncio.sleep(0.5)
        assert agent.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
        sent = agent.post(f"/api/tickets/{ticket_no}/messages", json={"text": "您好，我是客服，马上为您处理。"})
        assert sent.status_code == 201, sent.text

        delivered = await user.wait(lambda: [m for m in user.of("bot_uttered") if (m.get("metadata") or {}).get("agent")])
        assert delivered[0]["text"] == "您好，我是客服，马上为您处理。"
        assert isinstance(delivered[0]["message_id"], int)
        state = await user.wait(lambda: [s for s in user.of("handoff_state") if s["status"] == "agent"])
        assert state[-1]["agent"] == delivered[0]["metadata"]["agent"]

        resolved = agent.post(f"/api/tickets/{ticket_no}/resolve", json={"resolution_category": "answered"})
        assert resolved.status_code == 200, resolved.text
        back = await user.wait(lambda: [m for m in user.of("bot_uttered") if "继续为您服务" in str(m.get("text"))])
        assert len(back) == 1
        await user.wait(lambda: user.of("handoff_state")[-1]["status"] == "bot")
        assert "智能客服" in texts(await user.say("你好"))


@own_loop
async def test_a_plain_rasa_client_gets_rasa_shapes_and_the_agents_reply(stack: Stack, agent: httpx.Client) -> None:
    """rasa-webchat's traffic: `session_request {session_id}` with its own stored id, plain payloads."""
    async with WidgetUser(stack) as user:
        handle = await user.start({"session_id": uuid.uuid4().hex}, rich=False)
        assert isinstance(handle, str) and re.fullmatch(r"[0-9a-f]{32}\.[A-Za-z0-9_-]{43}", handle)
        greeting = await user.say("你好")
        assert greeting and all(set(m) <= {"text", "quick_replies"} for m in greeting), greeting
        reply = texts(await user.say("转人工"))
        ticket_no = TICKET_NO.search(reply).group(0)  # type: ignore[union-attr]
        for _ in range(60):
            if agent.get("/api/tickets", params={"conversation_id": user.conversation_id}).json()["items"]:
                break
            await asyncio.sleep(0.5)
        assert agent.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
        before = len(user.of("bot_uttered"))
        assert agent.post(f"/api/tickets/{ticket_no}/messages", json={"text": "我是人工客服。"}).status_code == 201
        live = await user.wait(lambda: user.of("bot_uttered")[before:])
        assert live[0] == {"text": "我是人工客服。"}
        assert {name for name, _ in user.events} == {"session_confirm", "bot_uttered"}
        agent.post(f"/api/tickets/{ticket_no}/resolve", json={"resolution_category": "answered"})
