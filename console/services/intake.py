"""What arrives from the Rasa side: ticket requests and residents' messages, each persisted once.

Retries of a stream entry find the row its idempotency key already made and change nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.errors import NotFoundError
from console.models import OPEN_STATUSES, PRIORITIES, Ticket, TicketMessage
from console.schemas.tickets import message_out
from console.search import preview
from console.services.audit import audit, snapshot
from console.services.queries import queue_score
from console.settings import Settings
from heatdesk_contract.masking import mask_text
from heatdesk_contract.streams import TicketRenumbered, TicketRequest, TicketUserMessage


def next_ticket_no(session: Session, day: str) -> str:
    """The day's next free number ``GD{day}{seq:04d}``, from SQL (the unique index decides races)."""
    prefix = f"GD{day}"
    numbers = session.scalars(select(Ticket.ticket_no).where(Ticket.ticket_no.like(prefix + "%"))).all()
    seqs = [int(number[len(prefix):]) for number in numbers if number[len(prefix):].isdigit()]
    return f"{prefix}{max(seqs, default=0) + 1:04d}"


def _ticket_day(request: TicketRequest) -> str:
    day = request.ticket_no[2:10]
    return day if request.ticket_no.startswith("GD") and day.isdigit() else request.created_at.strftime("%Y%m%d")


def create_ticket(session: Session, settings: Settings, request: TicketRequest) -> tuple[Ticket, bool]:
    """Persist a ticket request once; a retried request returns the existing ticket.

    The number comes from a Redis counter that a Redis restart may reset: when it already
    belongs to another ticket, the request is renumbered from SQL (never dropped), the owner
    key follows, and the resident is told the final number through the outbox.
    """
    existing = session.scalar(select(Ticket).where(Ticket.idempotency_key == request.idempotency_key))
    if existing is not None:
        return existing, False
    ticket_no, requested_no = request.ticket_no, None
    same_no = session.scalar(select(Ticket).where(Ticket.ticket_no == request.ticket_no))
    if same_no is not None:
        if same_no.conversation_id == request.conversation_id and same_no.status in OPEN_STATUSES:
            return same_no, False
        ticket_no, requested_no = next_ticket_no(session, _ticket_day(request)), request.ticket_no
    priority = request.priority if request.priority in PRIORITIES else "normal"
    district = request.summary.get("district")
    ticket = Ticket(
        ticket_no=ticket_no,
        requested_no=requested_no,
        idempotency_key=request.idempotency_key,
        conversation_id=request.conversation_id,
        channel=request.channel,
        account_no=request.account_no or (str(request.summary.get("account_no") or "") or None),
        account_verified=request.account_verified,
        district=str(district)[:64] if district else None,
        category=request.category,
        priority=priority,
        trigger_kind=request.trigger_kind,
        trigger_name=request.trigger_name,
        trigger_confidence=request.trigger_confidence,
        trigger_text=mask_text(request.trigger_text),
        last_user_text=preview(mask_text(request.trigger_text)),
        waiting_since=request.created_at,
        summary=request.summary,
        status="new",
        created_at=request.created_at,
        received_at=utcnow(),
        sla_due_at=request.created_at + dt.timedelta(minutes=settings.sla_minutes(priority)),
        last_message_at=request.created_at,
        updated_at=utcnow(),
    )
    session.add(ticket)
    session.flush()
    audit(session, ticket, None, "created", {"trigger_kind": ticket.trigger_kind, "trigger_name": ticket.trigger_name})
    if requested_no is not None:
        _renumbered(session, ticket, requested_no)
    redis_ops.enqueue_event(session, "ticket.created", ticket.ticket_no, {"ticket": snapshot(ticket)})
    # Re-score with this ticket's own SLA due time, so the bot tells the position shown here.
    redis_ops.enqueue(session, "queue_add", ticket_no=ticket.ticket_no, score=queue_score(ticket))
    return ticket, True


def _renumbered(session: Session, ticket: Ticket, requested_no: str) -> None:
    """The owner key, the queue, the day's counter and the resident learn the final number."""
    audit(session, ticket, None, "renumbered", {"from": requested_no, "to": ticket.ticket_no})
    redis_ops.enqueue(session, "owner_renumber", conversation_id=ticket.conversation_id,
                      ticket_no=ticket.ticket_no, previous_no=requested_no, ticket_key=ticket.idempotency_key,
                      score=ticket.created_at.timestamp(), queued=ticket.status == "new")
    redis_ops.enqueue(session, "counter_raise", day=ticket.ticket_no[2:10], seq=int(ticket.ticket_no[10:]))
    redis_ops.enqueue_outbox(session, TicketRenumbered(
        message_id=uuid.uuid4().hex, ticket_no=ticket.ticket_no, previous_no=requested_no,
        conversation_id=ticket.conversation_id, channel=ticket.channel,
    ))


def ticket_of_conversation(session: Session, conversation_id: str, ticket_no: str, ticket_key: str = "") -> Ticket:
    """The conversation's ticket named by its request key, else by its (possibly first) number.

    Never by number alone: after a Redis restart two conversations may have been told one number.
    """
    mine = select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id.desc()).limit(1)
    ticket = session.scalar(mine.where(Ticket.idempotency_key == ticket_key)) if ticket_key else None
    if ticket is None:
        ticket = session.scalar(mine.where(or_(Ticket.ticket_no == ticket_no, Ticket.requested_no == ticket_no)))
    if ticket is None:
        raise NotFoundError(f"No ticket {ticket_no} of this conversation (yet).")
    return ticket


def add_user_message(session: Session, message: TicketUserMessage) -> tuple[TicketMessage, bool]:
    """Attach a user's message to its ticket once (idempotent on the stream's key)."""
    existing = session.scalar(
        select(TicketMessage).where(TicketMessage.idempotency_key == message.idempotency_key)
    )
    if existing is not None:
        return existing, False
    ticket = ticket_of_conversation(session, message.conversation_id, message.ticket_no, message.ticket_key)
    row = TicketMessage(
        message_id=uuid.uuid4().hex,
        idempotency_key=message.idempotency_key,
        ticket_id=ticket.id,
        sender=message.sender,
        text=mask_text(message.text),  # agents see phone and ID-card numbers masked
        created_at=message.created_at,
    )
    session.add(row)
    if ticket.last_message_at is None or message.created_at > ticket.last_message_at:
        ticket.last_message_at = message.created_at
    if message.sender == "user":  # in the order the stream delivers them (the Rasa side's clock is coarser)
        ticket.last_user_text = preview(row.text) or ticket.last_user_text
    if message.sender == "user" and ticket.status in OPEN_STATUSES and ticket.waiting_since is None:
        ticket.waiting_since = message.created_at
    ticket.updated_at = utcnow()
    session.flush()
    redis_ops.enqueue_event(
        session, "ticket.message", ticket.ticket_no,
        {"ticket": snapshot(ticket), "message": message_out(row).model_dump(mode="json")},
    )
    return row, True
