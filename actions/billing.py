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

from actions.common import MONEY_INTENTS, billing, channel_of, latest_intent, permille, policy, yuan
from actions.identity import LOCKED, STOPPED, UNAVAILABLE, bound_account
from billing_client.client import AccountNotFound, BillingError
from billing_client.models import Account
from billing_client.paylink import pay_url
from billing_client.rule import LateFeeResult, compute_late_fee
from bot.settings import city, get_settings

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


def owed(account: Account) -> Decimal:
    """Unpaid principal plus late fees of every bill, as of today."""
    return sum((result.total_due for _bill, result in statement(account)), Decimal("0"))


def utter_pay_link(dispatcher: CollectingDispatcher, channel: str, account: Account) -> None:
    """"Pay now" one tap away after an amount owed: the company's page for this channel."""
    link = pay_url(city().get("payment") or {}, channel, account.account_no)
    if link and owed(account) > 0:
        dispatcher.utter_message(response="utter_pay_link", pay_url=link)


async def answer_payment_claim(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """"我交了" (e.g. after a reminder) from a known household: ask billing again and confirm, or
    say what is still open and how long crediting takes. False when the household is unknown."""
    account_no = tracker.get_slot("verified_account") or await bound_account(tracker)
    if not account_no or account_no == STOPPED:
        return False
    try:
        account = await billing().get_account(account_no)
    except BillingError as error:
        logger.info("Billing unavailable for a payment claim: %s", type(error).__name__)
        return False
    as_of = get_settings().today().isoformat()
    total = owed(account)
    if total <= 0:
        dispatcher.utter_message(response="utter_payment_confirmed", account_no=account_no, as_of=as_of)
        return True
    dispatcher.utter_message(response="utter_payment_still_owing", account_no=account_no, as_of=as_of,
                             total=yuan(total), crediting=city()["payment"]["crediting_delay_text"])
    utter_pay_link(dispatcher, channel_of(tracker), account)
    return True


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
        if outcome in (LOCKED, UNAVAILABLE):
            return _reset()  # the form already told the resident why

        account_no = tracker.get_slot("verified_account") or await bound_account(tracker)
        if not account_no or account_no == STOPPED:
            return [SlotSet("billing_topic", topic), FollowupAction("identity_form")]

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
            utter_pay_link(dispatcher, channel_of(tracker), account)
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
        account_no: Optional[str] = tracker.get_slot("verified_account") or await bound_account(tracker)
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
