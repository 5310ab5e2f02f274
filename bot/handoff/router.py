"""The handoff router: every connector asks it before Rasa sees a message.

One owner per conversation lives in Redis (`heatdesk:owner:{id}`): absent or
`bot` → Rasa answers; `agent` → the message goes to the ticket on the tickets
stream and is still given to Rasa, flagged so that `HandoffPolicy` predicts
`action_while_queued` (the bot acknowledges and answers what it can while the
resident waits); what the bot says then is copied onto the ticket as well, so
the agent sees the whole exchange. Right after a resolve, the next message may be the
resident's rating of the service (`bot.csat`): it is settled here, once for every channel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from zoneinfo import ZoneInfo

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from bot import csat, messages
from bot.handoff.policy import OWNER_METADATA_KEY
from bot.redis_client import get_redis, pipelined
from bot.settings import get_settings, redis_keys
from heatdesk_contract.keys import optout_member
from heatdesk_contract.owner import AGENT, BOT, Owner
from heatdesk_contract.streams import SENDER_BOT, SENDER_USER, TicketUserMessage

logger = logging.getLogger(__name__)
#: How long the daily distinct-conversation counters are kept (the console's handoff rate).
CONVERSATION_COUNT_SECONDS = 400 * 24 * 3600

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

OPT_OUT = "退订"
OPT_IN = "恢复提醒"
WECHAT_WINDOW_SECONDS = 48 * 3600


class TicketCopy(OutputChannel):
    """Passes every bot message on to the resident's channel and keeps its text for the ticket."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.texts: List[str] = []

    def name(self) -> str:  # type: ignore[override]  # responses may vary by the real channel
        return self.inner.name()

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        if message.get("text"):
            self.texts.append(str(message["text"]))
        await self.inner.send_response(recipient_id, message)


class HandoffRouter:
    """Routes user messages to the bot or to the ticket of the agent who owns them."""

    def __init__(self, redis: Optional[Redis] = None) -> None:
        self._redis = redis

    @property
    def redis(self) -> Redis:
        return self._redis or get_redis()

    async def owner(self, conversation_id: str) -> Owner:
        return Owner.from_fields(await self.redis.hgetall(redis_keys().owner(conversation_id)))

    async def route(self, message: UserMessage, on_new_message: OnNewMessage) -> Owner:
        """Hands `message` to its owner; returns who that was."""
        if await self._reminder_preference(message):
            return Owner(BOT)
        rating_for: Optional[str] = None
        try:
            owner, rating_for = await self._owner_and_count(message.sender_id)
        except RedisError:
            # Without Redis we cannot tell; the bot answering beats silence.
            logger.error("Redis unreachable: routing %s to the bot", message.sender_id)
            owner = Owner(BOT)
        if rating_for and await csat.settle(self.redis, message, rating_for, owner):
            return owner
        copy: Optional[TicketCopy] = None
        if owner.is_agent:
            await self._forward_to_ticket(message, owner)
            message.metadata = {
                **(message.metadata or {}),
                OWNER_METADATA_KEY: AGENT,
                "ticket_no": owner.ticket_no,
            }
            if message.output_channel is not None:
                copy = TicketCopy(message.output_channel)
                message.output_channel = copy
        await on_new_message(message)
        if copy is not None and copy.texts:
            try:
                await self._forward_bot_replies(message, owner, copy.texts)
            except RedisError:
                logger.error("Redis unreachable: bot replies of %s not copied to ticket %s",
                             message.sender_id, owner.ticket_no)
        return owner

    async def _reminder_preference(self, message: UserMessage) -> bool:
        """退订 / 恢复提醒 stop and restart reminders for this channel address, in any channel and
        whoever owns the conversation; also notes WeChat activity (the 48-hour service window)."""
        channel = message.input_channel or ""
        address = (message.sender_id or "").removeprefix(f"{channel}:")
        command = (message.text or "").strip()
        try:
            if channel == "wechat":
                await self.redis.set(redis_keys().wechat_last_seen(address), "1", ex=WECHAT_WINDOW_SECONDS)
            if command == OPT_OUT:
                await self.redis.sadd(redis_keys().reminder_optouts(), optout_member(channel, address))
                reply = messages.REMINDERS_STOPPED
            elif command == OPT_IN:
                await self.redis.srem(redis_keys().reminder_optouts(), optout_member(channel, address))
                reply = messages.REMINDERS_RESUMED
            else:
                return False
        except RedisError:
            logger.error("Redis unreachable: reminder preference of %s not recorded", message.sender_id)
            return False
        await message.output_channel.send_text_message(message.sender_id, reply)
        return True

    async def _owner_and_count(self, conversation_id: str) -> Tuple[Owner, Optional[str]]:
        """The owner and the ticket awaiting a rating (if any), and the conversation counted for
        today's handoff rate: one round trip.

        Every message of every channel passes here, so four Redis calls in a row would add three
        round trips to each turn.
        """
        day = dt.datetime.now(ZoneInfo(get_settings().timezone)).strftime("%Y%m%d")
        counter = redis_keys().conversations_of_day(day)

        def queue(pipe: Pipeline) -> None:
            pipe.hgetall(redis_keys().owner(conversation_id))
            pipe.pfadd(counter, conversation_id)
            pipe.expire(counter, CONVERSATION_COUNT_SECONDS)
            pipe.get(redis_keys().csat_pending(conversation_id))

        data, _, _, rating_for = await pipelined(self.redis, queue)
        return Owner.from_fields(data), rating_for

    async def _forward_to_ticket(self, message: UserMessage, owner: Owner) -> None:
        await self._add_to_ticket(message, owner, message.text or "", SENDER_USER, "")

    async def _forward_bot_replies(self, message: UserMessage, owner: Owner, texts: List[str]) -> None:
        for index, text in enumerate(texts):
            await self._add_to_ticket(message, owner, text, SENDER_BOT, f"\x00bot{index}")

    async def _add_to_ticket(self, message: UserMessage, owner: Owner, text: str, sender: str, suffix: str) -> None:
        idempotency = hashlib.sha256(
            f"{message.sender_id}\x00{message.message_id}{suffix}".encode()
        ).hexdigest()
        entry = TicketUserMessage(
            idempotency_key=idempotency,
            ticket_no=owner.ticket_no,
            ticket_key=owner.ticket_key,
            conversation_id=message.sender_id,
            channel=message.input_channel or "",
            sender=sender,
            text=text,
        )
        await self.redis.xadd(redis_keys().tickets_stream(), entry.to_fields())
