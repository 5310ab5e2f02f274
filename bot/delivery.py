"""Delivers console messages (agent replies, resolve notices) to users on their own channel.

The console writes to the outbox stream; every Rasa process runs one worker in
the consumer group `delivery`, so whichever process reads an entry can deliver
it: each channel registers a deliverer (REST → inbox list, widget → socket.io
through the Redis manager, WeChat → customer-service API). The worker also
records the message on the tracker so the transcript is whole, and on resolve
resumes the conversation, greets the user again and asks them to rate the service
(`bot.csat`: the question goes through the same deliverers as a `CsatQuestion`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any, Awaitable, Callable, Dict, Optional, Union

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationResumed
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot import messages
from bot.csat import CsatQuestion, begin as begin_csat, cancel as cancel_csat
from bot.redis_client import get_redis
from bot.settings import redis_keys
from heatdesk_contract.streams import (
    DELIVERY_GROUP,
    AgentMessage,
    DeliveryConfirmed,
    DeliveryFailed,
    MalformedEntry,
    OutboxEntry,
    TicketRenumbered,
    TicketResolved,
    UnknownEntry,
    parse_outbox_entry,
)

logger = logging.getLogger(__name__)

RESOLVED_RESPONSE = "utter_handoff_resolved"

#: What a channel delivers: the console's outbox entries and the bot's own satisfaction question.
Deliverable = Union[OutboxEntry, CsatQuestion]
#: (conversation id, text, the entry) → delivered, or raises DeliveryRejected.
Deliverer = Callable[[str, str, Deliverable], Awaitable[None]]
_deliverers: Dict[str, Deliverer] = {}
_workers: Dict[int, "asyncio.Task[None]"] = {}


class DeliveryRejected(Exception):
    """The channel refused the message (e.g. WeChat's 48-hour window); the agent is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def register_deliverer(channel: str, deliverer: Deliverer) -> None:
    """Called by each connector when its blueprint is built."""
    _deliverers[channel] = deliverer


def deliverer_for(channel: str) -> Optional[Deliverer]:
    return _deliverers.get(channel)


def start_worker(agent: Any) -> None:
    """Starts this process's worker once (every connector calls it after server start)."""
    loop = asyncio.get_running_loop()
    if id(loop) in _workers and not _workers[id(loop)].done():
        return
    worker = DeliveryWorker(agent, get_redis())
    _workers[id(loop)] = loop.create_task(worker.run())


class DeliveryWorker:
    """Consumes the outbox stream and hands each entry to the user's channel."""

    def __init__(self, agent: Any, redis: Redis, block_ms: int = 2000) -> None:
        self.agent = agent
        self.redis = redis
        self.block_ms = block_ms
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(redis_keys().outbox_stream(), DELIVERY_GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def run(self) -> None:
        while True:
            try:
                await self._ensure_group()
                await self._claim_stale()
                await self._own_pending()
                while True:
                    batches = await self.redis.xreadgroup(
                        DELIVERY_GROUP, self.consumer, {redis_keys().outbox_stream(): ">"},
                        count=20, block=self.block_ms,
                    )
                    for _stream, entries in batches or []:
                        for entry_id, fields in entries:
                            await self._handle(entry_id, fields)
            except asyncio.CancelledError:
                raise
            except RedisError as error:
                logger.error("Delivery worker lost Redis (%s); retrying in 2 s", error)
                await asyncio.sleep(2)

    async def _own_pending(self) -> None:
        """Entries this worker read but did not finish when Redis failed under it: at once, not
        after the 30 s a dead process's entries wait for `_claim_stale`."""
        batches = await self.redis.xreadgroup(
            DELIVERY_GROUP, self.consumer, {redis_keys().outbox_stream(): "0"}, count=100
        )
        for _stream, entries in batches or []:
            for entry_id, fields in entries:
                if fields:
                    await self._handle(entry_id, fields)
                else:  # trimmed meanwhile: nothing left to deliver
                    await self.redis.xack(redis_keys().outbox_stream(), DELIVERY_GROUP, entry_id)

    async def _claim_stale(self) -> None:
        """Takes over entries a dead process read but never acknowledged."""
        result = await self.redis.xautoclaim(
            redis_keys().outbox_stream(), DELIVERY_GROUP, self.consumer, min_idle_time=30_000, start_id="0-0", count=100
        )
        for entry_id, fields in result[1] if len(result) > 1 else []:
            if fields:
                await self._handle(entry_id, fields)

    async def _handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        entry: Union[OutboxEntry, UnknownEntry, Dict[str, str]] = fields
        try:
            entry = parse_outbox_entry(fields, entry_id)
            if isinstance(entry, AgentMessage):
                await self._agent_message(entry)
                await self._confirm(entry)
            elif isinstance(entry, TicketRenumbered):
                await self._renumbered(entry)
            elif isinstance(entry, TicketResolved):
                await self._resolved(entry)
            else:
                logger.warning("Ignoring outbox entry %s of unknown type %r", entry_id, entry.type)
        except MalformedEntry as malformed:
            logger.error("Malformed outbox entry %s: %s", entry_id, malformed)
            await self._report_failure(entry_id, entry, f"malformed entry: {malformed}")
        except DeliveryRejected as rejected:
            await self._report_failure(entry_id, entry, rejected.reason)
        except RedisError:
            raise
        except Exception:  # noqa: BLE001 - one bad entry must not stop delivery for everyone
            logger.exception("Could not deliver outbox entry %s", entry_id)
            await self._report_failure(entry_id, entry, "delivery error")
        await self.redis.xack(redis_keys().outbox_stream(), DELIVERY_GROUP, entry_id)

    async def _deliver(self, entry: Deliverable, text: str) -> None:
        deliverer = deliverer_for(entry.channel)
        if deliverer is None:
            raise DeliveryRejected(f"no deliverer for channel {entry.channel!r} in this process")
        await deliverer(entry.conversation_id, text, entry)

    async def _agent_message(self, entry: AgentMessage) -> None:
        """Delivers once per message id: the console re-sends what no channel confirmed."""
        if entry.message_id and await self._on_tracker(entry.conversation_id, entry.message_id):
            logger.info("Outbox message %s was already delivered; confirming again", entry.message_id)
            return
        await self._deliver(entry, entry.text)
        await self._record(
            entry.conversation_id,
            BotUttered(
                entry.text,
                metadata={"agent": entry.agent_name, "ticket_no": entry.ticket_no, "message_id": entry.message_id},
            ),
        )

    async def _on_tracker(self, conversation_id: str, message_id: str) -> bool:
        """Whether the tracker already has this console message (the resident has it)."""
        tracker = await self.agent.processor.get_tracker(conversation_id)
        return any(
            isinstance(event, BotUttered) and (event.metadata or {}).get("message_id") == message_id
            for event in tracker.events
        )

    async def _renumbered(self, entry: TicketRenumbered) -> None:
        """The console gave the handoff another number: the resident learns the final one."""
        if entry.message_id and await self._on_tracker(entry.conversation_id, entry.message_id):
            return
        text = messages.TICKET_RENUMBERED.format(ticket_no=entry.ticket_no, previous_no=entry.previous_no)
        await self._deliver(entry, text)
        await self._record(
            entry.conversation_id,
            BotUttered(text, metadata={"ticket_no": entry.ticket_no, "message_id": entry.message_id}),
        )

    async def _confirm(self, entry: AgentMessage) -> None:
        """Tells the console the agent's message reached the resident's channel (`delivered`)."""
        confirmed = DeliveryConfirmed(entry.ticket_no, entry.conversation_id, entry.message_id)
        await self.redis.xadd(redis_keys().tickets_stream(), confirmed.to_fields())

    async def _resolved(self, entry: TicketResolved) -> None:
        text = self._response_text(RESOLVED_RESPONSE)
        # The bot listens again: rules expect an action_listen before the next user turn.
        await self._record(
            entry.conversation_id,
            ConversationResumed(),
            ActionExecuted(RESOLVED_RESPONSE),
            BotUttered(text),
            ActionExecuted(ACTION_LISTEN_NAME),
        )
        await self._deliver(entry, text)
        await self._ask_csat(entry)

    async def _ask_csat(self, entry: TicketResolved) -> None:
        """The rating question after the resolve notice; a channel that refuses it costs nothing
        but the rating (the resident's next "1" is then ordinary text)."""
        question = await begin_csat(self.redis, entry)
        if question is None:
            return
        try:
            await self._deliver(question, question.text)
        except RedisError:
            raise
        except DeliveryRejected as rejected:
            logger.info("CSAT question for %s not delivered: %s", entry.ticket_no, rejected.reason)
            await cancel_csat(self.redis, question)
            return
        except Exception:  # noqa: BLE001 - the resolve notice went out; only the rating is lost
            logger.exception("CSAT question for %s not delivered", entry.ticket_no)
            await cancel_csat(self.redis, question)
            return
        await self._record(
            entry.conversation_id,
            BotUttered(question.text, data={"buttons": question.buttons}, metadata={"ticket_no": entry.ticket_no}),
        )

    def _response_text(self, name: str) -> str:
        responses = self.agent.domain.responses.get(name) or [{}]
        return str(responses[0].get("text", ""))

    async def _record(self, conversation_id: str, *events: Any) -> None:
        processor = self.agent.processor
        async with self.agent.lock_store.lock(conversation_id):
            tracker = await processor.get_tracker(conversation_id)
            for event in events:
                tracker.update(event)
            await processor.save_tracker(tracker)

    async def _report_failure(
        self, entry_id: str, entry: Union[OutboxEntry, UnknownEntry, Dict[str, str]], reason: str
    ) -> None:
        """One report per outbox entry: a retry is a new entry and fails anew; the same entry
        read again after a crash is the same report."""
        await self.redis.xadd(redis_keys().tickets_stream(), DeliveryFailed.of(entry, reason, entry_id).to_fields())
