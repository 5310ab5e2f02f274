"""While queued, the bot keeps the resident company (issue 11): through the running stack over REST.

No resident message goes without a reply, "取消转人工" works and the console sees it, the
position told equals the console's, and nobody on duty is said so with the hotline.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Dict, List

from redis import Redis

from heatdesk_contract.keys import DEFAULT as keys
from tests.e2e.conftest import Console, Resident
from tests.stack import Stack, wait_until

TICKET_NO = re.compile(r"GD\d{12}")
POSITION = re.compile(r"排在第\s*(\d+)\s*位")
ACK = "已收到，客服接入后会看到"
HOTLINE = "0451-12345678"


def hand_over(resident: Resident, console: Console, text: str = "转人工") -> str:
    console.present()
    reply = "\n".join(resident.say(text))
    found = TICKET_NO.search(reply)
    assert found, reply
    return found.group(0)


def buttons(items: List[Dict[str, Any]]) -> List[str]:
    return [button.get("title", "") for item in items for button in item.get("buttons") or []]


def redis_of(stack: Stack) -> Redis:
    return Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)


def test_every_message_while_queued_gets_exactly_one_acknowledgement(resident: Resident, console: Console) -> None:
    hand_over(resident, console)
    for text in ("人呢", "能快点吗", "好的"):
        replies = resident.say(text)
        assert replies, f"no reply to {text!r}"
        assert sum(ACK in reply for reply in replies) == 1, replies


def test_handoff_offers_the_cancel_quick_reply(resident: Resident, console: Console) -> None:
    console.present()
    items = resident.say_full("转人工")
    assert "取消转人工" in buttons(items), items
    assert "取消转人工" in buttons(resident.say_full("人呢"))


def test_quoted_change_of_mind_cancels_and_the_bot_answers_again(resident: Resident, console: Console) -> None:
    ticket_no = hand_over(resident, console)
    reply = "\n".join(resident.say("算了 不用人工了 我自己查吧"))
    assert "已取消转人工" in reply and ticket_no in reply, reply
    # The console closes the ticket as withdrawn.
    detail = wait_until(lambda: (d := console.detail(ticket_no)) and d["status"] == "resolved" and d, timeout=15)
    assert detail["resolution_category"] == "withdrawn"
    # The bot owns the conversation again: a balance question starts the identity check, no ack.
    again = "\n".join(resident.say("查欠费"))
    assert "户号" in again and ACK not in again, again


def test_cancel_by_the_quick_reply_text_releases_the_queue(resident: Resident, console: Console, stack: Stack) -> None:
    ticket_no = hand_over(resident, console)
    assert "已取消转人工" in "\n".join(resident.say("取消转人工"))
    redis = redis_of(stack)
    assert redis.zscore(keys.queue(), ticket_no) is None
    price = "\n".join(resident.say("暖气费多少钱一平"))
    assert "26.00" in price and ACK not in price, price


def test_price_question_while_queued_is_answered_and_marked_as_the_bots(resident: Resident, console: Console) -> None:
    hand_over(resident, console, "我要投诉你们上门的维修工 态度太差")
    replies = resident.say("对了 暖气费多少钱一平")
    assert ACK in replies[0] and "智能客服先为您解答" in replies[0], replies
    assert "26.00" in replies[1], replies


def test_balance_question_while_queued_runs_the_identity_check(resident: Resident, console: Console) -> None:
    hand_over(resident, console)
    first = "\n".join(resident.say("查欠费"))
    assert ACK in first and "户号" in first, first
    answer = "\n".join(resident.say("2024000001 5678"))
    assert "1587.41" in answer and "2024****01" in answer, answer


def test_agent_sees_what_resident_and_bot_said_meanwhile(resident: Resident, console: Console) -> None:
    ticket_no = hand_over(resident, console)
    resident.say("暖气费多少钱一平")

    def both() -> Dict[str, Any]:
        detail = console.detail(ticket_no)
        senders = {(m["sender"], "26.00" in m["text"] or m["text"] == "暖气费多少钱一平") for m in detail["messages"]}
        return detail if {("user", True), ("bot", True)} <= senders else {}

    detail = wait_until(both, timeout=15)
    assert any(m["sender"] == "bot" and ACK in m["text"] for m in detail["messages"])


def test_position_told_equals_the_console_and_follows_an_urgent_ticket(
    resident: Resident, console: Console, stack: Stack
) -> None:
    ticket_no = hand_over(resident, console)
    wait_until(lambda: console.detail(ticket_no)["queue_position"] is not None, timeout=15)
    told = int(POSITION.search("\n".join(resident.say("我排第几了"))).group(1))  # type: ignore[union-attr]
    assert told == console.detail(ticket_no)["queue_position"]

    # An emergency from someone else goes first: both sides move this resident down by one.
    leak = Resident(stack, f"{resident.sender}-leak")
    leak_ticket = hand_over(leak, console, "暖气管爆了 水哗哗往外冒 快来人")
    wait_until(lambda: console.detail(leak_ticket)["queue_position"] is not None, timeout=15)
    moved = int(POSITION.search("\n".join(resident.say("还要等多久"))).group(1))  # type: ignore[union-attr]
    assert moved == told + 1 == console.detail(ticket_no)["queue_position"]


def test_nobody_on_duty_says_so_with_service_hours_and_hotline(resident: Resident, stack: Stack) -> None:
    redis_of(stack).delete(keys.presence())  # 3 a.m.: no agent has been at the console for hours
    reply = "\n".join(resident.say("转人工"))
    assert TICKET_NO.search(reply) and "现在没有客服在线" in reply, reply
    assert "8:00-20:00" in reply and HOTLINE in reply, reply
    redis_of(stack).delete(keys.presence())
    later = "\n".join(resident.say("那什么时候有人回我"))
    assert ACK in later and "现在没有客服在线" in later, later


def test_an_agent_at_the_console_means_no_after_hours_message(resident: Resident, console: Console) -> None:
    console.present()
    reply = "\n".join(resident.say("转人工"))
    assert TICKET_NO.search(reply) and "没有客服在线" not in reply, reply


def test_claimed_ticket_acknowledges_with_the_agents_name(resident: Resident, console: Console) -> None:
    ticket_no = hand_over(resident, console)
    wait_until(lambda: console.tickets(resident.conversation_id), timeout=15)
    assert console.client.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    reply = "\n".join(resident.say("在吗"))
    assert "正在处理您的问题" in reply and "排在第" not in reply, reply


def test_second_handover_request_while_queued_is_not_a_second_ticket(resident: Resident, console: Console) -> None:
    hand_over(resident, console)
    reply = "\n".join(resident.say("转人工"))
    assert ACK in reply, reply
    wait_until(lambda: console.tickets(resident.conversation_id), timeout=15)
    assert len(console.tickets(resident.conversation_id)) == 1


# --- the website widget -----------------------------------------------------------------------

from tests.e2e.test_widget import WidgetUser, own_loop, texts  # noqa: E402


@own_loop
async def test_widget_position_equals_the_console_and_the_queued_resident_is_answered(
    stack: Stack, console: Console
) -> None:
    async with WidgetUser(stack) as user:
        session_id = await user.start()
        console.present()
        ticket_no = TICKET_NO.search(texts(await user.say("转人工"))).group(0)  # type: ignore[union-attr]
        for _ in range(60):
            if console.tickets(session_id) and console.detail(ticket_no)["queue_position"] is not None:
                break
            await asyncio.sleep(0.25)
        waiting = texts(await user.say("暖气费多少钱一平"))
        assert ACK in waiting and "26.00" in waiting, waiting
        shown = user.of("handoff_state")[-1]
        told = int(POSITION.search(waiting).group(1))  # type: ignore[union-attr]
        assert shown["status"] == "queued" and shown["position"] == told == console.detail(ticket_no)["queue_position"]


@own_loop
async def test_widget_resident_cancels_with_the_quick_reply(stack: Stack, console: Console) -> None:
    async with WidgetUser(stack) as user:
        await user.start()
        console.present()
        handed = await user.say("转人工")
        assert any(r.get("title") == "取消转人工" for m in handed for r in m.get("quick_replies") or []), handed
        assert "已取消转人工" in texts(await user.say("取消转人工"))
        await user.wait(lambda: user.of("handoff_state")[-1]["status"] == "bot")
        assert "智能客服" in texts(await user.say("你好"))
