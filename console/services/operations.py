"""What agents do to tickets: claim, transfer, reply, note, resolve, reopen.

Every status change goes through :func:`console.services.transition.transition`, so two agents
racing for a ticket are decided by the database and the loser gets a 409.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from console.models import OPEN_STATUSES, Agent, Note, Ticket, TicketMessage
from console.repository import get_ticket
from console.schemas.agents import agent_brief
from console.schemas.tickets import message_out, note_out
from console.services.delivery import outbox_entry
from console.services.transition import require_holder, require_holder_or_supervisor, require_open, stamp, transition
from heatdesk_contract.streams import TicketResolved


def claim_ticket(session: Session, ticket_no: str, actor: Agent) -> tuple[Ticket, bool]:
    """Take an unclaimed ticket; exactly one of several racing agents wins."""
    ticket = get_ticket(session, ticket_no)
    if ticket.assignee_id == actor.id and ticket.status != "resolved":
        return ticket, False
    require_open(ticket, "claim it")
    now = utcnow()

    def claimed_by(current: Ticket) -> str:
        holder = current.assignee.display_name if current.assignee else "another agent"
        return f"Ticket {ticket_no} is already claimed by {holder}."

    transition(
        session, ticket, actor,
        guard=[Ticket.status == "new", Ticket.assignee_id.is_(None)],
        values={"assignee_id": actor.id, "status": "assigned",
                "assigned_at": func.coalesce(Ticket.assigned_at, stamp(now)), "updated_at": now},
        kind="claimed", conflict=claimed_by,
        owner_op=("owner_claim", {"conversation_id": ticket.conversation_id, "ticket_no": ticket.ticket_no,
                                  "agent": actor.display_name}),
        event_data={"agent": agent_brief(actor).model_dump()},
    )
    return ticket, True


def transfer_ticket(session: Session, ticket_no: str, actor: Agent, target_id: int, note: str | None) -> Ticket:
    ticket = get_ticket(session, ticket_no)
    require_open(ticket, "transfer it")
    if ticket.assignee_id != actor.id and actor.role != "supervisor":
        raise PermissionDeniedError(f"Only the assignee of {ticket_no} or a supervisor can transfer it.")
    target = session.get(Agent, target_id)
    if target is None or not target.active:
        raise NotFoundError(f"No active agent with id {target_id}.")
    if ticket.assignee_id == target.id:
        raise BadRequestError(f"Ticket {ticket_no} is already assigned to {target.display_name}.")
    previous = ticket.assignee_id
    now = utcnow()
    holder = Ticket.assignee_id.is_(None) if previous is None else Ticket.assignee_id == previous
    transition(
        session, ticket, actor,
        guard=[holder, Ticket.status == ticket.status],
        values={"assignee_id": target.id, "status": "assigned" if ticket.status == "new" else ticket.status,
                "assigned_at": func.coalesce(Ticket.assigned_at, stamp(now)), "updated_at": now},
        kind="transferred", detail={"from_agent_id": previous, "to_agent_id": target.id, "note": note},
        owner_op=("owner_claim", {"conversation_id": ticket.conversation_id, "ticket_no": ticket.ticket_no,
                                  "agent": target.display_name}),
        event_data={"from_agent_id": previous, "to": agent_brief(target).model_dump(),
                    "by": agent_brief(actor).model_dump()},
    )
    return ticket


def add_agent_message(
    session: Session, ticket_no: str, actor: Agent, text: str, client_message_id: str | None
) -> tuple[TicketMessage, Ticket, bool]:
    """Store an agent's reply and queue it for delivery through the user's own channel."""
    key = f"agent:{actor.id}:{ticket_no}:{client_message_id}" if client_message_id else None
    if key is not None:
        existing = session.scalar(select(TicketMessage).where(TicketMessage.idempotency_key == key))
        if existing is not None:
            return existing, get_ticket(session, ticket_no), False
    ticket = get_ticket(session, ticket_no)
    require_open(ticket, "write to the user")
    require_holder(ticket, actor, "reply on it")
    now = utcnow()
    first = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.first_human_reply_at.is_(None))
        .values(first_human_reply_at=now)
        .execution_options(synchronize_session=False)
    )
    message = TicketMessage(
        message_id=uuid.uuid4().hex, idempotency_key=key, ticket_id=ticket.id, sender="agent",
        agent_id=actor.id, text=text, created_at=now, delivery_status="queued", delivery_attempts=1, sent_at=now,
    )
    session.add(message)
    session.flush()
    transition(
        session, ticket, actor,
        guard=[Ticket.status.in_(("assigned", "in_progress"))],
        values={"status": "in_progress", "last_message_at": now, "updated_at": now, "waiting_since": None},
        kind="first_reply" if first.rowcount == 1 else None,
        detail={"seconds": int((now - ticket.created_at).total_seconds())},
        outbox=outbox_entry(session, ticket, message),
        event="ticket.message", event_data={"message": message_out(message).model_dump(mode="json")},
    )
    return message, ticket, True


def add_note(session: Session, ticket_no: str, actor: Agent, text: str) -> Note:
    ticket = get_ticket(session, ticket_no)
    note = Note(ticket_id=ticket.id, agent_id=actor.id, text=text, created_at=utcnow())
    session.add(note)
    ticket.updated_at = utcnow()
    session.flush()
    redis_ops.enqueue_event(session, "ticket.note_added", ticket.ticket_no,
                            {"ticket_no": ticket.ticket_no, "note": note_out(note).model_dump(mode="json")})
    return note


def resolve_ticket(
    session: Session, ticket_no: str, actor: Agent, category: str, note: str | None
) -> Ticket:
    """Close the ticket and hand the conversation back to the bot."""
    ticket = get_ticket(session, ticket_no)
    if ticket.status == "resolved":
        raise ConflictError(f"Ticket {ticket_no} is already resolved.")
    if actor.role != "supervisor":
        require_holder(ticket, actor, "resolve it")
    now = utcnow()
    transition(
        session, ticket, actor,
        guard=[Ticket.status == ticket.status],
        values={"status": "resolved", "resolved_at": now, "resolution_category": category,
                "resolution_note": note, "updated_at": now, "waiting_since": None},
        kind="resolved", detail={"resolution_category": category, "note": note},
        owner_op=("owner_release", {"conversation_id": ticket.conversation_id, "ticket_no": ticket.ticket_no}),
        outbox=TicketResolved(ticket_no=ticket.ticket_no, conversation_id=ticket.conversation_id,
                              channel=ticket.channel,
                              # rate a person only after a person answered
                              ask_csat=ticket.first_human_reply_at is not None),
    )
    return ticket


def reopen_ticket(session: Session, ticket_no: str, actor: Agent, reason: str | None) -> Ticket:
    """Reopen a resolved ticket; whoever reopens it holds it and owns the conversation again."""
    ticket = get_ticket(session, ticket_no)
    if ticket.status != "resolved":
        raise ConflictError(f"Ticket {ticket_no} is not resolved; only resolved tickets can be reopened.")
    require_holder_or_supervisor(ticket, actor, "reopen it")
    other = session.scalar(
        select(Ticket.ticket_no).where(
            Ticket.conversation_id == ticket.conversation_id, Ticket.id != ticket.id,
            Ticket.status.in_(OPEN_STATUSES),
        )
    )
    if other is not None:
        raise ConflictError(f"The conversation already has open ticket {other}; continue there.")
    now = utcnow()
    transition(
        session, ticket, actor,
        guard=[Ticket.status == "resolved"],
        values={"status": "assigned", "assignee_id": actor.id,
                "assigned_at": func.coalesce(Ticket.assigned_at, stamp(now)), "resolved_at": None,
                "resolution_category": None, "resolution_note": None,
                "reopen_count": Ticket.reopen_count + 1, "updated_at": now},
        kind="reopened", detail={"reason": reason},
        owner_op=("owner_take", {"conversation_id": ticket.conversation_id, "ticket_no": ticket.ticket_no,
                                 "channel": ticket.channel, "agent": actor.display_name,
                                 "ticket_key": ticket.idempotency_key}),
    )
    return ticket
