"""Auto-assignment (issue 15): new tickets go to the online agent with the fewest open tickets.

A supervisor switches it on or off (``console_settings.auto_assign``, off until switched on).
When on, a new ticket that follow-up routing did not give back to an earlier agent is claimed
for an agent who is on duty and chose online (not away: console/services/presence.py), with
the fewest tickets in ``assigned``/``in_progress``; ties go to the one whose last assignment
is oldest, then the lower id. A ticket waiting for a team goes to a member of that team only.
Supervisors' accounts take no tickets automatically (they claim what they want). When nobody
fits, the ticket waits in the queue as it always did. The resident is told who will answer.

Tickets already waiting are swept out by the same rule (:func:`sweep`) when an agent comes
online (login, a switch to online, the first request of a console that was closed or asleep past
the presence window) and when a supervisor switches auto-assignment on. There is
no per-agent cap, so a sweep balances by load only (one ticket at a time to the least loaded),
and a freed slot (resolve, transfer) triggers nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import redis
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from console import follow_up, redis_ops
from console.db import utcnow
from console.errors import ConflictError
from console.messages import ASSIGNED_NOTICE, TEAM_ASSIGNED_NOTICE
from console.models import Agent, ConsoleSetting, Ticket
from console.schemas.agents import agent_brief
from console.services import presence, teams
from console.services.audit import audit
from console.services.handover import hand_to
from console.services.queries import PRIORITY_ORDER
from console.settings import Settings

if TYPE_CHECKING:
    from console.redis_ops import RedisOpRunner

logger = logging.getLogger(__name__)

AUTO_ASSIGN = "auto_assign"
#: Waiting tickets one sweep looks at: a sweep runs inside a request (login, presence, the switch)
#: and must stay short; whatever is left goes out with the next trigger or a click.
SWEEP_LIMIT = 200


def setting(session: Session) -> ConsoleSetting | None:
    return session.get(ConsoleSetting, AUTO_ASSIGN)


def enabled(session: Session) -> bool:
    row = setting(session)
    return bool(row is not None and isinstance(row.value, dict) and row.value.get("enabled"))


def set_enabled(session: Session, on: bool, actor: Agent) -> ConsoleSetting:
    """The supervisor's switch (audited; every console sees it on its next ticket)."""
    row = setting(session)
    before = enabled(session)
    if row is None:
        row = ConsoleSetting(key=AUTO_ASSIGN, value={"enabled": on})
        session.add(row)
    row.value = {"enabled": on}
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    session.flush()
    session.refresh(row)
    if before != on:
        audit(session, None, actor, "settings.auto_assign", {"from": before, "to": on})
        redis_ops.enqueue_event(session, "settings.changed", None,
                                {AUTO_ASSIGN: on, "by": agent_brief(actor).model_dump()})
    return row


def pick(session: Session, ticket: Ticket, available: Collection[int], exclude: Collection[int] = ()) -> tuple[
        Agent, int] | None:
    """The agent to take ``ticket`` and their open-ticket count, or None when nobody fits."""
    candidates = set(available) - set(exclude)
    if ticket.team_id is not None:
        candidates &= teams.member_ids(session, ticket.team_id)
    if not candidates:
        return None
    agents = session.scalars(select(Agent).where(
        Agent.id.in_(sorted(candidates)), Agent.active.is_(True), Agent.role == "agent",
        Agent.presence_status == presence.ONLINE,
    )).all()
    if not agents:
        return None
    loads = presence.open_loads(session)
    last = dict(session.execute(
        select(Ticket.assignee_id, func.max(Ticket.assigned_at))
        .where(Ticket.assignee_id.in_([a.id for a in agents])).group_by(Ticket.assignee_id)
    ).all())

    def order(agent: Agent) -> tuple[int, float, int]:
        assigned = last.get(agent.id)
        return loads.get(agent.id, 0), assigned.timestamp() if assigned else 0.0, agent.id

    chosen = min(agents, key=order)
    return chosen, loads.get(chosen.id, 0)


def auto_assign(session: Session, ticket: Ticket, available: Collection[int], notice: str,
                exclude: Collection[int] = ()) -> Agent | None:
    """Give an unclaimed ticket to the least-loaded online agent, when the switch is on."""
    if ticket.status != "new" or ticket.assignee_id is not None or not enabled(session):
        return None
    found = pick(session, ticket, available, exclude)
    if found is None:
        audit(session, ticket, None, "auto_assign_waiting",
                   {"team_id": ticket.team_id, "reason": "nobody online" if ticket.team_id is None
                    else "nobody of the team online"})
        return None
    agent, load = found
    detail: dict[str, Any] = {"agent_id": agent.id, "open_tickets": load, "team_id": ticket.team_id}
    audit(session, ticket, None, "auto_assigned", detail)
    return hand_to(session, ticket, agent, "auto", notice)


def route_new_ticket(session: Session, settings: Settings, ticket: Ticket, live: Collection[int]) -> Agent | None:
    """Everything that happens to a ticket the bot just handed over, in the same transaction:
    its team from its category, then follow-up routing, then auto-assignment."""
    teams.route_by_category(session, ticket)
    available = presence.available(session, live)
    routed = follow_up.route(session, settings, ticket, available)
    return routed or auto_assign(session, ticket, available, ASSIGNED_NOTICE)


def after_team_transfer(session: Session, ticket: Ticket, live: Collection[int], actor: Agent) -> Agent | None:
    """A ticket transferred to a team goes on to a member at once when auto-assignment is on
    (never back to the agent who passed it on)."""
    return auto_assign(session, ticket, presence.available(session, live), TEAM_ASSIGNED_NOTICE, exclude={actor.id})


def waiting(session: Session, limit: int = SWEEP_LIMIT) -> Sequence[Ticket]:
    """Unclaimed tickets in the order the queue is worked: most urgent, then nearest SLA due."""
    return session.scalars(
        select(Ticket).where(Ticket.status == "new", Ticket.assignee_id.is_(None))
        .order_by(PRIORITY_ORDER, Ticket.sla_due_at, Ticket.id).limit(limit)
    ).all()


def sweep(session: Session, live: Collection[int], trigger: str) -> list[str]:
    """Hand the waiting tickets to online agents by the rule for new tickets; the numbers handed.

    Each ticket goes through the guarded claim: a ticket another console (or an agent's click)
    took meanwhile raises ConflictError before anything is written, and is skipped. Tickets
    nobody may take keep waiting without a new history entry (their arrival already said why).
    """
    if not enabled(session):
        return []
    available = presence.available(session, live)
    if not available:
        return []
    handed: list[str] = []
    lost = 0
    for ticket in waiting(session):
        found = pick(session, ticket, available)
        if found is None:
            continue
        agent, load = found
        try:
            hand_to(session, ticket, agent, "auto", ASSIGNED_NOTICE)
        except ConflictError:
            lost += 1
            continue
        audit(session, ticket, None, "auto_assigned",
              {"agent_id": agent.id, "open_tickets": load, "team_id": ticket.team_id, "sweep": trigger})
        handed.append(ticket.ticket_no)
    if lost:
        logger.info("auto-assignment (%s): %d waiting tickets were taken meanwhile", trigger, lost)
    return handed


def sweep_after(session: Session, runner: RedisOpRunner | None, client: redis.Redis, settings: Settings,
                trigger: str) -> list[str]:
    """Run :func:`sweep` after the trigger's own commit, in a transaction of its own.

    Best effort: the trigger (a login, a presence switch) has succeeded whatever happens here;
    a database failure leaves the tickets waiting, as they did before.
    """
    try:
        handed = sweep(session, presence.live_agents_sync(client, settings), trigger)
        redis_ops.commit(session, runner)
    except SQLAlchemyError as exc:
        redis_ops.discard(session)
        logger.warning("waiting tickets not handed out (%s): %s", trigger, type(exc).__name__)
        return []
    if handed:
        logger.info("auto-assignment (%s) handed out %d waiting tickets", trigger, len(handed))
    return handed
