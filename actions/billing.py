"""Balance and late-fee answers from the billing system (DESIGN.md, "The late-fee rule").

Amounts come from the billing API; the late fee is computed here with
`billing_client.rule` as of `HEATING_TODAY` (or today), so the bot, the CLI and
the console agree to the fen.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import MONEY_INTENTS, billing, latest_intent, permille, policy, yuan
from actions.identity import CANCELLED, LOCKED, UNAVAILABLE, verified_account
from actions.late_fee import asks_own_amount, general_answer
from billing_client.client import AccountNotFound, BillingError
from billing_client.models import Account
from billing_client.rule import LateFeeResult, compute_late_fee
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def statement(account: Account) -> List[tuple]:
    """(bill, late-fee result) for every bill of the account, as of today."""
    today = get_settings().today()
    return [
        (bill, compute_late_fee(bill.principal, bill.due_date, today, bill.payments, policy()))
        for bill in account.bills
    ]


def describe_fee(result: LateFeeResult) -> str:
    """The computation in plain Chinese: one clause per stretch of constant unpaid amount."""
    parts = [
        f"{seg.start.isoformat()}至{seg.end.isoformat()}共{seg.days}天，"
        f"未交{yuan(seg.unpaid)}元×{permille(result.rate)}‰×{seg.days}天={yuan(seg.fee)}元"
        for seg in result.segments
    ]
    return "；".join(parts)


def utter_rule(dispatcher: CollectingDispatcher) -> None:
    """The late-fee rule in plain Chinese, with the figures of the configured policy."""
    rule = policy()
    dispatcher.utter_message(
        response="utter_late_fee_rule",
        start=rule.start.isoformat(),
        rate_permille=permille(rule.rate),
        cap_percent=f"{(rule.cap_ratio * 100).normalize():f}",
    )


def _reset() -> List[EventType]:
    return [
        SlotSet("account_no", None),
        SlotSet("phone_last4", None),
        SlotSet("identity_outcome", None),
        SlotSet("billing_topic", None),
    ]


class ActionBillingQuery(Action):
    """Balance or late fee of the verified account; starts the identity check when needed."""

    def name(self) -> Text:
        return "action_billing_query"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        intent = latest_intent(tracker)
        topic = intent if intent in MONEY_INTENTS else tracker.get_slot("billing_topic") or "ask_balance"
        outcome = tracker.get_slot("identity_outcome")
        if outcome in (LOCKED, UNAVAILABLE, CANCELLED):
            return _reset()  # the form already told the resident why
        if intent == "affirm" and not tracker.get_slot("billing_topic"):
            dispatcher.utter_message(response="utter_affirm_ack")  # a "yes" with no offer pending
            return []

        account_no = await verified_account(tracker)
        if not account_no:
            if intent == "ask_late_fee" and not asks_own_amount(str(tracker.latest_message.get("text") or "")):
                return general_answer(dispatcher, tracker)  # how the fee works needs no identity
            # No check in this session (or it expired): the slot is only a claim, drop it.
            return [SlotSet("verified_account", None), SlotSet("billing_topic", topic), FollowupAction("identity_form")]

        try:
            account = await billing().get_account(account_no)
        except AccountNotFound:
            dispatcher.utter_message(response="utter_account_not_found", account_no=account_no)
            return _reset() + [SlotSet("verified_account", None)]
        except BillingError as error:
            logger.error("Billing unavailable for a balance question: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_billing_unavailable")
            return _reset()

        if topic == "ask_late_fee":
            self._late_fee(dispatcher, account)
        else:
            self._balance(dispatcher, account)
        return _reset() + [SlotSet("verified_account", account_no)]

    def _balance(self, dispatcher: CollectingDispatcher, account: Account) -> None:
        as_of = get_settings().today().isoformat()
        rows = statement(account)
        owing = [(bill, result) for bill, result in rows if result.total_due > 0]
        if not owing:
            dispatcher.utter_message(response="utter_balance_none", account_no=account.account_no, as_of=as_of)
            return
        unpaid = sum((result.unpaid_principal for _b, result in owing), Decimal("0"))
        late_fee = sum((result.late_fee for _b, result in owing), Decimal("0"))
        for bill, result in owing:
            dispatcher.utter_message(
                response="utter_balance_season",
                season=bill.season,
                principal=yuan(bill.principal),
                paid=yuan(result.paid),
                unpaid=yuan(result.unpaid_principal),
                late_fee=yuan(result.late_fee),
                due_date=bill.due_date.isoformat(),
                overdue_days=result.overdue_days,
            )
        dispatcher.utter_message(
            response="utter_balance_total",
            as_of=as_of,
            unpaid=yuan(unpaid),
            late_fee=yuan(late_fee),
            total=yuan(unpaid + late_fee),
        )
        if any(result.credit_warning for _b, result in owing):
            dispatcher.utter_message(response="utter_credit_warning", days=policy().credit_warning_days)

    def _late_fee(self, dispatcher: CollectingDispatcher, account: Account) -> None:
        rule = policy()
        utter_rule(dispatcher)
        credit_warning = False
        for bill, result in statement(account):
            if result.late_fee <= 0:
                dispatcher.utter_message(response="utter_late_fee_none", season=bill.season)
                continue
            credit_warning = credit_warning or result.credit_warning
            cap_note = f"（已达到上限：本金的{(rule.cap_ratio * 100).normalize():f}%）" if result.capped else ""
            dispatcher.utter_message(
                response="utter_late_fee_detail",
                season=bill.season,
                detail=describe_fee(result),
                late_fee=yuan(result.late_fee),
                cap_note=cap_note,
            )
        if credit_warning:
            dispatcher.utter_message(response="utter_credit_warning", days=rule.credit_warning_days)


class ActionExplainLateFee(Action):
    """A disputed late fee: the rule, the resident's own figures if verified, and a human."""

    def name(self) -> Text:
        return "action_explain_late_fee"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        account_no: Optional[str] = await verified_account(tracker)
        account: Optional[Account] = None
        if account_no:
            try:
                account = await billing().get_account(account_no)
            except BillingError as error:
                logger.error("Billing unavailable while explaining a late fee: %s", type(error).__name__)
        if account is not None:
            ActionBillingQuery()._late_fee(dispatcher, account)
        else:
            utter_rule(dispatcher)
        dispatcher.utter_message(response="utter_dispute_offer_human")
        return []
