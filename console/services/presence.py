"""Agent presence (issue 15): online, away or offline.

Two facts make an agent's presence:

* what they chose in the header, ``agents.presence_status`` (SQL, so it survives a Redis
  restart; logging in chooses ``online``), and
* whether their console is open: the presence sorted set (``KeySpace.presence``, agent id →
  until when), pushed forward by every request and live-stream heartbeat for
  ``CONSOLE_PRESENCE_SECONDS``. The bot reads the same set to tell a queued resident whether
  anybody is on duty, so an agent who chose offline is taken out of it; an agent who is away
  stays in it (on duty, only taking no new tickets).

Effective presence is offline when the console was not seen within the window, else the
choice. Auto-assignment and follow-up routing hand tickets to ``online`` agents only.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console import redis_ops
from console.models import Agent, AgentSession, Ticket
from console.services.audit import audit
from console.settings import Settings

logger = logging.getLogger(__name__)

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
#: Tickets an agent is working on: what auto-assignment balances.
WORKING_STATUSES = ("assigned", "in_progress")


# --- Redis: is the console open? -----------------------------------------------------------


def mark_present(client: redis.Redis, settings: Settings, agent: Agent) -> bool:
    """A request of this agent: on duty for the window, unless they chose offline. Best effort.

    True when this request brought an online agent back on duty (their console was closed or
    asleep past the window): the moment to offer them the tickets that waited meanwhile.
    """
    key, now = settings.keys.presence(), time.time()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now)
        if agent.presence_status == OFFLINE:
            pipe.zrem(key, str(agent.id))
        else:
            pipe.zadd(key, {str(agent.id): now + settings.CONSOLE_PRESENCE_SECONDS})
        added = pipe.execute()[1]
    except redis.RedisError as exc:
        logger.warning("presence not recorded: %s", type(exc).__name__)
        return False
    return agent.presence_status == ONLINE and bool(added)


async def refresh_async(client: aioredis.Redis, settings: Settings, agent_id: int) -> None:
    """A live-stream heartbeat: extends the window of an agent already on duty, never re-adds one.

    The stream does not see a switch to offline made meanwhile; only requests (which read the
    agent's choice) put an agent on duty.
    """
    try:
        await client.zadd(settings.keys.presence(),
                          {str(agent_id): time.time() + settings.CONSOLE_PRESENCE_SECONDS}, xx=True)
    except redis.RedisError as exc:
        logger.warning("presence not recorded: %s", type(exc).__name__)


def mark_absent(client: redis.Redis, settings: Settings, agent_id: int) -> None:
    """Logout or a switch to offline: off duty at once."""
    try:
        client.zrem(settings.keys.presence(), str(agent_id))
    except redis.RedisError as exc:
        logger.warning("presence not cleared: %s", type(exc).__name__)


def _parse(members: Sequence[tuple[str, float]]) -> dict[int, float]:
    return {int(member): float(score) for member, score in members if str(member).isdigit()}


async def live_agents(client: aioredis.Redis, settings: Settings) -> dict[int, float]:
    """Agent id → until when (epoch) for every agent whose console was seen within the window."""
    return _parse(await client.zrangebyscore(settings.keys.presence(), time.time(), "+inf", withscores=True))


def live_agents_sync(client: redis.Redis, settings: Settings) -> dict[int, float]:
    """The same from a request; an unreachable Redis counts as nobody on duty."""
    try:
        return _parse(client.zrangebyscore(settings.keys.presence(), time.time(), "+inf", withscores=True))
    except redis.RedisError as exc:
        logger.warning("presence not read: %s", type(exc).__name__)
        return {}


# --- SQL: the agent's choice ---------------------------------------------------------------


def available(session: Session, live: Collection[int]) -> set[int]:
    """Of the agents on duty, the active ones who chose online (they may be handed tickets)."""
    if not live:
        return set()
    return set(session.scalars(
        select(Agent.id).where(Agent.id.in_(list(live)), Agent.active.is_(True), Agent.presence_status == ONLINE)
    ).all())


def effective(chosen: str, live: bool) -> str:
    return chosen if live and chosen in (ONLINE, AWAY) else OFFLINE


def set_status(session: Session, agent: Agent, status: str, actor: Agent) -> bool:
    """Record a choice (audited, announced to the supervisors' page); False when nothing changed.

    The caller commits, then applies it to Redis with :func:`apply`.
    """
    before = agent.presence_status
    if before == status:
        return False
    agent.presence_status = status
    session.flush()
    audit(session, None, actor, "presence", {"agent_id": agent.id, "from": before, "to": status})
    redis_ops.enqueue_event(session, "agent.presence", None, {"agent_id": agent.id, "status": status, "chosen": status})
    return True


def apply(client: redis.Redis, settings: Settings, agent: Agent, own_request: bool) -> None:
    """After a committed choice: offline leaves the set; the agent's own request puts them on duty.

    A supervisor's choice for someone else never puts them on duty: only their console can say
    it is open.
    """
    if agent.presence_status == OFFLINE:
        mark_absent(client, settings, agent.id)
    elif own_request:
        mark_present(client, settings, agent)


def start_shift(session: Session, agent: Agent) -> None:
    """Logging in is starting work: the agent is online again whatever they chose before."""
    set_status(session, agent, ONLINE, agent)


def end_shift(session: Session, agent: Agent) -> None:
    """Logging out: the supervisors' page hears it at once (the choice stays for the next login)."""
    redis_ops.enqueue_event(session, "agent.presence", None,
                            {"agent_id": agent.id, "status": OFFLINE, "chosen": agent.presence_status})


# --- the supervisors' view -------------------------------------------------------------------


def open_loads(session: Session) -> dict[int, int]:
    """Agent id → tickets they hold that are not resolved."""
    rows = session.execute(
        select(Ticket.assignee_id, func.count(Ticket.id))
        .where(Ticket.status.in_(WORKING_STATUSES), Ticket.assignee_id.is_not(None))
        .group_by(Ticket.assignee_id)
    ).all()
    return {int(agent_id): int(count) for agent_id, count in rows}


def last_seen(session: Session) -> dict[int, dt.datetime]:
    """Agent id → the latest activity of any of their sessions (touched about once a minute)."""
    rows = session.execute(
        select(AgentSession.agent_id, func.max(AgentSession.last_seen_at)).group_by(AgentSession.agent_id)
    ).all()
    return {int(agent_id): seen for agent_id, seen in rows if seen is not None}


@dataclass(frozen=True)
class Roster:
    """One line of the supervisors' agents page."""

    agent: Agent
    status: str
    on_duty_until: dt.datetime | None
    last_seen_at: dt.datetime | None
    open_tickets: int


def roster(session: Session, live: dict[int, float]) -> list[Roster]:
    """Every active account with its effective presence and open-ticket load."""
    loads, seen = open_loads(session), last_seen(session)
    agents = session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.display_name, Agent.id)).all()
    lines = []
    for agent in agents:
        until = live.get(agent.id)
        lines.append(Roster(
            agent=agent, status=effective(agent.presence_status, until is not None),
            on_duty_until=dt.datetime.fromtimestamp(until, dt.timezone.utc) if until else None,
            last_seen_at=seen.get(agent.id), open_tickets=loads.get(agent.id, 0),
        ))
    return lines
