"""Two Rasa servers and two action servers behind nginx, sharing one Redis.

* one resident's messages, sent at the same moment to both servers, are each handled once,
  one at a time, none lost: the tracker (Rasa's conversations API) holds every message once,
  each followed by exactly the answer its own HTTP request returned;
* messages are handled in the order they arrived, whichever server received them;
* an agent's reply is delivered once, whichever server's delivery worker reads it;
* a widget resident whose socket is on server A gets the agent's reply delivered by server B.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any, Dict, List, Tuple

import httpx

from heatdesk_contract.keys import DEFAULT as KEYS
from heatdesk_contract.streams import DELIVERY_GROUP
from tests.scale.cluster import Cluster
from tests.stack import wait_until

TICKET_NO = re.compile(r"GD\d{12}")
#: Questions with one clear answer each (replies from domain.yml and from the action server).
QUESTIONS = [
    "你好", "采暖期是什么时候", "怎么交暖气费", "暖气费多少钱一平米", "谢谢", "你是机器人吗",
    "缴费截止日期是哪天", "再见", "能开发票吗", "采暖期是什么时候", "暖气费多少钱一平米", "谢谢",
]
#: The outbox consumers block this long on Redis (bot/delivery.py); a frozen server's pending
#: blocking read ends after it, so only the other server can read the next entry.
DELIVERY_BLOCK_SECONDS = 2.0


def turns(tracker: Dict[str, Any]) -> List[Tuple[str, List[str]]]:
    """(message_id, [bot texts answered before the next user message]) in tracker order."""
    result: List[Tuple[str, List[str]]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            result.append((str(event.get("message_id") or ""), []))
        elif event["event"] == "bot" and result:
            result[-1][1].append(event.get("text") or "")
    return result


def lock_key(conversation_id: str) -> str:
    return f"{KEYS.rasa_store_prefix()}:lock:{conversation_id}"  # Rasa's lock store


async def _post(client: httpx.AsyncClient, url: str, sender: str, text: str, message_id: str) -> List[Dict[str, Any]]:
    answer = await client.post(
        url + "/webhooks/rest/webhook",
        json={"sender": sender, "message": text, "metadata": {"message_id": message_id}},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_process_is_healthy_behind_the_load_balancer(cluster: Cluster) -> None:
    for path in ["/lb/health", "/lb/health/rasa-0", "/lb/health/rasa-1", "/lb/health/actions-0", "/lb/health/actions-1"]:
        assert httpx.get(cluster.url + path, timeout=10).status_code == 200, path
    assert httpx.get(cluster.url + "/webhooks/rest/", timeout=10).json()["status"] == "ok"


def test_a_burst_of_one_residents_messages_on_both_servers_is_handled_once_each(cluster: Cluster) -> None:
    sender = f"burst-{uuid.uuid4().hex[:10]}"
    servers = [cluster.rasa_url(0), cluster.rasa_url(1)]

    async def burst() -> List[List[Dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(
                _post(client, servers[i % 2], sender, text, f"m{i:02d}") for i, text in enumerate(QUESTIONS)
            ))

    started = time.monotonic()
    answers = asyncio.run(burst())
    elapsed = time.monotonic() - started
    assert all(answers), [i for i, a in enumerate(answers) if not a]  # nobody left without an answer

    recorded = turns(cluster.tracker(sender))
    ids = [message_id for message_id, _ in recorded]
    assert sorted(ids) == [f"m{i:02d}" for i in range(len(QUESTIONS))], ids  # each once: none lost, none twice
    for message_id, bot_texts in recorded:
        expected = [item.get("text") for item in answers[int(message_id[1:])] if item.get("text")]
        # Each turn's bot messages are exactly what that message's request answered: no turn ran
        # inside another one, and no answer went to two requests.
        assert bot_texts == expected, (message_id, bot_texts, expected)
    assert elapsed < 45, elapsed


def test_messages_are_handled_in_the_order_they_arrived_whichever_server(cluster: Cluster) -> None:
    """A turn in progress holds the conversation's lock; messages arriving meanwhile at either
    server queue behind it and are answered in arrival order (ticket order)."""
    sender = f"order-{uuid.uuid4().hex[:10]}"
    redis = cluster.redis.client()
    key = lock_key(f"rest:{sender}")
    # The "turn in progress": ticket 1, as a Rasa server would hold it (bot/stores/lock.py layout).
    now_ms = int(float(redis.time()[0]) * 1000)
    redis.hset(key, mapping={"last": 1, "t:1": now_ms + 60_000})
    texts = QUESTIONS[:8]

    async def queue_up() -> List[List[Dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=60) as client:
            tasks = []
            for i, text in enumerate(texts):
                tasks.append(asyncio.create_task(
                    _post(client, cluster.rasa_url(i % 2), sender, text, f"m{i:02d}")
                ))
                # The next message leaves only once this one holds its ticket: arrival order = i.
                deadline = time.monotonic() + 20
                while int(redis.hget(key, "last") or 0) < i + 2:
                    assert time.monotonic() < deadline, "a message never reached the lock"
                    await asyncio.sleep(0.02)
            assert not any(task.done() for task in tasks)  # all eight wait behind the turn in progress
            redis.hdel(key, "t:1")  # the turn in progress ends
            return await asyncio.gather(*tasks)

    answers = asyncio.run(queue_up())
    recorded = turns(cluster.tracker(sender))
    assert [message_id for message_id, _ in recorded] == [f"m{i:02d}" for i in range(len(texts))]
    for message_id, bot_texts in recorded:
        assert bot_texts == [item.get("text") for item in answers[int(message_id[1:])] if item.get("text")]
    assert redis.exists(key) == 0  # the last one out removed the lock


def _handoff(cluster: Cluster, agent: httpx.Client, sender: str, via: str) -> str:
    reply = " ".join(item.get("text", "") for item in cluster.say(sender, "转人工", via=via))
    found = TICKET_NO.search(reply)
    assert found, reply
    ticket_no = found.group(0)
    wait_until(lambda: agent.get(f"/api/tickets/{ticket_no}").status_code == 200, timeout=20)
    assert agent.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    return ticket_no


def _outbox_settled(cluster: Cluster) -> bool:
    redis = cluster.redis.client()
    summary = redis.xpending(KEYS.outbox_stream(), DELIVERY_GROUP)
    return int(summary["pending"]) == 0


def test_an_agent_reply_is_delivered_once_by_either_server(cluster: Cluster) -> None:
    sender = f"inbox-{uuid.uuid4().hex[:10]}"
    with cluster.agent_client() as agent:
        ticket_no = _handoff(cluster, agent, sender, via=cluster.url)
        sent: List[str] = []
        for frozen, awake in [(0, 1), (1, 0)]:
            text = f"您好，我是客服，这是第{len(sent) + 1}条回复（{uuid.uuid4().hex[:6]}）"
            with cluster.frozen("rasa", frozen):
                time.sleep(DELIVERY_BLOCK_SECONDS + 0.3)  # the frozen server's blocking read has ended
                answer = agent.post(f"/api/tickets/{ticket_no}/messages", json={"text": text})
                assert answer.status_code in (200, 201), answer.text
                # Only the awake server can deliver while the other one is frozen.
                got = wait_until(lambda: cluster.inbox(sender, via=cluster.rasa_url(awake)), timeout=20)
                assert [item["text"] for item in got] == [text]
                wait_until(lambda: _outbox_settled(cluster), timeout=10)
            sent.append(text)
    time.sleep(DELIVERY_BLOCK_SECONDS + 0.5)  # both servers awake again: nothing is delivered twice
    assert cluster.inbox(sender) == []
    agent_texts = [
        event["text"] for event in cluster.tracker(sender)["events"]
        if event["event"] == "bot" and (event.get("metadata") or {}).get("agent")
    ]
    assert agent_texts == sent  # recorded once each on the tracker, in order


def test_a_widget_socket_on_server_a_gets_the_agent_reply_sent_by_server_b(cluster: Cluster) -> None:
    import socketio

    async def scenario() -> None:
        events: asyncio.Queue = asyncio.Queue()
        client = socketio.AsyncClient(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "widget_error"):
            client.on(name, lambda data, name=name: events.put_nowait((name, data)))

        async def next_event(name: str, timeout: float = 30, where: Any = lambda data: True) -> Any:
            deadline = time.monotonic() + timeout
            while True:
                got_name, data = await asyncio.wait_for(events.get(), max(0.1, deadline - time.monotonic()))
                assert got_name != "widget_error", data
                if got_name == name and where(data):
                    return data

        # The socket lives on server A (index 0), connected directly.
        await client.connect(cluster.rasa_url(0), socketio_path="/socket.io", transports=["websocket"],
                             wait_timeout=20)
        try:
            await client.emit("session_request", {"protocol": "heatdesk/2"})  # as our widget asks
            session_id = (await next_event("session_confirm"))["session_id"]
            await client.emit("user_uttered", {"message": "转人工", "client_id": "c1"})
            reply = await next_event("bot_uttered", where=lambda data: TICKET_NO.search(str(data.get("text"))))
            ticket_no = TICKET_NO.search(reply["text"]).group(0)  # type: ignore[union-attr]

            def claim() -> None:
                with cluster.agent_client() as agent:
                    wait_until(lambda: agent.get(f"/api/tickets/{ticket_no}").status_code == 200, timeout=20)
                    assert agent.post(f"/api/tickets/{ticket_no}/claim").status_code == 200

            await asyncio.to_thread(claim)
            text = f"您好，网页上的居民，我是客服（{uuid.uuid4().hex[:6]}）"

            def send_while_a_is_frozen() -> None:
                with cluster.frozen("rasa", 0):
                    time.sleep(DELIVERY_BLOCK_SECONDS + 0.3)
                    with cluster.agent_client() as agent:
                        answer = agent.post(f"/api/tickets/{ticket_no}/messages", json={"text": text})
                        assert answer.status_code in (200, 201), answer.text
                    # Server B read the entry, kept it in the session's transcript and emitted it
                    # to the session's room through the socket.io Redis manager.
                    wait_until(lambda: _outbox_settled(cluster), timeout=20)
                    transcript = cluster.redis.client().zrange(KEYS.widget_transcript(session_id), 0, -1)
                    assert sum(text in member for member in transcript) == 1, transcript

            await asyncio.to_thread(send_while_a_is_frozen)
            # Server A, awake again, passes B's emit on to the socket it holds: once.
            delivered = await next_event("bot_uttered", timeout=20)
            assert delivered.get("text") == text
            assert (delivered.get("metadata") or {}).get("agent")
            await asyncio.sleep(DELIVERY_BLOCK_SECONDS + 0.5)
            while not events.empty():
                name, data = events.get_nowait()
                assert not (name == "bot_uttered" and data.get("text") == text), "delivered twice"
        finally:
            await client.disconnect()

    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


def test_the_widget_talks_through_the_load_balancer(cluster: Cluster) -> None:
    """nginx passes the socket.io WebSocket upgrade on to a Rasa server."""
    import socketio

    async def scenario() -> Dict[str, Any]:
        answers: asyncio.Queue = asyncio.Queue()
        client = socketio.AsyncClient(reconnection=False)
        client.on("bot_uttered", lambda data: answers.put_nowait(data))
        await client.connect(cluster.url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=20)
        try:
            session_id = uuid.uuid4().hex
            await client.emit("session_request", {"session_id": session_id})
            await client.emit("user_uttered", {"message": "采暖期是什么时候", "session_id": session_id})
            return await asyncio.wait_for(answers.get(), 30)
        finally:
            await client.disconnect()

    answer = asyncio.run(scenario())
    assert "采暖期" in answer.get("text", ""), answer
    # nginx logs a WebSocket when it closes.
    wait_until(lambda: "/socket.io/" in cluster.nginx.access_log(), timeout=10)
