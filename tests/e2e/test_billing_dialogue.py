"""Balance and late-fee answers through the running stack:
REST channel → Rasa → action server → billing service → SQLite, at HEATING_TODAY=2025-02-15.

Account 2024000001 (tests/data/billing_seed.json) is DESIGN.md's example: 2509.00 due
2024-12-31, 1000.00 paid on 2025-01-10. Worked by hand: 2025-01-01…01-09 is 9 days on
2509.00 (22.581), 2025-01-10…02-15 is 37 days on 1509.00 (55.833); 78.414 → 78.41 元.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Resident
from tests.stack import Stack


def joined(replies: list[str]) -> str:
    return "\n".join(replies)


def test_balance_after_identity_check(resident: Resident) -> None:
    first = joined(resident.say("我家欠多少暖气费"))
    assert "户号" in first
    second = joined(resident.say("2024000001"))
    assert "后四位" in second
    answer = joined(resident.say("5678"))
    assert "张*" in answer and "138****5678" in answer
    assert "张三" not in answer and "13800005678" not in answer
    # One bubble for the money (issue 11: answers written for a phone), the seasons on "明细".
    assert "共需缴纳 1587.41 元（未交热费 1509.00 元 + 滞纳金 78.41 元）" in answer
    assert "征信" in answer  # more than 30 days overdue
    detail = joined(resident.say("明细"))
    assert "应交 2509.00 元，已交 1000.00 元，未交 1509.00 元，滞纳金 78.41 元" in detail
    assert "已逾期 46 天" in detail


def test_account_and_tail_in_one_message_and_then_no_second_check(resident: Resident) -> None:
    resident.say("查一下欠费")
    answer = joined(resident.say("户号2024000002 尾号1234"))
    assert "没有欠费" in answer
    again = joined(resident.say("我家欠多少暖气费"))
    assert "没有欠费" in again and "请告诉我您的供热户号" not in again


def test_late_fee_question_explains_the_computation(resident: Resident) -> None:
    resident.say("滞纳金是怎么算的 我家有多少")
    resident.say("2024000001")
    answer = joined(resident.say("5678"))
    assert "1‰" in answer
    assert "2025-01-01至2025-01-09共9天" in answer
    assert "未交2509.00元×1‰×9天=22.58元" in answer
    assert "2025-01-10至2025-02-15共37天" in answer
    assert "合计滞纳金 78.41 元" in answer


def test_cap_is_applied_for_a_long_unpaid_bill(resident: Resident) -> None:
    resident.say("查欠费")
    answer = joined(resident.say("2024000003 1111"))
    assert "征信" in answer
    answer = joined(resident.say("明细"))
    # 2023-2024: 3120.00 due 2023-12-31, accrues from 2024-01-01 to 2025-02-15 = 412 days → 1285.44
    assert "2023-2024 采暖期：应交 3120.00 元，已交 0.00 元，未交 3120.00 元，滞纳金 1285.44 元" in answer


def test_unknown_account_is_told_like_a_wrong_tail(resident: Resident) -> None:
    """No account-existence oracle: the 户号 alone is never looked up (issue 13)."""
    resident.say("查欠费")
    asked = joined(resident.say("2099999999"))
    assert "手机号的后四位" in asked and "没有查到" not in asked
    assert "户号或手机尾号不正确，请核对后重新输入手机尾号，您还可以再试 2 次" in joined(resident.say("1234"))


def test_three_wrong_tails_lock_the_account(resident: Resident, stack: Stack) -> None:
    resident.say("我要查欠费")
    resident.say("2024000001")
    assert "还可以再试 2 次" in joined(resident.say("0000"))
    assert "还可以再试 1 次" in joined(resident.say("1111"))
    assert "锁定15分钟" in joined(resident.say("2222"))
    # Even the right tail is refused while locked, in this conversation ...
    resident.say("查欠费")
    locked = joined(resident.say("2024000001 5678"))
    assert "锁定" in locked and "1509.00" not in locked
    # ... but a stranger's wrong guesses do not lock the owner out of their own conversation.
    owner = Resident(stack, resident.sender + "-owner")
    owner.say("查欠费")
    assert "1509.00" in joined(owner.say("2024000001 5678"))


def test_billing_down_gives_an_apology_quickly(stack: Stack, resident: Resident) -> None:
    stack.stop("billing")
    try:
        resident.say("查欠费")
        started = time.monotonic()
        answer = joined(resident.say("2024000003 1111"))
        elapsed = time.monotonic() - started
        assert "缴费系统暂时连不上" in answer and "转人工" in answer
        assert elapsed < 3.0, elapsed
        # A second resident is answered fast as well (the circuit breaker is open).
        second = Resident(stack, resident.sender + "-2")
        second.say("查欠费")
        started = time.monotonic()
        assert "暂时连不上" in joined(second.say("2024000002 1234"))
        assert time.monotonic() - started < 3.0
    finally:
        stack.start(["billing"])


@pytest.mark.parametrize("text", ["滞纳金凭什么收 抢钱吗", "能不能把滞纳金免了"])
def test_disputed_late_fee_is_explained_with_a_human_offered(resident: Resident, text: str) -> None:
    answer = joined(resident.say(text))
    if "工单号" in answer:  # an angry dispute is handed to a person instead
        return
    assert "1‰" in answer and "转人工" in answer
