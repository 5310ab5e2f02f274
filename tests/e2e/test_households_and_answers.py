"""Several households, disputes, and answers written for a phone (issue 11), over REST.

Test billing data (tests/data/billing_seed.json) as of 2025-02-15: 2024000001 owes 1509.00 +
78.41 late fee; 2024000003 owes two seasons (the older one since 2023-12-31, so 征信 applies);
2024000004 (刘淑华) owes 848.40 + 39.03; 2024000006 has paid everything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List

from tests.e2e.conftest import Console, Resident

ROOT = Path(__file__).resolve().parents[2]


def verified(resident: Resident, account: str = "2024000001", tail: str = "5678") -> List[str]:
    resident.say("查欠费")
    return resident.say(f"{account} {tail}")


def test_quoted_second_household_is_verified_then_answered_by_name(resident: Resident) -> None:
    first = "\n".join(verified(resident))
    assert "1587.41" in first and "张* 2024****01" in first, first
    ask = "\n".join(resident.say("再帮我查查我妈家 2024000004"))
    assert "后四位" in ask, ask
    answer = "\n".join(resident.say("5628"))
    assert "刘** 2024****04" in answer and "887.43" in answer, answer
    assert "1587.41" not in answer


def test_wrong_tail_for_the_second_household_tells_nothing_about_it(resident: Resident) -> None:
    verified(resident)
    resident.say("再帮我查查我妈家 2024000004")
    answer = "\n".join(resident.say("1234"))
    assert "不正确" in answer and "887.43" not in answer and "1587.41" not in answer, answer


def test_back_to_the_first_household_needs_no_second_check(resident: Resident) -> None:
    verified(resident)
    resident.say("再帮我查查我妈家 2024000004")
    resident.say("5628")
    answer = "\n".join(resident.say("再查一下 2024000001 的欠费"))
    assert "张* 2024****01" in answer and "1587.41" in answer, answer


def test_balance_fits_a_phone_and_details_come_on_request(resident: Resident) -> None:
    replies = verified(resident)
    balance = [r for r in replies if "共需缴纳" in r]
    # identity + total + the pay link (issue 17) (+ 征信 once): the balance itself stays one bubble
    assert balance and len(replies) <= 4, replies
    detail = "\n".join(resident.say("明细"))
    assert "2024-2025 采暖期：应交 2509.00 元，已交 1000.00 元，未交 1509.00 元" in detail, detail


def test_credit_warning_once_per_conversation(resident: Resident) -> None:
    first = "\n".join(verified(resident, "2024000003", "1111"))
    assert first.count("征信") == 1, first
    again = "\n".join(resident.say("滞纳金多少"))
    assert "征信" not in again and "1285.44" in again, again


def test_no_credit_warning_when_nothing_is_that_late(resident: Resident) -> None:
    answer = "\n".join(verified(resident, "2024000004", "5628"))
    assert "887.43" in answer and "征信" in answer  # 46 days overdue: it applies
    paid = Resident(resident.stack, resident.sender + "-paid")
    none = "\n".join(verified(paid, "2024000006", "1021"))
    assert "征信" not in none


def test_paid_household_is_told_so_without_overdue_days(resident: Resident) -> None:
    answer = "\n".join(verified(resident, "2024000006", "1021"))
    assert "没有欠费，全部热费已交清" in answer and "杨* 2024****06" in answer, answer
    assert "逾期" not in answer


def test_second_late_fee_question_gets_the_residents_arithmetic_not_the_rule(resident: Resident) -> None:
    resident.say("滞纳金多少")
    first = "\n".join(resident.say("2024000004 5628"))
    assert "滞纳金规则" in first and "848.40元×1‰×46天=39.03元" in first, first
    second = "\n".join(resident.say("那滞纳金咋算的"))
    assert "滞纳金规则" not in second and "848.40元×1‰×46天=39.03元" in second, second


def test_cap_is_explained_on_the_bills_principal(resident: Resident) -> None:
    verified(resident)
    answer = "\n".join(resident.say("滞纳金怎么算"))
    assert "该期应交热费（账单本金）" in answer and "欠费本金的100%" not in answer, answer


def test_quoted_dispute_explains_the_due_date_and_the_arithmetic(resident: Resident) -> None:
    verified(resident)
    answer = "\n".join(resident.say("凭啥去年10月21号就开始算我滞纳金？"))
    assert "到期日 2024-12-31" in answer and "从 2025-01-01 起算" in answer, answer
    assert "2509.00元×1‰×9天=22.58元" in answer and "可以通过这些方式缴费" not in answer, answer


def test_quoted_i_object_opens_a_late_fee_dispute_ticket(resident: Resident, console: Console) -> None:
    console.present()
    verified(resident)
    resident.say("凭啥去年10月21号就开始算我滞纳金？")
    reply = "\n".join(resident.say("我不服"))
    # Angry, the first message may already have opened the ticket: then this one is acknowledged with it.
    assert re.search(r"GD\d{12}", reply) and "那您还有其他问题吗" not in reply, reply
    ticket = console.ticket_of(resident.conversation_id)
    assert ticket["category"] == "dispute_late_fee" and ticket["account_no"] == "2024000001"


def test_demo_and_test_data_follow_the_city_deadline() -> None:
    """Every bill is due on the city's deadline (12-31) of its season's first year."""
    import yaml

    deadline = yaml.safe_load((ROOT / "config" / "city.yml").read_text(encoding="utf-8"))["payment"]["deadline"]
    for seed in (ROOT / "billing_service" / "demo_seed.json", ROOT / "tests" / "data" / "billing_seed.json"):
        for account in json.loads(seed.read_text(encoding="utf-8"))["accounts"]:
            for bill in account["bills"]:
                assert bill["due_date"] == f"{bill['season'][:4]}-{deadline}", (seed.name, account["account_no"], bill)
