"""What a waiting resident changes on their ticket from the Rasa side.

* ``ticket.details``: the address and callback phone the bot collected for a repair ticket
  after it was opened; merged into the ticket's summary so the agent has them at a glance.
* ``ticket.withdrawn``: the resident said "取消转人工". The bot already took the conversation
  back; here the ticket is closed (resolution ``withdrawn``) and the agents see it go.
(Agent presence, which lived here, is console/services/presence.py.)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.errors import ConflictError
from console.models import Ticket
from console.repository import get_ticket
from console.services.audit import audit, snapshot
from console.services.transition import transition
from heatdesk_contract.streams import TicketDetails, TicketWithdrawn


def add_details(session: Session, details: TicketDetails) -> Ticket:
    ticket = get_ticket(session, details.ticket_no)
    ticket.summary = {**(ticket.summary or {}), **details.details()}
    ticket.updated_at = utcnow()
    session.flush()
    audit(session, ticket, None, "details_added", {"fields": sorted(details.details())})
    redis_ops.enqueue_event(session, "ticket.updated", ticket.ticket_no, {"ticket": snapshot(ticket)})
    return ticket


def withdraw(session: Session, withdrawal: TicketWithdrawn) -> Ticket:
    """Close an open ticket the resident no longer wants; a repeat or a closed ticket is a no-op."""
    ticket = get_ticket(session, withdrawal.ticket_no)
    if ticket.status == "resolved":
        return ticket
    now = utcnow()
    try:
        transition(
            session, ticket, None,
            guard=[Ticket.status != "resolved"],
            values={"status": "resolved", "resolved_at": now, "resolution_category": "withdrawn",
                    "resolution_note": withdrawal.text or None, "updated_at": now},
            kind="withdrawn", detail={"text": withdrawal.text},
            # The bot already released the owner; this only drops a stale queue entry.
            owner_op=("owner_release", {"conversation_id": ticket.conversation_id, "ticket_no": ticket.ticket_no}),
            event="ticket.resolved", event_data={"withdrawn": True},
        )
    except ConflictError:  # an agent resolved it meanwhile: nothing left to withdraw
        pass
    return ticket
