"""Hand the conversation to a human agent with a ticket (DESIGN.md, "One owner per conversation").

The trigger was decided by `bot.handoff.policy.HandoffPolicy` and stored in the
`handoff_trigger` slot. This action numbers the ticket, puts the request on the
tickets stream (the console persists it), makes the agent the owner, queues the
ticket and tells the resident, in one message, the ticket number and their place
in the queue. All of it happens in one Redis transaction, so a ticket request is
never made without the owner switch or the other way round.

Repairs are tickets too: a leak, or a cold home with someone vulnerable or below 14℃, is an
emergency (the hotline first, safety steps for that situation, an urgent ticket); any other
not-warm report is a normal repair ticket. Both then collect the address (the verified one when
there is one) and a callback phone into the ticket while the resident waits
(`actions/queue.py`). The conversation is not paused: the bot keeps answering while queued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.billing import DISPUTE_PENDING, explain_late_fee, statement
from actions.common import (
    LAST4_RE,
    billing,
    channel_of,
    latest_intent,
    latest_text,
    latest_user_event,
    mentioned_account,
    yuan,
)
from actions.identity import ValidateIdentityForm, verified_account
from billing_client.client import BillingError
from bot.handoff import queue
from bot.redis_client import get_redis
from bot.settings import city, get_settings, redis_keys
from heatdesk_contract.masking import mask_name, mask_text
from heatdesk_contract.owner import AGENT, Owner
from heatdesk_contract.streams import TicketRequest

logger = logging.getLogger(__name__)
#: A person takes over: a half-done identity check ends, so the next question after the
#: handoff is answered instead of being read as a 户号.
ENDS_FORM = (ActiveLoop(None), SlotSet("requested_slot", None))

LAST_MESSAGES = 8
REPAIR_INTENTS = ("report_leak", "report_not_warm")
DISPUTE_CATEGORY = "dispute_late_fee"  # shown as 滞纳金异议 in the console
TEMPERATURE_RE = re.compile(r"(\d{1,2}(?:\.\d)?)\s*(?:度|℃|°)")


def urgent_cold(text: str) -> bool:
    """A not-warm report that cannot wait: below the city's threshold, or someone vulnerable."""
    rule = city().get("urgent_cold") or {}
    below = float(rule.get("below_c", 14))
    if any(float(found) < below for found in TEMPERATURE_RE.findall(text or "")):
        return True
    return any(word in (text or "") for word in rule.get("vulnerable_words") or [])


def trigger_of(tracker: Tracker) -> Dict[str, Any]:
    """The policy's trigger, or (when a rule fired) the latest intent as the trigger."""
    trigger = tracker.get_slot("handoff_trigger")
    if isinstance(trigger, dict) and trigger.get("kind"):
        return trigger
    message = tracker.latest_message or {}
    emotion = message.get("emotion") or {}
    return {
        "kind": "intent",
        "name": latest_intent(tracker),
        "confidence": float((message.get("intent") or {}).get("confidence") or 0.0),
        "text": message.get("text") or "",
        "intent": latest_intent(tracker),
        "emotion": emotion.get("name", "neutral"),
        "emotion_confidence": float(emotion.get("confidence") or 0.0),
    }


def is_dispute(trigger: Dict[str, Any]) -> bool:
    """An objection to a late fee, or an angry question about one ("凭啥…就开始算我滞纳金？")."""
    intent = trigger.get("intent")
    return intent == DISPUTE_CATEGORY or (intent == "ask_late_fee" and trigger.get("emotion") == "angry")


def priority_of(trigger: Dict[str, Any], credit_case: bool) -> str:
    """leak or urgent cold → urgent; angry with a 征信 case or an angry complaint → high; else normal."""
    if trigger.get("intent") == "report_leak":
        return "urgent"
    if trigger.get("intent") == "report_not_warm" and urgent_cold(str(trigger.get("text", ""))):
        return "urgent"
    angry = trigger.get("emotion") == "angry"
    if angry and (credit_case or trigger.get("intent") == "complain"):
        return "high"
    return "normal"


def transcript_tail(tracker: Tracker, limit: int = LAST_MESSAGES) -> List[Dict[str, str]]:
    """The last user and bot messages, phone numbers masked."""
    lines: List[Dict[str, str]] = []
    for event in tracker.events:
        if event.get("event") in ("user", "bot") and event.get("text"):
            lines.append(
                {
                    "sender": "user" if event["event"] == "user" else "bot",
                    "text": mask_text(str(event["text"])),
                    "ts": dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc).isoformat(),
                }
            )
    return lines[-limit:]


class ActionHandoff(Action):
    """Creates the ticket request, hands ownership to the agents and tells the resident."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        redis = get_redis()
        conversation_id = tracker.sender_id
        trigger = trigger_of(tracker)
        intent = str(trigger.get("intent") or "")
        verified_events = await self._verify_inline(dispatcher, tracker, intent)
        verified = next((e["value"] for e in verified_events if e.get("name") == "verified_account"), None)
        try:
            existing = Owner.from_fields(await redis.hgetall(redis_keys().owner(conversation_id)))
            if existing.is_agent:
                dispatcher.utter_message(response="utter_handoff_existing", ticket_no=existing.ticket_no)
                return [SlotSet("handoff_trigger", None), *ENDS_FORM]

            summary, credit_case = await self._summary(tracker, trigger, verified)
            now = dt.datetime.now(dt.timezone.utc)
            day = get_settings().today().strftime("%Y%m%d")
            seq = await redis.incr(redis_keys().ticket_seq(day))
            ticket_no = f"GD{day}{seq:04d}"
            user_event = latest_user_event(tracker)
            idempotency = hashlib.sha256(
                f"{conversation_id}\x00{user_event.get('message_id') or user_event.get('timestamp')}".encode()
            ).hexdigest()
            priority = priority_of(trigger, credit_case)
            disputed = bool(tracker.get_slot(DISPUTE_PENDING)) or is_dispute(trigger)
            category = DISPUTE_CATEGORY if disputed else intent or "request_human"
            request = TicketRequest(
                idempotency_key=idempotency,
                ticket_no=ticket_no,
                conversation_id=conversation_id,
                channel=channel_of(tracker),
                account_no=summary.get("account_no") or None,
                # The console fetches live bills only for an account verified in this session.
                account_verified=bool(summary.get("verified")),
                category=category,
                priority=priority,
                trigger_kind=str(trigger.get("kind", "")),
                trigger_name=str(trigger.get("name", "")),
                trigger_confidence=float(trigger.get("confidence") or 0.0),
                trigger_text=mask_text(str(trigger.get("text", ""))),
                summary=summary,
                created_at=now,
            )
            owned = Owner(AGENT, ticket_no, ticket_key=idempotency, channel=request.channel)
            pipe = redis.pipeline(transaction=True)
            pipe.xadd(redis_keys().tickets_stream(), request.to_fields())
            pipe.hset(redis_keys().owner(conversation_id), mapping=owned.to_fields())
            pipe.zadd(redis_keys().queue(), {ticket_no: queue.score_for(city(), priority, now)})
            pipe.zrank(redis_keys().queue(), ticket_no)
            results = await pipe.execute()
            position = int(results[-1] or 0) + 1
            on_duty = await queue.agents_on_duty(redis)
        except RedisError as error:
            logger.error("Handoff failed, Redis unreachable: %s", error)
            dispatcher.utter_message(response="utter_handoff_unavailable", hotline=city().get("hotline", ""))
            return verified_events + [SlotSet("handoff_trigger", None)]

        logger.info("Ticket %s (%s, %s) for %s", ticket_no, category, priority, request.channel)
        events: List[EventType] = verified_events + [
            SlotSet("ticket_no", ticket_no),
            SlotSet("handoff_trigger", None),
            SlotSet("queue_position", float(position)),
            SlotSet(DISPUTE_PENDING, None),
            *ENDS_FORM,
        ]
        if intent in REPAIR_INTENTS:
            events += self._repair(dispatcher, intent, priority, ticket_no, position, summary)
        else:
            if is_dispute(trigger) and not tracker.get_slot(DISPUTE_PENDING):
                # An angry "凭啥…滞纳金": the due date and their own arithmetic before the ticket.
                await explain_late_fee(dispatcher, tracker, domain)
            dispatcher.utter_message(response="utter_handoff", ticket_no=ticket_no, position=position)
        if not on_duty:
            utter_no_agent(dispatcher)
        return events

    def _repair(
        self,
        dispatcher: CollectingDispatcher,
        intent: str,
        priority: str,
        ticket_no: str,
        position: int,
        summary: Dict[str, Any],
    ) -> List[EventType]:
        """Hotline and safety first in an emergency, then where to go and whom to call."""
        kind = "leak" if intent == "report_leak" else "cold" if priority == "urgent" else "repair"
        utter_safety(dispatcher, kind)
        if priority == "urgent":
            dispatcher.utter_message(response="utter_emergency_ticket", ticket_no=ticket_no, position=position)
        else:
            dispatcher.utter_message(response="utter_repair_ticket", ticket_no=ticket_no, position=position)
        kept: List[EventType] = [SlotSet("repair_kind", kind)]
        if summary.get("address"):
            dispatcher.utter_message(response="utter_repair_address_known", address=summary["address"])
            return kept + [SlotSet("repair_step", "phone")]
        dispatcher.utter_message(response="utter_ask_repair_address")
        return kept + [SlotSet("repair_step", "address")]

    async def _verify_inline(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, intent: str
    ) -> List[EventType]:
        """"户号… 尾号… 暖气不热": check the identity on the way, so the ticket has the address."""
        if intent not in REPAIR_INTENTS or tracker.get_slot("verified_account"):
            return []
        account_no = mentioned_account(tracker)
        if not account_no:
            return []
        tail = LAST4_RE.search(latest_text(tracker).replace(account_no, " "))
        if tail is None:
            return [SlotSet("account_no", account_no)]
        result = await ValidateIdentityForm()._check(account_no, tail.group(1), dispatcher, tracker)
        return [SlotSet(name, value) for name, value in result.items()]

    async def _summary(self, tracker: Tracker, trigger: Dict[str, Any], verified: Optional[str] = None) -> tuple:
        """What the bot already knows, for the agent: account, bills, last messages, trigger."""
        account_no: Optional[str] = verified or await verified_account(tracker)
        summary: Dict[str, Any] = {
            "account_no": account_no or tracker.get_slot("account_no") or "",
            "verified": bool(account_no),
            "address": tracker.get_slot("address") or "",
            "intent": trigger.get("intent", ""),
            "emotion": {"name": trigger.get("emotion", "neutral"), "confidence": trigger.get("emotion_confidence", 0.0)},
            "trigger": {k: trigger.get(k) for k in ("kind", "name", "confidence")},
            "last_messages": transcript_tail(tracker),
            "bills": [],
        }
        if summary["account_no"] == "-":
            summary["account_no"] = ""
        credit_case = False
        if account_no:
            try:
                account = await billing().get_account(account_no)
            except BillingError as error:
                logger.error("Billing unavailable for a ticket summary: %s", type(error).__name__)
            else:
                summary.update(holder_masked=mask_name(account.holder), address=account.address, district=account.district)
                for bill, result in statement(account):
                    credit_case = credit_case or result.credit_warning
                    summary["bills"].append(
                        {
                            "season": bill.season,
                            "principal": yuan(bill.principal),
                            "paid": yuan(result.paid),
                            "unpaid": yuan(result.unpaid_principal),
                            "late_fee": yuan(result.late_fee),
                            "overdue_days": result.overdue_days,
                            "credit_warning": result.credit_warning,
                        }
                    )
        return summary, credit_case


def utter_no_agent(dispatcher: CollectingDispatcher) -> None:
    """Nobody at the console (night, holiday): say so, when they will answer, and the hotline."""
    facts = city()
    handoff = facts.get("handoff") or {}
    dispatcher.utter_message(
        response="utter_no_agent_on_duty",
        hours=handoff.get("service_hours_text", ""),
        callback=handoff.get("callback_text", ""),
        hotline=facts.get("hotline", ""),
    )


def utter_safety(dispatcher: CollectingDispatcher, kind: str) -> None:
    """What to do now: for a leak, for someone vulnerable in the cold, or for a plain cold room."""
    facts = city()
    if kind == "leak":
        dispatcher.utter_message(
            response="utter_leak_safety", hotline=facts.get("hotline", ""), minutes=facts["sla"]["burst_pipe_minutes"]
        )
    elif kind == "cold":
        dispatcher.utter_message(
            response="utter_cold_safety", hotline=facts.get("hotline", ""), minutes=facts["sla"]["urgent_minutes"]
        )
    else:
        temperature = facts["room_temperature"]
        dispatcher.utter_message(
            response="utter_not_warm", minimum=temperature["minimum_c"],
            target=temperature["bedroom_target_c"], measurement=temperature["measurement_note"],
        )
