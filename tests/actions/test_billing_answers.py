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
