"""Follow-up routing (issue 15): a resident who needs a person again soon after a resolve goes
back to the agent who just helped them, not to the back of the queue.

When a ticket request arrives for a conversation whose earlier ticket was resolved within
``CONSOLE_FOLLOW_UP_HOURS`` (0 = off), the new ticket is marked as a follow-up of it
(``summary.follow_up_of``, shown on the queue row). If that ticket's agent is on duty and online
(console/services/presence.py: not away), the new ticket is claimed for them at once and the
resident is told, through their own channel, who will answer. Otherwise the ticket waits in
the queue like any other, marked, so whoever is there sees the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.db import utcnow
from console.messages import FOLLOW_UP_NOTICE
from console.models import Agent, Ticket
from console.services.audit import audit
from console.services.handover import hand_to
from console.settings import Settings


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
    return hand_to(session, ticket, agent, "follow_up", FOLLOW_UP_NOTICE)
