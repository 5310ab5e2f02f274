"""Redis side effects of ticket changes, written to SQL first and executed after commit.

This is a transactional outbox: a reply, a resolve or a new ticket's live event
is recorded in ``redis_ops`` in the same transaction as the ticket change, then
run right after the commit. When Redis is down the background worker retries,
so an agent's reply is never lost and the owner key is never left half-released.
Delivery is at least once; readers dedupe on ``message_id`` / stream ids.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from sqlalchemy import Row, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from console.db import utcnow
from console.models import RedisOp
from console.settings import Settings
from heatdesk_contract import owner, streams
from heatdesk_contract.streams import ConsoleEvent

logger = logging.getLogger(__name__)

# A claimed op not finished after this long belongs to a runner that died.
STALE_CLAIM = dt.timedelta(seconds=30)

NO_PERSISTENCE_WARNING = (
    "Redis runs without persistence: a restart loses streams, owners and conversations "
    "(use appendonly yes, see docs/deployment.md)"
)


def redis_persistence(client: redis.Redis) -> str:
    """``aof``, ``rdb``, ``none``, or ``unknown`` when a managed Redis refuses CONFIG GET."""
    if int(client.info("persistence").get("aof_enabled", 0)):
        return "aof"
    try:
        save = client.config_get("save").get("save", "")
    except redis.ResponseError:
        return "unknown"
    return "rdb" if str(save).strip() else "none"


# Raise a counter to at least ARGV[1]; never lowers it.
RAISE_COUNTER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return current
"""


def enqueue(session: Session, op: str, **payload: Any) -> RedisOp:
    """Record a Redis side effect inside the caller's transaction.

    The op is remembered on the session so :func:`commit` can run it right after
    the transaction commits.
    """
    record = RedisOp(op=op, payload=payload)
    session.add(record)
    session.info.setdefault("redis_ops", []).append(record)
    return record


def commit(session: Session, runner: "RedisOpRunner | None") -> bool:
    """Commit, then run the Redis ops of this transaction; True when all of them ran.

    Without a runner (CLI) the background worker of the console picks them up.
    """
    records: list[RedisOp] = session.info.pop("redis_ops", [])
    session.commit()
    if runner is None or not records:
        return not records
    try:
        return runner.run_through([record.id for record in records])
    except SQLAlchemyError as exc:
        # The change itself is committed; the op worker will run the ops.
        logger.warning("redis ops not run right away (database: %s)", type(exc).__name__)
        return False


def discard(session: Session) -> None:
    """Roll back and forget the ops of the failed transaction."""
    session.info.pop("redis_ops", None)
    session.rollback()


def enqueue_event(session: Session, event_type: str, ticket_no: str | None, data: dict[str, Any]) -> RedisOp:
    """A console live event for the SSE stream (``KeySpace.events_stream``)."""
    event = ConsoleEvent(event_type, ticket_no, data, utcnow())
    return enqueue(session, "xadd", stream=streams.EVENTS, fields=event.to_fields())


def enqueue_outbox(session: Session, entry: streams.OutboxEntry) -> RedisOp:
    """A message for the user, delivered by the Rasa side (``KeySpace.outbox_stream``)."""
    return enqueue(session, "xadd", stream=streams.OUTBOX, fields=entry.to_fields())


class RedisOpRunner:
    """Executes recorded Redis operations; safe to call from any thread."""

    def __init__(self, settings: Settings, client: redis.Redis, session_factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.client = client
        self.session_factory = session_factory

    def _execute(self, op: str, payload: dict[str, Any]) -> None:
        s, keys = self.settings, self.settings.keys
        if op == "xadd":
            stream = payload["stream"]
            fields = {k: str(v) for k, v in payload["fields"].items()}
            if stream == streams.EVENTS:
                self.client.xadd(keys.stream(stream), fields, maxlen=s.CONSOLE_EVENTS_MAXLEN, approximate=True)
            else:
                self.client.xadd(keys.stream(stream), fields)
        elif op == "owner_claim":
            self.client.eval(
                owner.CLAIM, 2, keys.owner(payload["conversation_id"]), keys.queue(),
                payload["ticket_no"], payload["agent"],
            )
        elif op == "owner_release":
            self.client.eval(
                owner.RELEASE, 2, keys.owner(payload["conversation_id"]), keys.queue(), payload["ticket_no"]
            )
        elif op == "owner_take":
            taken = self.client.eval(
                owner.TAKE, 1, keys.owner(payload["conversation_id"]),
                payload["ticket_no"], payload["channel"], payload["agent"], payload.get("ticket_key", ""),
            )
            if not taken:
                logger.warning("reopen of %s: conversation owned by another ticket", payload["ticket_no"])
        elif op == "owner_renumber":
            self.client.eval(
                owner.RENUMBER, 2, keys.owner(payload["conversation_id"]), keys.queue(),
                payload["previous_no"], payload["ticket_no"], payload["ticket_key"], float(payload["score"]),
                "1" if payload["queued"] else "0",
            )
        elif op == "counter_raise":
            self.client.eval(RAISE_COUNTER, 1, keys.ticket_seq(payload["day"]), int(payload["seq"]))
        elif op == "queue_add":
            self.client.zadd(keys.queue(), {payload["ticket_no"]: float(payload["score"])})
        else:
            raise ValueError(f"unknown redis op {op!r}")

    def run_through(self, ids: Iterable[int]) -> bool:
        """Run every pending op up to the newest of ``ids``, oldest first; True when ``ids`` all ran.

        Older ops go first so that a reply saved while Redis was down still reaches
        the user before a reply written after it came back.
        """
        id_list = list(ids)
        if not id_list:
            return True
        now = utcnow()
        with self.session_factory() as session:
            pending = session.execute(
                select(RedisOp.id, RedisOp.op, RedisOp.payload)
                .where(RedisOp.done_at.is_(None), RedisOp.id <= max(id_list),
                       or_(RedisOp.claimed_at.is_(None), RedisOp.claimed_at < now - STALE_CLAIM))
                .order_by(RedisOp.id)
            ).all()
        self._execute_in_order(pending)
        with self.session_factory() as session:
            done = session.scalar(
                select(func.count(RedisOp.id)).where(RedisOp.id.in_(id_list), RedisOp.done_at.is_not(None))
            )
        return done == len(id_list)

    def sweep(self) -> int:
        """Run ops whose immediate run failed (older than a few seconds); returns how many ran."""
        now = utcnow()
        with self.session_factory() as session:
            pending = session.execute(
                select(RedisOp.id, RedisOp.op, RedisOp.payload)
                .where(RedisOp.done_at.is_(None), RedisOp.created_at < now - dt.timedelta(seconds=2),
                       or_(RedisOp.claimed_at.is_(None), RedisOp.claimed_at < now - STALE_CLAIM))
                .order_by(RedisOp.id)
                .limit(500)
            ).all()
        return self._execute_in_order(pending)

    def _execute_in_order(self, pending: Sequence[Row[Any]]) -> int:
        """Each op is claimed with a conditional UPDATE first, so two runners never both run it."""
        done = 0
        for op_id, op, payload in pending:
            if not self._claim(op_id):
                continue
            try:
                self._execute(op, payload)
            except redis.RedisError as exc:
                self._release(op_id, f"{type(exc).__name__}: {exc}")
                logger.warning("redis op %s (%s) failed, will retry: %s", op_id, op, type(exc).__name__)
                # Keep order: later ops (e.g. the resolve notice after the release) wait too.
                break
            except (KeyError, TypeError, ValueError) as exc:
                # A malformed op can never succeed; park it with its error instead of looping.
                logger.error("redis op %s (%s) is malformed and is dropped: %s", op_id, op, exc)
                self._finish(op_id, error=f"malformed: {exc}")
                continue
            self._finish(op_id)
            done += 1
        return done

    def _claim(self, op_id: int) -> bool:
        now = utcnow()
        with self.session_factory() as session:
            result = session.execute(
                update(RedisOp)
                .where(
                    RedisOp.id == op_id,
                    RedisOp.done_at.is_(None),
                    or_(RedisOp.claimed_at.is_(None), RedisOp.claimed_at < now - STALE_CLAIM),
                )
                .values(claimed_at=now, attempts=RedisOp.attempts + 1)
            )
            session.commit()
            return result.rowcount == 1

    def _finish(self, op_id: int, error: str | None = None) -> None:
        with self.session_factory() as session:
            session.execute(update(RedisOp).where(RedisOp.id == op_id).values(done_at=utcnow(), last_error=error))
            session.commit()

    def _release(self, op_id: int, error: str) -> None:
        with self.session_factory() as session:
            session.execute(
                update(RedisOp).where(RedisOp.id == op_id).values(claimed_at=None, last_error=error[:500])
            )
            session.commit()

    def pending_count(self) -> int:
        with self.session_factory() as session:
            return len(session.execute(select(RedisOp.id).where(RedisOp.done_at.is_(None)).limit(10_000)).all())

    def prune(self, older_than: dt.timedelta = dt.timedelta(days=7)) -> None:
        """Drop executed ops after a week; they are only kept for troubleshooting."""
        with self.session_factory() as session:
            session.execute(delete(RedisOp).where(RedisOp.done_at.is_not(None), RedisOp.done_at < utcnow() - older_than))
            session.commit()


def rebuild_owner_args(settings: Settings, open_owner: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """Keys and arguments of the owner-rebuild script for one open ticket (console.services.queries.open_ticket_owners)."""
    return (
        [settings.keys.owner(open_owner["conversation_id"]), settings.keys.queue()],
        [open_owner["ticket_no"], open_owner["channel"], open_owner["agent"], open_owner["ticket_key"],
         open_owner["score"], "1" if open_owner["queued"] else "0"],
    )
