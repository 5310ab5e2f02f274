"""Handoff through the running stack: REST channel → Rasa (emotion, HandoffPolicy) → action server
→ Redis stream → console (SQL ticket) → agent reply → delivery worker → the resident's inbox."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import httpx
import pytest

from tests.e2e.conftest import Resident
from tests.stack import Stack, wait_until

TICKET_NO = re.compile(r"GD\d{8}\d{4}")


@pytest.fixture(scope="module")
def agent(stack: Stack) -> httpx.Client:
    client = httpx.Client(base_url=stack.url("console"), timeout=15)
    answer = client.post("/api/login", json={"username": "admin", "password": "admin-test-password"})
    answer.raise_for_status()
    return client


def tickets_of(agent: httpx.Client, conversation_id: str) -> List[Dict[str, Any]]:
    answer = agent.get("/api/tickets", params={"conversation_id": conversation_id})
    answer.raise_for_status()
    return answer.json()["items"]


def one_ticket(agent: httpx.Client, conversation_id: str) -> Dict[str, Any]:
    return wait_until(lambda: tickets_of(agent, conversation_id), timeout=15)[0]


def test_angry_balance_question_opens_one_ticket_and_agent_takes_over(resident: Resident, agent: httpx.Client) -> None:
    angry = "你们这帮骗子 我家到底欠多少钱？？？"
    reply = "\n".join(resident.say(angry))
    found = TICKET_NO.search(reply)
    assert found and "人工客服" in reply and "排在第" in reply, reply
    ticket_no = found.group(0)

    # The same message delivered again is not a second ticket; the bot only acknowledges it.
    assert any("已收到" in text for text in resident.say(angry))
    ticket = one_ticket(agent, resident.conversation_id)
    assert ticket["ticket_no"] == ticket_no
    assert ticket["trigger"]["kind"] == "emotion" and ticket["trigger"]["name"] == "angry"
    assert ticket["category"] == "ask_balance"
    assert ticket["status"] == "new"

    # Later messages reach the ticket; the bot acknowledges (issue 11: no silence in the queue).
    hurry = resident.say("快点给我查")
    assert any("已收到" in text for text in hurry), hurry
    detail = wait_until(
        lambda: (d := agent.get(f"/api/tickets/{ticket_no}").json())
        and any(m.get("text") == "快点给我查" for m in d.get("messages", [])) and d,
        timeout=15,
    )
    assert len(tickets_of(agent, resident.conversation_id)) == 1
    assert detail["ticket"]["ticket_no"] == ticket_no if "ticket" in detail else True

    # The agent claims and replies; the reply reaches the resident's channel.
    assert agent.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    sent = agent.post(f"/api/tickets/{ticket_no}/messages", json={"text": "您好，我是客服小王，马上帮您查。"})
    assert sent.status_code in (200, 201), sent.text
    delivered = wait_until(resident.inbox, timeout=15)
    assert "您好，我是客服小王，马上帮您查。" in delivered

    # Resolve hands the conversation back to the bot, which greets the resident again.
    resolved = agent.post(f"/api/tickets/{ticket_no}/resolve", json={"resolution_category": "answered"})
    assert resolved.status_code == 200, resolved.text
    back = wait_until(resident.inbox, timeout=15)
    assert any("继续为您服务" in text for text in back)
    assert any("智能客服" in text for text in resident.say("你好"))


def test_polite_complaint_goes_to_a_person_without_anger(resident: Resident, agent: httpx.Client) -> None:
    reply = "\n".join(resident.say("您好，我想反映一下，上门维修的师傅态度不太好"))
    assert TICKET_NO.search(reply), reply
    ticket = one_ticket(agent, resident.conversation_id)
    assert ticket["category"] == "complain"
    assert ticket["trigger"]["kind"] == "intent"
    assert ticket["priority"] == "normal"


def test_leak_is_urgent_with_safety_advice(resident: Resident, agent: httpx.Client) -> None:
    reply = "\n".join(resident.say("暖气管爆了 水哗哗往外冒 快来人"))
    assert "关闭" in reply and "阀门" in reply, reply
    assert TICKET_NO.search(reply)
    ticket = one_ticket(agent, resident.conversation_id)
    assert ticket["priority"] == "urgent"
    assert ticket["category"] == "report_leak"


def test_ticket_summary_carries_what_the_bot_collected(resident: Resident, agent: httpx.Client) -> None:
    resident.say("查欠费")
    resident.say("2024000003 1111")
    reply = "\n".join(resident.say("欠这么多？？？ 你们就是抢钱"))
    ticket_no = TICKET_NO.search(reply).group(0)  # type: ignore[union-attr]
    ticket = one_ticket(agent, resident.conversation_id)
    assert ticket["account_no"] == "2024000003"
    assert ticket["priority"] == "high"  # angry and more than 30 days overdue (征信)
    detail = agent.get(f"/api/tickets/{ticket_no}").json()
    summary = detail.get("summary") or detail.get("ticket", {}).get("summary") or {}
    assert summary.get("verified") is True
    assert any(bill["season"] == "2023-2024" and bill["late_fee"] == "1285.44" for bill in summary["bills"])
    assert "王建国" not in str(summary) and "13700001111" not in str(summary)


def test_request_human_is_handed_over(resident: Resident, agent: httpx.Client) -> None:
    reply = "\n".join(resident.say("转人工"))
    assert TICKET_NO.search(reply), reply
    assert one_ticket(agent, resident.conversation_id)["category"] == "request_human"


def test_dashboard_counts_conversations_for_the_handoff_rate(resident: Resident, agent: httpx.Client) -> None:
    resident.say("你好")
    dashboard = agent.get("/api/metrics/dashboard")
    assert dashboard.status_code == 200, dashboard.text
    handoff = dashboard.json()["handoff"]
    assert handoff["conversations_source"] == "redis"
    assert handoff["conversations"] >= 1
    assert handoff["tickets"] >= 1 and handoff["rate"] is not None
