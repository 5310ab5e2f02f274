"""Balance and late-fee answers from the billing system (DESIGN.md, "The late-fee rule").

Amounts come from the billing API; the late fee is computed here with
`billing_client.rule` as of `HEATING_TODAY` (or today), so the bot, the CLI and
the console agree to the fen.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import MONEY_INTENTS, billing, channel_of, latest_intent, latest_text, mentioned_account, permille, policy, yuan
from actions.identity import CANCELLED, LOCKED, UNAVAILABLE, session_verified, verified_account
from actions.late_fee import asks_own_amount, general_answer, rule_figures
from billing_client.client import AccountNotFound, BillingError
from billing_client.models import Account
from billing_client.paylink import pay_url
from billing_client.rule import LateFeeResult, compute_late_fee
from bot.settings import city, get_settings
from heatdesk_contract.masking import mask_account, mask_name

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


def account_label(account: Account) -> str:
    """Names the household an answer is about (masked), so two households never get mixed up."""
    return f"{mask_name(account.holder)} {mask_account(account.account_no)}"


DETAIL_WORDS = ("明细", "详细", "每期", "每一期")
CREDIT_WARNED = "credit_warned"
LATE_FEE_EXPLAINED = "late_fee_explained"


def utter_rule(dispatcher: CollectingDispatcher) -> None:
    """The late-fee rule in plain Chinese, with the figures of the configured policy."""
    dispatcher.utter_message(response="utter_late_fee_rule", **rule_figures())


def credit_warning_events(
    dispatcher: CollectingDispatcher, tracker: Tracker, rows: List[tuple]
) -> List[EventType]:
    """The 征信 warning once per conversation, only when a bill is that late, never in an emergency."""
    if tracker.get_slot(CREDIT_WARNED) or tracker.get_slot("repair_step"):
        return []
    if not any(result.credit_warning and result.total_due > 0 for _bill, result in rows):
        return []
    dispatcher.utter_message(response="utter_credit_warning", days=policy().credit_warning_days)
    return [SlotSet(CREDIT_WARNED, True)]


def response_text(domain: Dict[Text, Any], name: str) -> str:
    """The first text of a domain response, for a clause filled into another response."""
    variations = (domain.get("responses") or {}).get(name) or [{}]
    return str(variations[0].get("text", ""))


def late_fee_lines(
    dispatcher: CollectingDispatcher, domain: Dict[Text, Any], account: Account, rows: List[tuple]
) -> None:
    """The resident's own arithmetic, one bubble per bill."""
    label = account_label(account)
    for bill, result in rows:
        if result.late_fee <= 0:
            dispatcher.utter_message(response="utter_late_fee_none", account=label, season=bill.season)
            continue
        cap_note = ""
        if result.capped:
            cap_note = response_text(domain, "utter_late_fee_capped").format(
                principal=yuan(bill.principal), cap_percent=rule_figures()["cap_percent"]
            )
        dispatcher.utter_message(
            response="utter_late_fee_detail",
            account=label,
            season=bill.season,
            due_date=bill.due_date.isoformat(),
            first_day=(bill.due_date + dt.timedelta(days=1)).isoformat(),
            detail=describe_fee(result),
            late_fee=yuan(result.late_fee),
            cap_note=cap_note,
        )


REPAIR_INTENTS = ("report_leak", "report_not_warm")
#: How sure the classifier must be of the repair intent behind the digits (it ranks second or third).
REPAIR_BESIDE_ACCOUNT_CONFIDENCE = 0.05


def repair_beside_account(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """"户号… 尾号… 我家暖气不热": the digits pull the classifier to `inform`, the words ask for a repair.

    Returns the handoff trigger of the repair (for action_handoff), or None.
    """
    message = tracker.latest_message or {}
    for ranked in (message.get("intent_ranking") or [])[:3]:
        name, confidence = ranked.get("name"), float(ranked.get("confidence") or 0.0)
        if name in REPAIR_INTENTS and confidence >= REPAIR_BESIDE_ACCOUNT_CONFIDENCE:
            emotion = message.get("emotion") or {}
            return {
                "kind": "intent", "name": name, "confidence": confidence, "text": message.get("text") or "",
                "intent": name, "emotion": emotion.get("name", "neutral"),
                "emotion_confidence": float(emotion.get("confidence") or 0.0),
            }
    return None


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
    account_no = await verified_account(tracker)
    if not account_no:
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
    """Balance or late fee of the verified account; starts the identity check when needed.

    A 户号 in the message that is not the verified one starts the check for that household
    (a resident may look after a parent's account too); every answer names its household.
    """

    def name(self) -> Text:
        return "action_billing_query"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        intent = latest_intent(tracker)
        repair = repair_beside_account(tracker) if intent == "inform" else None
        if repair is not None:
            return [SlotSet("handoff_trigger", repair), FollowupAction("action_handoff")]
        topic = intent if intent in MONEY_INTENTS else tracker.get_slot("billing_topic") or "ask_balance"
        outcome = tracker.get_slot("identity_outcome")
        if outcome in (LOCKED, UNAVAILABLE, CANCELLED):
            return _reset()  # the form already told the resident why
        if intent == "affirm" and not tracker.get_slot("billing_topic"):
            dispatcher.utter_message(response="utter_affirm_ack")  # a "yes" with no offer pending
            return []

        verified = list(tracker.get_slot("verified_accounts") or [])
        account_no = await verified_account(tracker)
        if account_no and account_no not in verified:
            verified.append(account_no)
        asked = mentioned_account(tracker)
        if asked and asked != account_no and tracker.get_slot("requested_slot") is None:
            if asked not in verified or not await session_verified(tracker, asked):
                # Another household: verify it before telling anything about it.
                return [
                    SlotSet("billing_topic", topic),
                    SlotSet("account_no", asked),  # validated by the form as it starts
                    SlotSet("verified_accounts", verified),
                    FollowupAction("identity_form"),
                ]
            account_no = asked
        if not account_no:
            if intent == "ask_late_fee" and not asks_own_amount(latest_text(tracker)):
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

        rows = statement(account)
        explained = list(tracker.get_slot(LATE_FEE_EXPLAINED) or [])
        events: List[EventType] = []
        if topic == "ask_late_fee":
            if account_no not in explained:
                utter_rule(dispatcher)
                explained.append(account_no)
            late_fee_lines(dispatcher, domain, account, rows)
        elif any(word in latest_text(tracker) for word in DETAIL_WORDS):
            self._detail(dispatcher, account, rows)
        else:
            self._balance(dispatcher, account, rows)
            utter_pay_link(dispatcher, channel_of(tracker), account)
        events += credit_warning_events(dispatcher, tracker, rows)
        if account_no not in verified:
            verified.append(account_no)
        return _reset() + events + [
            SlotSet("verified_account", account_no),
            SlotSet("verified_accounts", verified),
            SlotSet(LATE_FEE_EXPLAINED, explained),
        ]

    def _balance(self, dispatcher: CollectingDispatcher, account: Account, rows: List[tuple]) -> None:
        """One bubble: the total and what it is made of; the seasons on "明细"."""
        as_of = get_settings().today().isoformat()
        owing = [(bill, result) for bill, result in rows if result.total_due > 0]
        if not owing:
            dispatcher.utter_message(response="utter_balance_none", account=account_label(account), as_of=as_of)
            return
        unpaid = sum((result.unpaid_principal for _b, result in owing), Decimal("0"))
        late_fee = sum((result.late_fee for _b, result in owing), Decimal("0"))
        dispatcher.utter_message(
            response="utter_balance_total",
            account=account_label(account),
            as_of=as_of,
            unpaid=yuan(unpaid),
            late_fee=yuan(late_fee),
            total=yuan(unpaid + late_fee),
            seasons="、".join(bill.season for bill, _r in owing),
        )

    def _detail(self, dispatcher: CollectingDispatcher, account: Account, rows: List[tuple]) -> None:
        """Every bill that still costs something, asked for with "明细"."""
        owing = [(bill, result) for bill, result in rows if result.total_due > 0]
        if not owing:
            self._balance(dispatcher, account, rows)
            return
        dispatcher.utter_message(
            response="utter_balance_detail_header",
            account=account_label(account),
            as_of=get_settings().today().isoformat(),
        )
        for bill, result in owing:
            if result.unpaid_principal <= 0:
                dispatcher.utter_message(
                    response="utter_balance_season_paid_late",
                    season=bill.season,
                    principal=yuan(bill.principal),
                    late_fee=yuan(result.late_fee),
                )
                continue
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


class ActionExplainLateFee(Action):
    """A disputed late fee: the due date and the resident's own arithmetic, then a human.

    Disputed twice (or "我不服" after the explanation, see rules.yml), it opens a ticket of
    category dispute_late_fee (滞纳金异议) instead of repeating itself.
    """

    def name(self) -> Text:
        return "action_explain_late_fee"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if tracker.get_slot(DISPUTE_PENDING):
            return [FollowupAction("action_handoff")]
        await explain_late_fee(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_dispute_offer_human")
        return [SlotSet(DISPUTE_PENDING, True)]


DISPUTE_PENDING = "dispute_pending"


async def explain_late_fee(dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> None:
    """The due date and the resident's own arithmetic when verified, else the rule."""
    account_no: Optional[str] = await verified_account(tracker)
    account: Optional[Account] = None
    if account_no:
        try:
            account = await billing().get_account(account_no)
        except BillingError as error:
            logger.error("Billing unavailable while explaining a late fee: %s", type(error).__name__)
    if account is None:
        utter_rule(dispatcher)
        return
    if account_no not in (tracker.get_slot(LATE_FEE_EXPLAINED) or []):
        utter_rule(dispatcher)
    late_fee_lines(dispatcher, domain, account, statement(account))
