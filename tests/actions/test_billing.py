"""Billing actions on a tracker: what an unclear message or an account number beside a request
becomes, and the late-fee lines (the cap named on the bill's principal)."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any, Dict, List, Optional

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.billing import ActionBillingQuery, late_fee_lines, repair_beside_account
from actions.clarify import ActionClarify
from billing_client.models import Account, Bill
from billing_client.rule import compute_late_fee
from bot.settings import ROOT, late_fee_policy

DOMAIN: Dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def tracker(text: str, intent: str, ranking: Optional[List[Dict[str, Any]]] = None, **slots: Any) -> Tracker:
    message = {"intent": {"name": intent, "confidence": 0.7}, "text": text, "entities": [],
               "intent_ranking": ranking or [{"name": intent, "confidence": 0.7}]}
    return Tracker("rest:t", slots, message, [], False, None, None, "action_listen")


def run(action: Any, track: Tracker) -> tuple:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, DOMAIN))
    return dispatcher.messages, events


def test_unclear_message_with_an_account_number_is_a_billing_question() -> None:
    messages, events = run(ActionClarify(), tracker("再帮我查查我妈家 2024000004", "nlu_fallback"))
    assert messages == [] and events == [{"event": "followup", "timestamp": None, "name": "action_billing_query"}]


def test_details_are_a_billing_question_only_after_a_verification() -> None:
    _m, events = run(ActionClarify(), tracker("明细", "nlu_fallback", verified_account="2024000001"))
    assert events[0]["name"] == "action_billing_query"
    messages, events = run(ActionClarify(), tracker("明细", "nlu_fallback"))
    assert [m["response"] for m in messages] == ["utter_default"] and events == []


def test_repair_behind_an_account_number_goes_to_the_repair_ticket() -> None:
    ranking = [{"name": "inform", "confidence": 0.72}, {"name": "report_not_warm", "confidence": 0.24}]
    track = tracker("户号2024000006 尾号1021 我家暖气不热", "inform", ranking)
    assert repair_beside_account(track)["intent"] == "report_not_warm"  # type: ignore[index]
    _m, events = run(ActionBillingQuery(), track)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_handoff"}
    assert events[0]["name"] == "handoff_trigger" and events[0]["value"]["intent"] == "report_not_warm"


def test_plain_account_and_tail_stay_a_balance_question() -> None:
    ranking = [{"name": "inform", "confidence": 0.95}, {"name": "ask_balance", "confidence": 0.03}]
    assert repair_beside_account(tracker("2024000001 5678", "inform", ranking)) is None


def test_capped_late_fee_names_the_bills_principal() -> None:
    bill = Bill(season="2023-2024", principal=Decimal("2384.20"), due_date=dt.date(2023, 12, 31), payments=())
    account = Account(account_no="2024000007", holder="赵德胜", phone_masked="158****7643", address="经纬街",
                      district="道里区", area_m2=Decimal("80"), bills=(bill,))
    result = compute_late_fee(bill.principal, bill.due_date, dt.date(2026, 11, 30), [], late_fee_policy())
    assert result.capped
    dispatcher = CollectingDispatcher()
    late_fee_lines(dispatcher, DOMAIN, account, [(bill, result)])
    [line] = dispatcher.messages
    assert line["account"] == "赵** 2024****07"
    assert line["cap_note"] == "（已达到上限：该期账单本金 2384.20 元的100%，不再增加）"
    assert line["first_day"] == "2024-01-01"


# -- against the real billing service (tests/data/billing_seed.json, as of 2025-02-15) -------------
#
# 2024000001 张三: 2024-2025 principal 2509.00 due 2024-12-31, 1000.00 paid 2025-01-10:
#   2025-01-01..01-09: 9 days × 2509.00 × 1‰ = 22.581; 2025-01-10..02-15: 37 days × 1509.00 × 1‰ = 55.833
#   → late fee 78.41, unpaid 1509.00, total 1587.41, 46 days overdue (征信 warning over 30).
# 2024000002 李秀兰: paid in full before the due date → nothing owed.
# 2024000003 王建国: 2023-2024 and 2024-2025, 3120.00 each, unpaid: 412 days → 1285.44 (the rule starts
#   2024-01-01), 46 days → 143.52; total 6240.00 + 1428.96 = 7668.96.

from redis import Redis  # noqa: E402

from actions.billing import ActionExplainLateFee  # noqa: E402
from actions.identity import remember_verified  # noqa: E402
from tests.actions.support import SENDER, make_tracker, render, run_action, run_async  # noqa: E402

ZHANG_DETAIL = (
    "2025-01-01至2025-01-09共9天，未交2509.00元×1‰×9天=22.58元；"
    "2025-01-10至2025-02-15共37天，未交1509.00元×1‰×37天=55.83元"
)


def verified(account_no: str, conversation: str = SENDER) -> None:
    """What the identity check leaves behind: this conversation proved `account_no` (in Redis)."""
    run_async(lambda: remember_verified(conversation, account_no))


def test_balance_of_a_verified_household_has_the_exact_figures(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000001")
    turn = run_action(ActionBillingQuery(), make_tracker("查一下欠费", "ask_balance", slots={"verified_account": "2024000001"}), domain)
    assert turn.responses == ["utter_balance_total", "utter_pay_link", "utter_credit_warning"]
    total = turn.message("utter_balance_total")
    assert (total["account"], total["as_of"]) == ("张* 2024****01", "2025-02-15")
    assert (total["unpaid"], total["late_fee"], total["total"], total["seasons"]) == ("1509.00", "78.41", "1587.41", "2024-2025")
    assert render(domain, total).startswith("张* 2024****01：截至 2025-02-15 共需缴纳 1587.41 元（未交热费 1509.00 元 + 滞纳金 78.41 元）")
    assert [b["payload"] for b in domain["responses"]["utter_balance_total"][0]["buttons"]] == ["明细"]
    assert turn.message("utter_pay_link")["pay_url"] == "https://pay.example-heat.cn/h5/pay?account=2024000001"
    assert turn.message("utter_credit_warning")["days"] == 30
    slots = turn.slots()
    assert slots["verified_account"] == "2024000001" and slots["verified_accounts"] == ["2024000001"]
    assert slots["credit_warned"] is True
    assert slots["account_no"] is None and slots["billing_topic"] is None  # the form starts clean next time


def test_wechat_residents_get_the_official_accounts_pay_page(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000001", "wechat:oZhang")
    tracker = make_tracker("欠多少钱", "ask_balance", channel="wechat", sender="wechat:oZhang",
                           slots={"verified_account": "2024000001", "credit_warned": True})
    turn = run_action(ActionBillingQuery(), tracker, domain)
    assert turn.responses == ["utter_balance_total", "utter_pay_link"]  # warned once per conversation
    assert turn.message("utter_pay_link")["pay_url"] == "https://pay.example-heat.cn/wx/pay?account=2024000001"


def test_a_paid_up_household_is_told_so_without_a_pay_link(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000002")
    turn = run_action(ActionBillingQuery(), make_tracker("我家欠费吗", "ask_balance", slots={"verified_account": "2024000002"}), domain)
    assert turn.responses == ["utter_balance_none"]
    assert render(domain, turn.messages[0]) == "李** 2024****02：截至 2025-02-15 没有欠费，全部热费已交清 👍"


def test_details_list_every_season_with_its_late_fee(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000003")
    turn = run_action(ActionBillingQuery(), make_tracker("明细", "ask_balance", slots={"verified_account": "2024000003"}), domain)
    assert turn.responses == ["utter_balance_detail_header", "utter_balance_season", "utter_balance_season", "utter_credit_warning"]
    old, new = [m for m in turn.messages if m["response"] == "utter_balance_season"]
    assert (old["season"], old["unpaid"], old["late_fee"], old["overdue_days"]) == ("2023-2024", "3120.00", "1285.44", 412)
    assert (new["season"], new["paid"], new["late_fee"], new["overdue_days"]) == ("2024-2025", "0.00", "143.52", 46)
    assert render(domain, new) == (
        "2024-2025 采暖期：应交 3120.00 元，已交 0.00 元，未交 3120.00 元，滞纳金 143.52 元（到期日 2024-12-31，已逾期 46 天）。"
    )


def test_two_unpaid_seasons_add_up_to_one_total(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000003")
    turn = run_action(ActionBillingQuery(), make_tracker("欠多少", "ask_balance", slots={"verified_account": "2024000003"}), domain)
    total = turn.message("utter_balance_total")
    assert (total["unpaid"], total["late_fee"], total["total"]) == ("6240.00", "1428.96", "7668.96")
    assert total["seasons"] == "2023-2024、2024-2025"


def test_own_late_fee_is_the_rule_then_the_residents_arithmetic(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000001")
    tracker = make_tracker("我家滞纳金多少", "ask_late_fee", slots={"verified_account": "2024000001"})
    turn = run_action(ActionBillingQuery(), tracker, domain)
    assert turn.responses == ["utter_late_fee_rule", "utter_late_fee_detail", "utter_credit_warning"]
    detail = turn.message("utter_late_fee_detail")
    assert render(domain, detail) == (
        f"张* 2024****01 2024-2025（到期日 2024-12-31，滞纳金从 2025-01-01 起算）：{ZHANG_DETAIL}。合计滞纳金 78.41 元。"
    )
    assert turn.slots()["late_fee_explained"] == ["2024000001"]
    again = make_tracker("滞纳金多少", "ask_late_fee",
                         slots={"verified_account": "2024000001", "late_fee_explained": ["2024000001"], "credit_warned": True})
    assert run_action(ActionBillingQuery(), again, domain).responses == ["utter_late_fee_detail"]  # the rule once


def test_the_general_rule_needs_neither_identity_nor_billing_nor_redis(
    billing_down: str, redis_down: str, domain: Dict[str, Any]
) -> None:
    turn = run_action(ActionBillingQuery(), make_tracker("滞纳金怎么算的", "ask_late_fee"), domain)
    assert turn.responses == ["utter_late_fee_rule", "utter_late_fee_offer"]
    text = render(domain, turn.messages[0])
    assert text.startswith("滞纳金规则：自2024-01-01起，热费到期日（每年12月31日前交清全部热费")
    assert "每天按未交金额的1‰计算" in text and "本金）的100%。" in text
    assert turn.followup() is None and turn.slots() == {"late_fee_rule_told": True, "billing_topic": "ask_late_fee"}


def test_a_verified_slot_without_the_sessions_record_is_only_a_claim(billing: str, domain: Dict[str, Any]) -> None:
    """A tracker saying 2024000001 is verified, with no check in this session: the form starts."""
    turn = run_action(ActionBillingQuery(), make_tracker("查欠费", "ask_balance", slots={"verified_account": "2024000001"}), domain)
    assert turn.messages == []
    assert turn.slots() == {"verified_account": None, "billing_topic": "ask_balance"}
    assert turn.followup() == "identity_form"


def test_another_households_number_starts_its_own_check(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000001")
    tracker = make_tracker("再查下我妈家 2024000004", "ask_balance", slots={"verified_account": "2024000001"})
    turn = run_action(ActionBillingQuery(), tracker, domain)
    assert turn.messages == []
    assert turn.slots() == {"billing_topic": "ask_balance", "account_no": "2024000004", "verified_accounts": ["2024000001"]}
    assert turn.followup() == "identity_form"


def test_a_second_household_verified_in_this_session_is_answered_by_its_number(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000001")
    verified("2024000004")
    slots = {"verified_account": "2024000001", "verified_accounts": ["2024000001", "2024000004"], "credit_warned": True}
    turn = run_action(ActionBillingQuery(), make_tracker("2024000004 欠多少", "ask_balance", slots=slots), domain)
    total = turn.message("utter_balance_total")
    assert (total["account"], total["unpaid"], total["late_fee"], total["total"]) == ("刘** 2024****04", "848.40", "39.03", "887.43")
    assert turn.slots()["verified_account"] == "2024000004"


def test_an_ended_check_is_not_reported_twice(billing: str, domain: Dict[str, Any]) -> None:
    for outcome in ("locked", "unavailable", "cancelled"):
        turn = run_action(ActionBillingQuery(), make_tracker("2024000001", "inform", slots={"identity_outcome": outcome}), domain)
        assert turn.messages == [] and turn.followup() is None
        assert turn.slots() == {"account_no": None, "phone_last4": None, "identity_outcome": None, "billing_topic": None}


def test_billing_down_is_said_plainly(billing_down: str, domain: Dict[str, Any]) -> None:
    verified("2024000001")
    turn = run_action(ActionBillingQuery(), make_tracker("查欠费", "ask_balance", slots={"verified_account": "2024000001"}), domain)
    assert turn.responses == ["utter_billing_unavailable"]
    assert "verified_account" not in turn.slots()  # the check stands; only the answer failed


def test_an_account_billing_no_longer_knows_is_named(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000099")
    turn = run_action(ActionBillingQuery(), make_tracker("查欠费", "ask_balance", slots={"verified_account": "2024000099"}), domain)
    assert turn.responses == ["utter_account_not_found"]
    assert turn.messages[0]["account_no"] == "2024000099" and turn.slots()["verified_account"] is None


# -- action_explain_late_fee --------------------------------------------------------------------


def test_a_dispute_from_a_verified_resident_gets_their_arithmetic_and_a_human_offer(billing: str, domain: Dict[str, Any]) -> None:
    verified("2024000001")
    tracker = make_tracker("凭什么收我滞纳金", "dispute_late_fee", slots={"verified_account": "2024000001"})
    turn = run_action(ActionExplainLateFee(), tracker, domain)
    assert turn.responses == ["utter_late_fee_rule", "utter_late_fee_detail", "utter_dispute_offer_human"]
    assert turn.message("utter_late_fee_detail")["detail"] == ZHANG_DETAIL
    assert turn.events == [{"event": "slot", "timestamp": None, "name": "dispute_pending", "value": True}]


def test_a_dispute_without_a_check_gets_the_rule(billing: str, domain: Dict[str, Any]) -> None:
    turn = run_action(ActionExplainLateFee(), make_tracker("滞纳金不合理", "dispute_late_fee"), domain)
    assert turn.responses == ["utter_late_fee_rule", "utter_dispute_offer_human"]
    assert turn.slots() == {"dispute_pending": True}


def test_a_dispute_explained_with_billing_down_falls_back_to_the_rule(billing_down: str, domain: Dict[str, Any]) -> None:
    verified("2024000001")
    tracker = make_tracker("滞纳金不合理", "dispute_late_fee", slots={"verified_account": "2024000001"})
    assert run_action(ActionExplainLateFee(), tracker, domain).responses == ["utter_late_fee_rule", "utter_dispute_offer_human"]


def test_a_second_dispute_goes_to_a_person(redis: Redis, domain: Dict[str, Any]) -> None:
    turn = run_action(ActionExplainLateFee(), make_tracker("我不服", "dispute_late_fee", slots={"dispute_pending": True}), domain)
    assert turn.messages == [] and turn.followup() == "action_handoff"
