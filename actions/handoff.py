"""Hand the conversation to a human agent with a ticket (DESIGN.md, "One owner per conversation").

The trigger was decided by `bot.handoff.policy.HandoffPolicy` and stored in the
`handoff_trigger` slot. This action numbers the ticket, puts the request on the
tickets stream (the console persists it), makes the agent the owner, queues the
ticket and tells the resident, in one message, the ticket number and their place
in the queue. All of it happens in one Redis transaction, so a ticket request is
never made without the owner switch or the other way round.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.billing import statement
from actions.common import billing, channel_of, latest_intent, latest_user_event, yuan
from actions.identity import verified_account
from billing_client.client import BillingError
from bot import keys
from bot.masking import mask_name, mask_text
from bot.redis_client import get_redis
from bot.settings import city, get_settings

logger = logging.getLogger(__name__)
#: A person takes over: a half-done identity check ends, so the next question after the
#: handoff is answered instead of being read as a 户号.
ENDS_FORM = (ActiveLoop(None), SlotSet("requested_slot", None))

LAST_MESSAGES = 8


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


def priority_of(trigger: Dict[str, Any], credit_case: bool) -> str:
    """leak → urgent; angry with a 征信 case or an angry complaint → high; else normal."""
    if trigger.get("intent") == "report_leak":
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
        try:
            existing = await redis.hgetall(keys.owner(conversation_id))
            if existing.get("owner") == "agent":
                dispatcher.utter_message(response="utter_handoff_existing", ticket_no=existing.get("ticket_no", ""))
                return [SlotSet("handoff_trigger", None), *ENDS_FORM, ConversationPaused()]

            summary, credit_case = await self._summary(tracker, trigger)
            now = dt.datetime.now(dt.timezone.utc)
            day = get_settings().today().strftime("%Y%m%d")
            seq = await redis.incr(keys.ticket_seq(day))
            ticket_no = f"GD{day}{seq:04d}"
            user_event = latest_user_event(tracker)
            idempotency = hashlib.sha256(
                f"{conversation_id}\x00{user_event.get('message_id') or user_event.get('timestamp')}".encode()
            ).hexdigest()
            request = {
                "type": "ticket.request",
                "idempotency_key": idempotency,
                "ticket_no": ticket_no,
                "conversation_id": conversation_id,
                "channel": channel_of(tracker),
                "account_no": summary.get("account_no") or "",
                # The console fetches live bills only for an account verified in this session.
                "account_verified": "1" if summary.get("verified") else "0",
                "category": trigger.get("intent") or "request_human",
                "priority": priority_of(trigger, credit_case),
                "trigger_kind": str(trigger.get("kind", "")),
                "trigger_name": str(trigger.get("name", "")),
                "trigger_confidence": f"{float(trigger.get('confidence') or 0.0):.4f}",
                "trigger_text": mask_text(str(trigger.get("text", ""))),
                "summary": json.dumps(summary, ensure_ascii=False),
                "created_at": now.isoformat(),
            }
            pipe = redis.pipeline(transaction=True)
            pipe.xadd(keys.tickets_stream(), request)
            pipe.hset(
                keys.owner(conversation_id),
                mapping={"owner": "agent", "ticket_no": ticket_no, "channel": request["channel"], "agent": "",
                         "ticket_key": idempotency},
            )
            pipe.zadd(keys.queue(), {ticket_no: now.timestamp()})
            pipe.zrank(keys.queue(), ticket_no)
            results = await pipe.execute()
            position = int(results[-1] or 0) + 1
        except RedisError as error:
            logger.error("Handoff failed, Redis unreachable: %s", error)
            dispatcher.utter_message(response="utter_handoff_unavailable", hotline=city().get("hotline", ""))
            return [SlotSet("handoff_trigger", None)]

        logger.info("Ticket %s (%s, %s) for %s", ticket_no, request["category"], request["priority"], request["channel"])
        if trigger.get("intent") == "report_leak":
            dispatcher.utter_message(response="utter_leak_safety", minutes=city()["sla"]["burst_pipe_minutes"])
        dispatcher.utter_message(response="utter_handoff", ticket_no=ticket_no, position=position)
        return [SlotSet("ticket_no", ticket_no), SlotSet("handoff_trigger", None), *ENDS_FORM, ConversationPaused()]

    async def _summary(self, tracker: Tracker, trigger: Dict[str, Any]) -> tuple:
        """What the bot already knows, for the agent: account, bills, last messages, trigger."""
        account_no: Optional[str] = await verified_account(tracker)
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
