"""Background work of the console: the ticket stream consumer and the Redis-op worker.

The consumer reads ``heatdesk:stream:tickets`` in consumer group ``console``
(docs/architecture.md). For every entry it commits the row first and XACKs
after, so a crash in between only causes a redelivery, which the unique
idempotency keys turn into a no-op. After a restart it first re-reads its own
pending entries, and it periodically claims entries another (dead) console
left pending for too long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Collection
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from console import redis_ops, resident_updates
from console.db import utcnow
from console.errors import ConflictError, NotFoundError
from console.models import Ticket
from console.redis_ops import RedisOpRunner
from console.services import assignment, delivery, intake, presence, queries
from console.services.csat import record_csat
from console.settings import Settings
from heatdesk_contract import owner, streams
from heatdesk_contract.streams import CONSOLE_GROUP, MalformedEntry

logger = logging.getLogger(__name__)

READ_COUNT = 50
READ_BLOCK_MS = 2000
CLAIM_EVERY_SECONDS = 15.0
NOT_YET_RETRIES = 3
RENUMBER_RETRIES = 5
NOT_YET_DELAY_SECONDS = 0.5


def _next_id(entry_id: str) -> str:
    """The stream id right after ``entry_id`` (XTRIM MINID keeps ids >= its argument)."""
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def trim_acked(client: aioredis.Redis, stream: str) -> int:
    """Drop the entries every consumer group of ``stream`` has acked; returns how many went.

    Acked means persisted (tickets stream: in SQL) or delivered (outbox: confirmed back to SQL),
    so nothing is lost; a stream without a group is left alone (nobody has read it yet).
    """
    try:
        groups = await client.xinfo_groups(stream)
    except redis.ResponseError:
        return 0  # no such stream
    if not groups:
        return 0
    floors = []
    for group in groups:
        pending = await client.xpending(stream, group["name"])
        if pending["pending"]:
            floors.append(pending["min"])
        else:
            floors.append(_next_id(group["last-delivered-id"]))
    return int(await client.xtrim(stream, minid=min(floors, key=_id_key)))


class TicketStreamConsumer:
    """Consumer ``settings.consumer_name`` of group ``console`` on the ticket stream."""

    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        session_factory: sessionmaker[Session],
        runner: RedisOpRunner,
    ) -> None:
        self.settings = settings
        self.client = client
        self.session_factory = session_factory
        self.runner = runner
        self.stream = settings.keys.tickets_stream()
        self.dead = settings.keys.dead_letter_stream()
        self.name = settings.consumer_name
        self.processed = 0
        self.claim_every = max(1.0, min(CLAIM_EVERY_SECONDS, settings.CONSOLE_CLAIM_IDLE_SECONDS / 2))
        self.upkeep_every = max(0.5, settings.CONSOLE_UPKEEP_SECONDS)
        #: The Redis server's run_id at the last look: a new one means Redis restarted.
        self.redis_run_id: str | None = None

    async def ensure_group(self) -> None:
        try:
            # From "0": a console that starts after tickets were requested still gets them.
            await self.client.xgroup_create(self.stream, CONSOLE_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def protect_ticket_numbers(self) -> None:
        """Raise the Rasa side's daily ticket counters to the highest numbers already in SQL.

        Ticket numbers (``GD{yyyymmdd}{seq}``) come from ``heatdesk:ticket_seq:{day}`` counters;
        a Redis that restarted without its data would start them again at 1 and hand residents
        numbers that belong to existing tickets. Run at every (re)connect and with each claim pass.
        """
        since = utcnow() - dt.timedelta(days=2)
        with self.session_factory() as session:
            numbers = session.scalars(
                select(Ticket.ticket_no).where(Ticket.created_at >= since, Ticket.ticket_no.like("GD%"))
            ).all()
        highest: dict[str, int] = {}
        for number in numbers:
            day, seq = number[2:10], number[10:]
            if day.isdigit() and seq.isdigit():
                highest[day] = max(highest.get(day, 0), int(seq))
        for day, seq in highest.items():
            await self.client.eval(redis_ops.RAISE_COUNTER, 1, self.settings.keys.ticket_seq(day), seq)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; Redis or database outages only pause it."""
        backoff = 1.0
        while not stop.is_set():
            try:
                await self.ensure_group()
                await self.protect_ticket_numbers()
                await self.check_redis_restart()
                await self.drain_own_pending()
                last_claim = last_upkeep = 0.0
                while not stop.is_set():
                    if time.monotonic() - last_upkeep > self.upkeep_every:
                        await self.upkeep()
                        last_upkeep = time.monotonic()
                    if time.monotonic() - last_claim > self.claim_every:
                        await self.protect_ticket_numbers()
                        await self.claim_stale()
                        last_claim = time.monotonic()
                    await self.read_new()
                    backoff = 1.0
            except (redis.RedisError, OSError) as exc:
                logger.warning("ticket stream consumer: Redis unavailable (%s); retrying in %.0f s",
                               type(exc).__name__, backoff)
            except Exception:  # keep the consumer alive: a bug in one pass must not stop tickets for good
                logger.exception("ticket stream consumer failed; restarting in %.0f s", backoff)
            try:
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, 10.0)

    async def check_redis_restart(self) -> bool:
        """On console start and whenever Redis restarted (new run_id), rebuild what SQL knows.

        A Redis that lost its data has no owner keys (residents with an open ticket would talk to
        the bot again), a reset ticket counter and no consumer groups.
        """
        run_id = str((await self.client.info("server")).get("run_id", ""))
        if run_id == self.redis_run_id:
            return False
        if self.redis_run_id is not None:
            logger.warning("Redis restarted (run_id changed): rebuilding owners and ticket counters from SQL")
            await self.ensure_group()
            await self.protect_ticket_numbers()
        self.redis_run_id = run_id
        rebuilt = await self.rebuild_owners()
        if rebuilt:
            logger.warning("%d conversation owner(s) rebuilt from open tickets in SQL", rebuilt)
        return True

    async def rebuild_owners(self) -> int:
        """Every open ticket's conversation is owned by the agents again (unless a ticket owns it)."""
        with self.session_factory() as session:
            owners = queries.open_ticket_owners(session)
        rebuilt = []
        for open_owner in owners:
            keys, args = redis_ops.rebuild_owner_args(self.settings, open_owner)
            if int(await self.client.eval(owner.REBUILD, len(keys), *keys, *args)):
                rebuilt.append(open_owner)
        # A ticket resolved while this ran had its owner released before the rebuild set it again.
        with self.session_factory() as session:
            still_open = queries.open_ticket_numbers(session, [open_owner["ticket_no"] for open_owner in rebuilt])
        for open_owner in rebuilt:
            if open_owner["ticket_no"] not in still_open:
                key = self.settings.keys.owner(open_owner["conversation_id"])
                await self.client.eval(owner.RELEASE, 2, key, self.settings.keys.queue(), open_owner["ticket_no"])
        return len(rebuilt)

    async def upkeep(self) -> None:
        """Redis restart check, re-sends of unconfirmed agent messages, trimming acked stream entries."""
        await self.check_redis_restart()
        resent, failed = await asyncio.to_thread(self._resend_unconfirmed)
        if resent or failed:
            logger.warning("agent messages not confirmed by their channel: %d re-sent, %d marked failed",
                           resent, failed)
        for stream in (self.settings.keys.tickets_stream(), self.settings.keys.outbox_stream()):
            await trim_acked(self.client, stream)

    def _resend_unconfirmed(self) -> tuple[int, int]:
        with self.session_factory() as session:
            counts = delivery.resend_unconfirmed(
                session, dt.timedelta(seconds=self.settings.CONSOLE_RESEND_AFTER_SECONDS),
                self.settings.CONSOLE_DELIVERY_MAX_ATTEMPTS,
            )
            redis_ops.commit(session, self.runner)
        return counts

    async def read_new(self) -> None:
        response = await self.client.xreadgroup(
            CONSOLE_GROUP, self.name, {self.stream: ">"}, count=READ_COUNT, block=min(READ_BLOCK_MS, self.settings.redis_block_ms)
        )
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                await self.handle(entry_id, fields)

    async def drain_own_pending(self) -> None:
        """Entries this consumer read but never acked before a restart."""
        start = "0"
        while True:
            response = await self.client.xreadgroup(CONSOLE_GROUP, self.name, {self.stream: start}, count=READ_COUNT)
            entries = response[0][1] if response else []
            if not entries:
                return
            for entry_id, fields in entries:
                if fields:  # an entry trimmed away while pending comes back with no fields
                    await self.handle(entry_id, fields)
                else:
                    await self.client.xack(self.stream, CONSOLE_GROUP, entry_id)
            start = entries[-1][0]

    async def claim_stale(self) -> None:
        """Take over entries left pending (by any consumer) longer than the idle limit."""
        idle_ms = int(self.settings.CONSOLE_CLAIM_IDLE_SECONDS * 1000)
        start = "0-0"
        for _ in range(20):
            result = await self.client.xautoclaim(
                self.stream, CONSOLE_GROUP, self.name, min_idle_time=idle_ms, start_id=start, count=READ_COUNT
            )
            start, entries = result[0], result[1]
            deleted = result[2] if len(result) > 2 else []
            for entry_id in deleted:
                await self.client.xack(self.stream, CONSOLE_GROUP, entry_id)
            for entry_id, fields in entries:
                if fields:
                    await self.handle(entry_id, fields)
            if start in ("0-0", b"0-0"):
                return

    async def handle(self, entry_id: str, fields: dict[str, str]) -> None:
        """Persist one entry, then ack it; failures leave it pending for a retry."""
        try:
            entry = streams.parse_ticket_entry(fields, entry_id)
            if isinstance(entry, streams.TicketRequest):
                present = await presence.live_agents(self.client, self.settings)
                await asyncio.to_thread(self._persist_request, entry, present)
            elif isinstance(entry, streams.TicketUserMessage):
                await self._persist_user_message(entry)
            elif isinstance(entry, streams.TicketCsat):
                await asyncio.to_thread(self._persist_csat, entry)
            elif isinstance(entry, streams.DeliveryConfirmed):
                await self._persist_confirmation(entry)
            elif isinstance(entry, streams.DeliveryFailed):
                await asyncio.to_thread(self._persist_delivery_failure, entry)
            elif isinstance(entry, streams.TicketDetails):
                await self._after_request(self._in_transaction, resident_updates.add_details, entry)
            elif isinstance(entry, streams.TicketWithdrawn):
                await self._after_request(self._in_transaction, resident_updates.withdraw, entry)
            else:
                raise MalformedEntry(f"unknown entry type {entry.type!r}")
        except MalformedEntry as exc:
            await self.dead_letter(entry_id, fields, str(exc))
        except ConflictError as exc:
            await self.dead_letter(entry_id, fields, exc.message)
        except NotFoundError as exc:
            await self._retry_later(entry_id, fields, exc.message)
            return
        except SQLAlchemyError as exc:
            logger.warning("entry %s not persisted (database: %s); will retry", entry_id, type(exc).__name__)
            return
        except (redis.RedisError, OSError):
            raise
        except Exception:  # a poison entry must not crash-loop the consumer: retry, then dead-letter
            logger.exception("entry %s could not be processed", entry_id)
            await self._retry_later(entry_id, fields, "processing error")
            return
        await self.client.xack(self.stream, CONSOLE_GROUP, entry_id)
        self.processed += 1

    def _persist_request(self, request: streams.TicketRequest, agents_on_duty: Collection[int] = ()) -> None:
        for attempt in range(RENUMBER_RETRIES):
            with self.session_factory() as session:
                try:
                    ticket, created = intake.create_ticket(session, self.settings, request)
                    # Team, follow-up routing and auto-assignment (console/services/assignment.py).
                    routed = assignment.route_new_ticket(session, self.settings, ticket, agents_on_duty) \
                        if created else None
                    redis_ops.commit(session, self.runner)
                except IntegrityError:
                    # Another console inserted the same key (the retry sees its row) or took the
                    # same new number at the same moment (the retry numbers again).
                    redis_ops.discard(session)
                    if attempt == RENUMBER_RETRIES - 1:
                        raise
                    continue
                if created and ticket.requested_no:
                    logger.warning("ticket number %s was taken; request renumbered %s", ticket.requested_no,
                                   ticket.ticket_no)
                if created:
                    logger.info("ticket %s created (%s, %s)", ticket.ticket_no, ticket.priority, ticket.category)
                else:
                    logger.info("ticket request %s was already persisted", request.ticket_no)
                if routed is not None:
                    logger.info("ticket %s routed to agent %s", ticket.ticket_no, routed.id)
                return

    async def _persist_user_message(self, message: streams.TicketUserMessage) -> None:
        # The request may still be in flight on another console: wait a moment before giving up.
        for attempt in range(NOT_YET_RETRIES):
            try:
                await asyncio.to_thread(self._store_user_message, message)
                return
            except NotFoundError:
                if attempt == NOT_YET_RETRIES - 1:
                    raise
                await asyncio.sleep(NOT_YET_DELAY_SECONDS)

    def _store_user_message(self, message: streams.TicketUserMessage) -> None:
        for attempt in range(2):
            with self.session_factory() as session:
                try:
                    intake.add_user_message(session, message)
                    redis_ops.commit(session, self.runner)
                    return
                except IntegrityError:
                    redis_ops.discard(session)
                    if attempt:
                        raise

    async def _after_request(self, run: Any, *args: Any) -> None:
        """Like user messages: the ticket request may still be in flight, so wait a moment."""
        for attempt in range(NOT_YET_RETRIES):
            try:
                await asyncio.to_thread(run, *args)
                return
            except NotFoundError:
                if attempt == NOT_YET_RETRIES - 1:
                    raise
                await asyncio.sleep(NOT_YET_DELAY_SECONDS)

    def _in_transaction(self, change: Any, item: Any) -> None:
        with self.session_factory() as session:
            change(session, item)
            redis_ops.commit(session, self.runner)
    async def _persist_confirmation(self, confirmed: streams.DeliveryConfirmed) -> None:
        # The agent's message row is committed before its outbox entry exists, so it is there.
        def persist() -> None:
            with self.session_factory() as session:
                delivery.record_delivery_confirmed(session, confirmed.ticket_no, confirmed.conversation_id,
                                               confirmed.message_id)
                redis_ops.commit(session, self.runner)

        await asyncio.to_thread(persist)

    def _persist_csat(self, csat: streams.TicketCsat) -> None:
        with self.session_factory() as session:
            record_csat(session, csat.ticket_no, csat.score, csat.comment, actor=None, require_resolved=False,
                             idempotency_key=csat.idempotency_key)
            redis_ops.commit(session, self.runner)

    def _persist_delivery_failure(self, failure: streams.DeliveryFailed) -> None:
        with self.session_factory() as session:
            if delivery.record_delivery_failure(session, failure):
                logger.warning("delivery of a message on %s failed: %s", failure.ticket_no, failure.reason)
            redis_ops.commit(session, self.runner)

    async def _retry_later(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        """Leave the entry pending (claimed again later) unless it has been tried too often."""
        pending = await self.client.xpending_range(self.stream, CONSOLE_GROUP, min=entry_id, max=entry_id, count=1)
        deliveries = int(pending[0]["times_delivered"]) if pending else 0
        if deliveries >= self.settings.CONSOLE_MAX_DELIVERIES:
            await self.dead_letter(entry_id, fields, f"{reason} after {deliveries} deliveries")
            await self.client.xack(self.stream, CONSOLE_GROUP, entry_id)
        else:
            logger.info("entry %s postponed: %s", entry_id, reason)

    async def dead_letter(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        """Keep an unprocessable entry for an operator instead of retrying it forever."""
        logger.error("ticket stream entry %s dead-lettered: %s", entry_id, reason)
        record = streams.DeadLetter(entry_id, reason, self.name, dict(fields))
        await self.client.xadd(self.dead, record.to_fields(), maxlen=10_000, approximate=True)


async def run_ops_worker(runner: RedisOpRunner, stop: asyncio.Event, interval: float = 2.0) -> None:
    """Retry Redis ops whose immediate run failed (e.g. Redis was down during a reply)."""
    last_prune = 0.0
    while not stop.is_set():
        try:
            await asyncio.to_thread(runner.sweep)
            if time.monotonic() - last_prune > 3600:
                await asyncio.to_thread(runner.prune)
                last_prune = time.monotonic()
        except (redis.RedisError, SQLAlchemyError, OSError) as exc:
            logger.warning("redis op worker: %s; retrying", type(exc).__name__)
        except Exception:  # keep retrying: a stuck outbox would silently stop agent replies
            logger.exception("redis op worker failed; retrying")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass
