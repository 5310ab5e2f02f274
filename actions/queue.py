"""The bot keeps a queued resident company (issue 11): no message goes unanswered while waiting.

`HandoffPolicy` predicts this action for every message while an agent owns the conversation
(the router flags them). It acknowledges the message once, says the current place in the queue
(the console's order, see `bot.handoff.queue`), answers what the bot can answer (prices, dates,
the balance — introduced as the bot's answer), collects the address and callback phone of a
repair ticket, and understands "取消转人工" (the quick reply under every acknowledgement), which
withdraws the ticket and gives the conversation back to the bot. The router copies everything
said here onto the ticket, so the agent sees it.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.billing import ActionBillingQuery
from actions.common import MONEY_INTENTS, channel_of, latest_intent, latest_text, mentioned_account
from actions.handoff import utter_no_agent, utter_safety
from actions.info import ANSWERS
from bot.handoff import queue
from bot.redis_client import get_redis
from bot.settings import city, redis_keys
from heatdesk_contract.masking import mask_phone
from heatdesk_contract.owner import Owner
from heatdesk_contract.streams import TicketDetails, TicketWithdrawn

logger = logging.getLogger(__name__)

# The quick reply's text and what residents type instead. Matched on the text, not as an
# intent: intent names are a contract, and this only means something while queued.
CANCEL_RE = re.compile(r"取消转人工|取消人工|(不用|不要|不需要|不转)(转)?人工")
PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
ADDRESS_RE = re.compile(r"(小区|号楼|单元|栋|号院|路|街|大道|村|室|\d+-\d+-\d+)")
VALVE_RE = re.compile(r"阀门|阀")
WHAT_NOW_RE = re.compile(r"咋办|怎么办|怎么弄|咋弄|该干啥|能做点啥")
WAITING_RE = re.compile(r"什么时候|啥时候|多久|有人|人呢|几点")
WHEN_RE = re.compile(r"(啥时候|什么时候|多久|几点|多长时间|怎么还不).{0,6}(来|到|修|联系)|来人")
BILLING_INTENTS = MONEY_INTENTS
# Intents the bot answers from the city file while queued (repairs are answered as a ticket).
FAQ_INTENTS = tuple(name for name in ANSWERS if name not in ("report_not_warm", "chase_repair"))
REPAIR_FOLLOW_UPS = ("chase_repair", "report_leak", "report_not_warm")


class ActionWhileQueued(Action):
    """One reply to every message of a resident waiting for (or talking to) an agent."""

    def name(self) -> Text:
        return "action_while_queued"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        redis = get_redis()
        conversation_id = tracker.sender_id
        text = latest_text(tracker)
        intent = latest_intent(tracker)
        try:
            owner = Owner.from_fields(await redis.hgetall(redis_keys().owner(conversation_id)))
            ticket_no = owner.ticket_no or tracker.get_slot("ticket_no") or ""
            agent = owner.agent
            if CANCEL_RE.search(text):
                return await self._cancel(dispatcher, redis, tracker, ticket_no)
            position = await queue.position(redis, ticket_no) if ticket_no and not agent else None
            on_duty = await queue.agents_on_duty(redis)
        except RedisError as error:
            logger.error("Queue state unavailable: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_handoff_unavailable", hotline=city().get("hotline", ""))
            return []

        events: List[EventType] = []
        step = tracker.get_slot("repair_step")
        collected = await self._collect(dispatcher, redis, tracker, step, ticket_no, text)
        if collected is not None:
            return collected

        # A bare "inform" is for the agent (an ID number, a phone) unless it names a 户号.
        billing = intent in BILLING_INTENTS or (
            intent == "inform" and mentioned_account(tracker) is not None
        )
        answers_follow = intent in FAQ_INTENTS or billing or self._repair_question(step, intent, text)
        self._acknowledge(dispatcher, agent, ticket_no, position, answers_follow)
        if position is not None:
            events.append(SlotSet("queue_position", float(position)))
        if not on_duty and WAITING_RE.search(text):
            utter_no_agent(dispatcher)

        if self._repair_question(step, intent, text):
            events += self._answer_repair(dispatcher, tracker, ticket_no, text)
        elif intent in FAQ_INTENTS:
            response, fill = ANSWERS[intent]
            dispatcher.utter_message(response=response, **fill(city()))
        elif billing:
            events += await ActionBillingQuery().run(dispatcher, tracker, domain)
        return events

    @staticmethod
    def _acknowledge(
        dispatcher: CollectingDispatcher, agent: str, ticket_no: str, position: Optional[int], answer_follows: bool
    ) -> None:
        if agent:
            name = "utter_assigned_ack_answer" if answer_follows else "utter_assigned_ack"
            dispatcher.utter_message(response=name, agent=agent)
        else:
            name = "utter_queued_ack_answer" if answer_follows else "utter_queued_ack"
            dispatcher.utter_message(response=name, ticket_no=ticket_no, position=position or 1)

    @staticmethod
    def _repair_question(step: Optional[str], intent: str, text: str) -> bool:
        """Questions about the repair itself: when they come, where the valve is."""
        if intent in REPAIR_FOLLOW_UPS:
            return True
        return bool(step is not None and (VALVE_RE.search(text) or WHEN_RE.search(text) or WHAT_NOW_RE.search(text)))

    @staticmethod
    def _answer_repair(
        dispatcher: CollectingDispatcher, tracker: Tracker, ticket_no: str, text: str
    ) -> List[EventType]:
        facts = city()
        if VALVE_RE.search(text):
            dispatcher.utter_message(response="utter_valve_help")
            return []
        if WHAT_NOW_RE.search(text):
            # "那我现在咋办": the safety steps of this very situation again.
            utter_safety(dispatcher, tracker.get_slot("repair_kind") or "")
            return []
        dispatcher.utter_message(
            response="utter_repair_eta",
            ticket_no=ticket_no,
            minutes=facts["sla"]["burst_pipe_minutes"],
            hotline=facts.get("hotline", ""),
        )
        return []

    async def _collect(
        self,
        dispatcher: CollectingDispatcher,
        redis: Any,
        tracker: Tracker,
        step: Optional[str],
        ticket_no: str,
        text: str,
    ) -> Optional[List[EventType]]:
        """The address, then the callback phone of a repair ticket; None when the message is neither."""
        if step == "address" and ADDRESS_RE.search(text) and "?" not in text and "？" not in text:
            address = text.strip()[:200]
            await self._details(redis, tracker, ticket_no, address=address)
            dispatcher.utter_message(response="utter_repair_address_noted", ticket_no=ticket_no, address=address)
            return [SlotSet("address", address), SlotSet("repair_step", "phone")]
        phone = PHONE_RE.search(text)
        if step in ("address", "phone") and phone:
            await self._details(redis, tracker, ticket_no, callback_phone=phone.group(1))
            dispatcher.utter_message(
                response="utter_callback_phone_noted", ticket_no=ticket_no, phone=mask_phone(phone.group(1))
            )
            return [SlotSet("repair_step", "done")]
        return None

    @staticmethod
    async def _details(redis: Any, tracker: Tracker, ticket_no: str, **fields: str) -> None:
        """Adds what the resident told to the ticket (the console merges it into the summary)."""
        entry = TicketDetails(ticket_no, tracker.sender_id, channel_of(tracker), **fields)
        await redis.xadd(redis_keys().tickets_stream(), entry.to_fields())

    @staticmethod
    async def _cancel(
        dispatcher: CollectingDispatcher, redis: Any, tracker: Tracker, ticket_no: str
    ) -> List[EventType]:
        """Withdraws the ticket: the bot owns the conversation again at once, the console closes it."""
        await queue.cancel(redis, tracker.sender_id, ticket_no)
        withdrawn = TicketWithdrawn(ticket_no, tracker.sender_id, latest_text(tracker))
        await redis.xadd(redis_keys().tickets_stream(), withdrawn.to_fields())
        dispatcher.utter_message(response="utter_handoff_cancelled", ticket_no=ticket_no)
        return [
            SlotSet("ticket_no", None),
            SlotSet("repair_step", None),
            SlotSet("repair_kind", None),
            SlotSet("queue_position", None),
            SlotSet("dispute_pending", None),
        ]
