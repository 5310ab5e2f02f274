"""Emergencies handled like emergencies (issue 11), through the running stack over REST:
hotline first, the address and a callback phone into the ticket, safety steps for the situation,
follow-up questions answered while waiting."""

from __future__ import annotations

from tests.e2e.conftest import Console, Resident
from tests.stack import wait_until

HOTLINE = "0451-12345678"
LEAK = "卫生间暖气片接口呲水了 地上全是水 快来人"


def test_quoted_leak_gets_the_hotline_first_and_is_asked_for_the_address(resident: Resident, console: Console) -> None:
    console.present()
    replies = resident.say(LEAK)
    assert HOTLINE in replies[0] and "阀门" in replies[0], replies
    assert "紧急工单" in replies[1], replies
    assert "详细地址" in replies[-1], replies
    ticket = console.ticket_of(resident.conversation_id)
    assert ticket["priority"] == "urgent" and ticket["category"] == "report_leak"


def test_leak_address_and_callback_phone_reach_the_ticket(resident: Resident, console: Console) -> None:
    console.present()
    resident.say(LEAK)
    noted = "\n".join(resident.say("红军街87号院2-4-201"))
    assert "地址已记到工单" in noted and "手机号" in noted, noted
    phone = "\n".join(resident.say("13845671234"))
    assert "138****1234" in phone and "13845671234" not in phone, phone
    summary = wait_until(
        lambda: (s := console.ticket_of(resident.conversation_id)["summary"]).get("callback_phone") and s, timeout=15
    )
    assert summary["address"] == "红军街87号院2-4-201" and summary["callback_phone"] == "13845671234"


def test_quoted_valve_question_during_a_leak_is_answered(resident: Resident, console: Console) -> None:
    console.present()
    resident.say(LEAK)
    reply = "\n".join(resident.say("阀门在哪啊 我找不着"))
    assert "分户阀" in reply and "进水管" in reply, reply


def test_when_will_you_come_is_answered_with_the_promised_time(resident: Resident, console: Console) -> None:
    console.present()
    resident.say(LEAK)
    reply = "\n".join(resident.say("你们多久能到"))
    assert "30分钟内" in reply and HOTLINE in reply, reply


def test_leak_after_verification_uses_the_verified_address(resident: Resident, console: Console) -> None:
    console.present()
    resident.say("查欠费")
    resident.say("2024000001 5678")
    reply = "\n".join(resident.say("家里暖气管漏水了 止不住"))
    assert HOTLINE in reply and "阳光小区3号楼2单元501" in reply and "手机号" in reply, reply
    ticket = console.ticket_of(resident.conversation_id)
    assert ticket["account_no"] == "2024000001" and ticket["summary"]["address"] == "阳光小区3号楼2单元501"


def test_cold_home_with_an_old_man_is_urgent_with_cold_safety_steps(resident: Resident, console: Console) -> None:
    console.present()
    replies = resident.say("家里才12度 我爸八十多了冻得直哆嗦")
    assert HOTLINE in replies[0] and "一氧化碳" in replies[0], replies
    ticket = console.ticket_of(resident.conversation_id)
    assert ticket["priority"] == "urgent" and ticket["category"] == "report_not_warm"


def test_crying_baby_at_13_degrees_is_urgent_and_never_warned_about_credit(resident: Resident, console: Console) -> None:
    console.present()
    first = "\n".join(resident.say("孩子才三个月 屋里13度 冻得直哭"))
    assert HOTLINE in first and "征信" not in first, first
    assert console.ticket_of(resident.conversation_id)["priority"] == "urgent"
    resident.say("查欠费")
    balance = "\n".join(resident.say("2024000003 1111"))
    assert "7668.96" in balance and "征信" not in balance, balance


def test_plain_not_warm_opens_a_normal_repair_ticket(resident: Resident, console: Console) -> None:
    console.present()
    reply = "\n".join(resident.say("屋里才17度 暖气不太热"))
    assert "已为您登记报修" in reply and "详细地址" in reply and HOTLINE not in reply, reply
    ticket = console.ticket_of(resident.conversation_id)
    assert ticket["priority"] == "normal" and ticket["category"] == "report_not_warm"


def test_quoted_not_warm_with_account_and_tail_opens_a_repair_ticket_with_the_address(
    resident: Resident, console: Console
) -> None:
    console.present()
    reply = "\n".join(resident.say("户号2024000006 尾号1021 我家暖气不热"))
    assert "已为您登记报修" in reply and "和兴路丽景小区3栋502" in reply, reply
    assert "全部热费已交清" not in reply
    ticket = console.ticket_of(resident.conversation_id)
    assert ticket["account_no"] == "2024000006"
    later = "\n".join(resident.say("那你们啥时候来人"))
    assert "分钟内联系您" in later and "采暖期一般从" not in later, later
