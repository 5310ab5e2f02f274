"""An agent message's way to the resident: queued on the outbox, re-sent, confirmed or failed.

The SQL row is the source; the outbox entry is only a copy, so a message Redis lost is sent
again, and the resident's side dedupes on the message id.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.errors import ConflictError, NotFoundError
from console.models import Agent, Ticket, TicketMessage
from console.repository import get_ticket
from console.schemas.tickets import message_out
from console.services.audit import audit, seen_event, snapshot
from console.services.transition import require_open
from heatdesk_contract.streams import AgentMessage, DeliveryFailed


def outbox_entry(session: Session, ticket: Ticket, message: TicketMessage) -> AgentMessage:
    """The outbox entry of one send of an agent message."""
    agent = message.agent or (session.get(Agent, message.agent_id) if message.agent_id else None)
    return AgentMessage(
        message_id=message.message_id, ticket_no=ticket.ticket_no, conversation_id=ticket.conversation_id,
        channel=ticket.channel, text=message.text, agent_name=agent.display_name if agent else "",
        # Each send is its own attempt: a failure of a retry is a new report, not a duplicate.
        attempt=message.delivery_attempts or 0,
    )


def send_agent_message(session: Session, ticket: Ticket, message: TicketMessage) -> None:
    """Queue an agent message on the outbox; the SQL row stays the source for re-sends."""
    redis_ops.enqueue_outbox(session, outbox_entry(session, ticket, message))


def retry_delivery(session: Session, ticket_no: str, message_id: str, actor: Agent) -> TicketMessage:
    """An agent's retry of a failed message: queued again, sent again with the same message id."""
    ticket = get_ticket(session, ticket_no)
    require_open(ticket, "send messages again")
    message = session.scalar(
        select(TicketMessage).where(TicketMessage.message_id == message_id, TicketMessage.ticket_id == ticket.id,
                                    TicketMessage.sender == "agent")
    )
    if message is None:
        raise NotFoundError(f"No agent message {message_id} on ticket {ticket_no}.")
    if message.delivery_status != "failed":
        raise ConflictError(f"Message {message_id} is {message.delivery_status or 'not an outgoing message'}; "
                            "only a failed message can be sent again.")
    message.delivery_status = "queued"
    message.delivery_error = None
    message.delivery_attempts = (message.delivery_attempts or 0) + 1
    message.sent_at = utcnow()
    session.flush()
    audit(session, ticket, actor, "delivery_retried", {"message_id": message_id})
    send_agent_message(session, ticket, message)
    redis_ops.enqueue_event(session, "ticket.message_delivered", ticket.ticket_no,
                            {"message": message_out(message).model_dump(mode="json")})
    return message


def resend_unconfirmed(session: Session, older_than: dt.timedelta, max_attempts: int) -> tuple[int, int]:
    """Re-send agent messages no channel confirmed (Redis may have lost the outbox entry).

    A message still unconfirmed after ``max_attempts`` sends is marked failed, so the agent sees
    it and can retry. Returns (re-sent, failed). The resident's side dedupes on message ids.
    """
    cutoff = utcnow() - older_than
    rows = session.scalars(
        select(TicketMessage).where(
            TicketMessage.delivery_status == "queued",
            or_(TicketMessage.sent_at.is_(None), TicketMessage.sent_at < cutoff),
        ).order_by(TicketMessage.id).limit(200)
    ).all()
    resent = failed = 0
    for message in rows:
        ticket = session.get(Ticket, message.ticket_id)
        if ticket is None:
            continue
        message.sent_at = utcnow()
        if (message.delivery_attempts or 0) >= max_attempts:
            message.delivery_status = "failed"
            message.delivery_error = f"not confirmed by the {ticket.channel} channel after {max_attempts} attempts"
            message.delivery_failed_at = utcnow()
            failed += 1
            session.flush()
            redis_ops.enqueue_event(session, "ticket.delivery_failed", ticket.ticket_no, {
                "ticket": snapshot(ticket), "message_id": message.message_id, "reason": message.delivery_error,
                "message": message_out(message).model_dump(mode="json"),
            })
            continue
        message.delivery_attempts = (message.delivery_attempts or 0) + 1
        send_agent_message(session, ticket, message)
        resent += 1
    return resent, failed


def record_delivery_failure(session: Session, failure: DeliveryFailed) -> bool:
    """Mark the agent's message as undelivered and tell the agents; False for a repeat."""
    if seen_event(session, failure.idempotency_key):
        return False
    ticket = get_ticket(session, failure.ticket_no)
    message = None
    if failure.message_id:
        message = session.scalar(
            select(TicketMessage).where(TicketMessage.message_id == failure.message_id,
                                        TicketMessage.ticket_id == ticket.id)
        )
        if message is not None and message.delivery_status != "delivered":
            message.delivery_error = failure.reason
            message.delivery_failed_at = utcnow()
            message.delivery_status = "failed"
    ticket.updated_at = utcnow()
    session.flush()
    detail = {"message_id": failure.message_id, "reason": failure.reason}
    audit(session, ticket, None, "delivery_failed", detail, idempotency_key=failure.idempotency_key)
    redis_ops.enqueue_event(session, "ticket.delivery_failed", ticket.ticket_no, {
        "ticket": snapshot(ticket), **detail,
        "message": message_out(message).model_dump(mode="json") if message is not None else None,
    })
    return True


def record_delivery_confirmed(session: Session, ticket_no: str, conversation_id: str, message_id: str) -> bool:
    """The channel delivered an agent message (``delivery.confirmed``); False for a repeat."""
    message = session.scalar(
        select(TicketMessage).join(Ticket, TicketMessage.ticket_id == Ticket.id)
        .where(TicketMessage.message_id == message_id, Ticket.conversation_id == conversation_id)
    )
    if message is None:
        raise NotFoundError(f"No message {message_id} on the tickets of this conversation.")
    if message.delivery_status == "delivered":
        return False
    message.delivery_status = "delivered"
    message.delivered_at = utcnow()
    message.delivery_error = None
    session.flush()
    ticket = session.get(Ticket, message.ticket_id)
    redis_ops.enqueue_event(session, "ticket.message_delivered", ticket.ticket_no if ticket else ticket_no,
                            {"message": message_out(message).model_dump(mode="json")})
    return True
