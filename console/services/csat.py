"""The resident's satisfaction score (1–5): from the bot's question or typed in by an agent."""

from __future__ import annotations

from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.errors import ConflictError
from console.models import Agent, Ticket
from console.repository import get_ticket
from console.services.audit import audit, seen_event, snapshot
from console.services.transition import require_holder_or_supervisor


def record_csat(
    session: Session,
    ticket_no: str,
    score: int,
    comment: str | None,
    actor: Agent | None,
    require_resolved: bool,
    idempotency_key: str | None = None,
) -> Ticket:
    ticket = get_ticket(session, ticket_no)
    if idempotency_key is not None and seen_event(session, idempotency_key):
        return ticket
    if require_resolved and ticket.status != "resolved":
        raise ConflictError(f"Ticket {ticket_no} is not resolved; CSAT is recorded after resolution.")
    if actor is not None:
        require_holder_or_supervisor(ticket, actor, "record its CSAT")
    ticket.csat_score = score
    ticket.csat_comment = comment
    ticket.csat_at = utcnow()
    ticket.updated_at = utcnow()
    session.flush()
    audit(session, ticket, actor, "csat", {"score": score}, idempotency_key=idempotency_key)
    redis_ops.enqueue_event(session, "ticket.csat", ticket.ticket_no, {"ticket": snapshot(ticket)})
    return ticket
