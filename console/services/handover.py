"""Giving a ticket to an agent without their click, and telling the resident who will answer.

Follow-up routing (console/follow_up.py) and auto-assignment (assignment.py) both end here: the
ticket is claimed for the agent (the same conditional UPDATE as a claim, so it cannot go to two
agents), the resident is told the agent's display name through their own channel, and the
agent's browser hears ``ticket.assigned`` (a desktop notification when the tab is hidden).
The notice is no reply: the first-reply SLA keeps running.
"""

from __future__ import annotations

import uuid
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.models import Agent, Ticket, TicketMessage
from console.schemas.agents import agent_brief
from console.services.audit import snapshot
from console.services.delivery import send_agent_message
from console.services.operations import claim_ticket


def tell_resident(session: Session, ticket: Ticket, agent: Agent, text: str, key: str) -> TicketMessage:
    """An agent-side message to the resident (once per ``key``), delivered like a reply."""
    now = utcnow()
    notice = TicketMessage(
        message_id=uuid.uuid4().hex, idempotency_key=key, ticket_id=ticket.id, sender="agent", agent_id=agent.id,
        created_at=now, delivery_status="queued", delivery_attempts=1, sent_at=now, text=text,
    )
    session.add(notice)
    session.flush()
    send_agent_message(session, ticket, notice)  # the outbox writer; the SQL row is the source
    return notice


def hand_to(session: Session, ticket: Ticket, agent: Agent, reason: str, notice: str) -> Agent:
    """Claim ``ticket`` for ``agent`` (reason ``follow_up`` or ``auto``) and tell the resident.

    The caller audits why (follow-up, or the load that made this agent the choice).
    """
    claim_ticket(session, ticket.ticket_no, agent)
    tell_resident(session, ticket, agent, notice.format(agent=agent.display_name, ticket_no=ticket.ticket_no),
                  f"{reason}:{ticket.ticket_no}:{uuid.uuid4().hex}")
    redis_ops.enqueue_event(session, "ticket.assigned", ticket.ticket_no, {
        "ticket": snapshot(ticket), "agent": agent_brief(agent).model_dump(), "reason": reason,
    })
    return agent
