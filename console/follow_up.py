"""Follow-up routing (issue 15): a resident who needs a person again soon after a resolve goes
back to the agent who just helped them, not to the back of the queue.

When a ticket request arrives for a conversation whose earlier ticket was resolved within
``CONSOLE_FOLLOW_UP_HOURS`` (0 = off), the new ticket is marked as a follow-up of it
(``summary.follow_up_of``, shown on the queue row). If that ticket's agent is on duty (the
presence set the console keeps, as the bot reads it), the new ticket is claimed for them at
once and the resident is told, through their own channel, who will answer. Otherwise the
ticket waits in the queue like any other, marked, so whoever is there sees the history.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Collection

import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.db import utcnow
from console.messages import FOLLOW_UP_NOTICE
from console.models import Agent, Ticket, TicketMessage
from console.services.audit import audit
from console.services.delivery import send_agent_message
from console.services.operations import claim_ticket
from console.settings import Settings


async def on_duty(client: aioredis.Redis, settings: Settings) -> set[int]:
    """Agent ids whose console was active within the presence window."""
    members = await client.zrangebyscore(settings.keys.presence(), time.time(), "+inf")
    return {int(m) for m in members if str(m).isdigit()}


def earlier_ticket(session: Session, ticket: Ticket, within: dt.timedelta) -> Ticket | None:
    """The conversation's ticket resolved most recently within the window (not a withdrawn one)."""
    return session.scalar(
        select(Ticket).where(
            Ticket.conversation_id == ticket.conversation_id, Ticket.id != ticket.id,
            Ticket.status == "resolved", Ticket.resolved_at >= utcnow() - within,
            Ticket.resolution_category.is_distinct_from("withdrawn"),
        ).order_by(Ticket.resolved_at.desc(), Ticket.id.desc()).limit(1)
    )


def route(session: Session, settings: Settings, ticket: Ticket, agents_on_duty: Collection[int]) -> Agent | None:
    """Mark a follow-up and hand it to the earlier agent when they are on duty; returns that agent."""
    if settings.CONSOLE_FOLLOW_UP_HOURS <= 0 or ticket.status != "new":
        return None
    earlier = earlier_ticket(session, ticket, dt.timedelta(hours=settings.CONSOLE_FOLLOW_UP_HOURS))
    if earlier is None:
        return None
    ticket.summary = {**(ticket.summary or {}), "follow_up_of": earlier.ticket_no}
    session.flush()
    agent = earlier.assignee
    routed = agent is not None and agent.active and agent.id in agents_on_duty
    audit(session, ticket, None, "follow_up", {"of": earlier.ticket_no,
                                               "agent_id": agent.id if routed and agent else None})
    if not routed or agent is None:
        return None
    claim_ticket(session, ticket.ticket_no, agent)
    now = utcnow()
    notice = TicketMessage(
        message_id=uuid.uuid4().hex, idempotency_key=f"follow-up:{ticket.ticket_no}", ticket_id=ticket.id,
        sender="agent", agent_id=agent.id, created_at=now, delivery_status="queued", delivery_attempts=1,
        sent_at=now, text=FOLLOW_UP_NOTICE.format(agent=agent.display_name, ticket_no=ticket.ticket_no),
    )
    session.add(notice)
    session.flush()
    send_agent_message(session, ticket, notice)  # the outbox writer; the SQL row is the source
    return agent
