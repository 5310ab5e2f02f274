"""The audit trail of tickets and agents, and the ticket snapshot live events carry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.db import utcnow
from console.models import Agent, Ticket, TicketEvent
from console.schemas.tickets import ticket_out


def audit(
    session: Session,
    ticket: Ticket | None,
    actor: Agent | None,
    kind: str,
    detail: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id if ticket else None,
            agent_id=actor.id if actor else None,
            kind=kind,
            detail=detail or {},
            idempotency_key=idempotency_key,
            created_at=utcnow(),
        )
    )


def seen_event(session: Session, idempotency_key: str) -> bool:
    """Whether an entry with this key was already recorded (stream retries are no-ops)."""
    return session.scalar(select(TicketEvent.id).where(TicketEvent.idempotency_key == idempotency_key)) is not None


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """The ticket as the API shows it, for live events."""
    return ticket_out(ticket, utcnow()).model_dump(mode="json")
