"""Processes die in the middle of conversations; residents hear about it, nothing durable is lost,
and everything comes back without restarting the rest.

Runs on the scaled-out cluster (two Rasa servers, two action servers behind nginx, one billing
service, one console, a redis-server of the tests' own — never the machine's shared Redis).
Each test leaves every process healthy again, and asserts so.
"""

from __future__ import annotations

import concurrent.futures
import re
import signal
import time
import uuid
from typing import Any, Dict, List

import httpx

from heatdesk_contract.keys import DEFAULT as KEYS
from tests.scale.cluster import Cluster
from tests.stack import wait_until

TICKET_NO = re.compile(r"GD\d{12}")
#: bot/action_guard.py: the resident's answer when the action server cannot be reached.
ACTION_APOLOGY = "系统开小差"
#: bot/messages.py REST_SERVICE_ERROR: the REST channel's answer when the bot fails.
REST_APOLOGY = "系统开小差"
#: domain.yml utter_billing_unavailable.
BILLING_APOLOGY = "缴费系统暂时连不上"


def texts(answer: List[Dict[str, Any]]) -> str:
    return "\n".join(item.get("text", "") for item in answer)


def new_sender(kind: str) -> str:
    return f"fault-{kind}-{uuid.uuid4().hex[:8]}"


def start_in_parallel(jobs: List[Any]) -> None:
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(stack.start, [name], 120) for stack, name in jobs]:
            future.result()


def test_action_servers_killed_mid_conversation(cluster: Cluster) -> None:
    sender = new_sender("actions")
    assert "户号" in texts(cluster.say(sender, "我家欠多少暖气费"))

    # One action server dies: nginx runs the form validation on the other one; nobody notices.
    cluster.actions[0].stop("actions", signal.SIGKILL)
    assert "后四位" in texts(cluster.say(sender, "2024000001"))
    assert "26.00" in texts(cluster.say(new_sender("actions-one"), "暖气费多少钱一平米"))

    # Both die: an apology (with the hotline), never an empty answer, and quickly.
    cluster.actions[1].stop("actions", signal.SIGKILL)
    started = time.monotonic()
    answer = texts(cluster.say(sender, "5678"))
    assert ACTION_APOLOGY in answer and "热线" in answer, answer
    assert time.monotonic() - started < 10
    for text in ["暖气费多少钱一平米", "转人工"]:
        answer = texts(cluster.say(new_sender("actions-none"), text))
        assert ACTION_APOLOGY in answer, (text, answer)
    assert httpx.get(cluster.url + "/webhooks/rest/", timeout=10).status_code == 200  # Rasa itself is fine

    # Back without touching Rasa: the same conversation carries on to the balance.
    start_in_parallel([(cluster.actions[0], "actions"), (cluster.actions[1], "actions")])
    cluster.wait_healthy()
    answer = texts(cluster.say(sender, "5678"))
    if "户号" in answer:  # the form may ask again from the start after the failed turn
        cluster.say(sender, "2024000001")
        answer = texts(cluster.say(sender, "5678"))
    assert "未交热费 1509.00 元" in answer, answer


def test_billing_killed_mid_conversation(cluster: Cluster) -> None:
    sender = new_sender("billing")
    assert "户号" in texts(cluster.say(sender, "查一下欠费"))
    cluster.core.stop("billing", signal.SIGKILL)
    # The 户号 alone is not looked up (no existence oracle); the check with the tail meets the outage.
    assert "后四位" in texts(cluster.say(sender, "2024000003"))
    answer = texts(cluster.say(sender, "1111"))
    assert BILLING_APOLOGY in answer and "转人工" in answer, answer

    cluster.core.start(["billing"], 60)
    cluster.wait_healthy()

    def balance() -> str:
        # The action servers' circuit breakers may still be open for a while (30 s cool-down).
        reply = texts(cluster.say(sender, "查欠费"))
        if "户号" in reply:
            reply = texts(cluster.say(sender, "2024000003"))
        if "后四位" in reply:
            reply = texts(cluster.say(sender, "1111"))
        return reply if "未交热费 6240.00 元" in reply else ""

    assert "未交热费 6240.00 元" in wait_until(balance, timeout=45, interval=2)


def _ticket_detail(agent: httpx.Client, ticket_no: str) -> Dict[str, Any]:
    answer = agent.get(f"/api/tickets/{ticket_no}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _message_texts(detail: Dict[str, Any]) -> List[str]:
    return [str(item.get("text")) for item in detail.get("messages", [])]


def test_redis_killed_and_restarted_empty(cluster: Cluster) -> None:
    """The worst case: Redis dies and comes back without its data (no persistence)."""
    sender = new_sender("redis")
    with cluster.agent_client() as agent:
        # A ticket with a transcript (user and agent messages) that reached SQL.
        ticket_no = TICKET_NO.search(texts(cluster.say(sender, "转人工"))).group(0)  # type: ignore[union-attr]
        wait_until(lambda: agent.get(f"/api/tickets/{ticket_no}").status_code == 200, timeout=20)
        assert agent.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
        assert agent.post(f"/api/tickets/{ticket_no}/messages", json={"text": "您好，我来帮您。"}).status_code in (200, 201)
        # The agent owns the conversation: the answer carries the agent's message waiting in the
        # REST inbox, and the bot only keeps the resident company (issue 11: "已收到，客服…").
        answer = cluster.say(sender, "暖气一直不热")
        own = [item.get("text", "") for item in answer if not item.get("agent")]
        assert any(item.get("agent") for item in answer) and (not own or own[0].startswith("已收到")), answer
        before = wait_until(
            lambda: (d := _ticket_detail(agent, ticket_no)) and "暖气一直不热" in _message_texts(d) and d, timeout=20
        )

        cluster.redis.kill()
        try:
            # Residents get an apology at once, not silence and not an error page.
            for via in [cluster.url, cluster.rasa_url(0), cluster.rasa_url(1)]:
                started = time.monotonic()
                answer = cluster.say(new_sender("redis-down"), "你好", via=via)
                assert REST_APOLOGY in texts(answer), answer
                assert time.monotonic() - started < 10
            # Every health check says so.
            for url in [cluster.rasa_url(0) + "/webhooks/rest/", cluster.rasa_url(1) + "/webhooks/rest/",
                        cluster.console_url + "/health", cluster.url + "/lb/health/rasa-0"]:
                assert httpx.get(url, timeout=10).status_code == 503, url
            # Rasa's API falls back to an empty in-memory tracker: loudly.
            httpx.get(f"{cluster.rasa_url(0)}/conversations/rest:{sender}/tracker",
                      params={"token": cluster.env["RASA_TOKEN"]}, timeout=20)
            wait_until(lambda: "TRACKER STORE FALLBACK" in cluster.log("rasa", 0), timeout=10)
            # Agents still read tickets from SQL.
            listed = agent.get("/api/tickets", params={"conversation_id": f"rest:{sender}"})
            assert listed.status_code == 200 and listed.json()["items"][0]["ticket_no"] == ticket_no
        finally:
            cluster.redis.start()

        # Everyone reconnects on their own: no process is restarted.
        cluster.wait_healthy(timeout=60)
        after = _ticket_detail(agent, ticket_no)
        assert after["status"] == before["status"]
        for text in _message_texts(before):
            assert text in _message_texts(after), text  # the transcript in SQL is whole

        # The agent's next reply on the old ticket reaches the resident (delivery group recreated).
        reply = agent.post(f"/api/tickets/{ticket_no}/messages", json={"text": "恢复后的回复"})
        assert reply.status_code in (200, 201), reply.text
        # Redis forgot the conversation's inbox token too (an old token proves nothing once the server has
        # no record of it): the resident's next message gets a new one, and the reply comes with it.
        received = [item.get("text", "") for item in cluster.say(sender, "还在吗")]

        def reply_arrived() -> bool:
            received.extend(item["text"] for item in cluster.inbox(sender))
            return "恢复后的回复" in received

        assert wait_until(reply_arrived, timeout=30)
        # New conversations work: the bot answers, and a new handoff reaches the console.
        assert "智能客服" in texts(cluster.say(new_sender("redis-back"), "你好"))
        other = new_sender("redis-back")
        new_ticket = TICKET_NO.search(texts(cluster.say(other, "转人工"))).group(0)  # type: ignore[union-attr]
        redis = cluster.redis.client()

        def arrived_or_dropped() -> Any:
            items = agent.get("/api/tickets", params={"conversation_id": f"rest:{other}"}).json()["items"]
            if items:
                return "arrived", items
            dropped = [fields for _id, fields in redis.xrange(KEYS.dead_letter_stream())
                       if fields.get("orig.conversation_id") == f"rest:{other}"]
            return ("dropped", dropped) if dropped else None

        # Redis came back empty: the console raised the daily ticket counter to the highest number in
        # SQL when it reconnected, so the new ticket gets a fresh number and reaches the console.
        outcome, detail = wait_until(arrived_or_dropped, timeout=30)
        assert outcome == "arrived" and detail[0]["ticket_no"] == new_ticket, (outcome, detail, new_ticket)
