"""Reading tickets: the filtered list, the queue order, and a ticket's transcript, notes and history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from console.errors import BadRequestError
from console.models import OPEN_STATUSES, Agent, Note, Ticket, TicketEvent, TicketMessage, team_members
from console.search import search_condition
from heatdesk_contract import keys as contract_keys


@dataclass
class TicketFilter:
    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    category: str | None = None
    district: str | None = None
    assignee: str | None = None  # "me", "unassigned" or an agent id
    conversation_id: str | None = None
    account_no: str | None = None
    text: str | None = None  # the search box: number, 户号, phone tail, address, message text
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    team: str | None = None  # "mine" (the agent's teams), "none" or a team id


PRIORITY_ORDER = case({"urgent": 0, "high": 1, "normal": 2}, value=Ticket.priority, else_=3)


def _filtered(query: Select[Any], flt: TicketFilter, me: Agent) -> Select[Any]:
    statuses = set(flt.status)
    if "open" in statuses:
        statuses.discard("open")
        statuses.update(OPEN_STATUSES)
    if statuses:
        query = query.where(Ticket.status.in_(sorted(statuses)))
    if flt.priority:
        query = query.where(Ticket.priority.in_(list(flt.priority)))
    if flt.category:
        query = query.where(Ticket.category == flt.category)
    if flt.district:
        query = query.where(Ticket.district == flt.district)
    if flt.conversation_id:
        query = query.where(Ticket.conversation_id == flt.conversation_id)
    if flt.account_no:
        query = query.where(Ticket.account_no == flt.account_no)
    if flt.text and flt.text.strip():
        query = query.where(search_condition(flt.text))
    if flt.created_from:
        query = query.where(Ticket.created_at >= flt.created_from)
    if flt.created_to:
        query = query.where(Ticket.created_at < flt.created_to)
    if flt.assignee == "me":
        query = query.where(Ticket.assignee_id == me.id)
    elif flt.assignee == "unassigned":
        query = query.where(Ticket.assignee_id.is_(None))
    elif flt.assignee:
        if not flt.assignee.isdigit():
            raise BadRequestError("assignee must be 'me', 'unassigned' or an agent id.")
        query = query.where(Ticket.assignee_id == int(flt.assignee))
    if flt.team:
        query = query.where(team_condition(flt.team, me))
    return query


def team_condition(team: str, me: Agent) -> ColumnElement[bool]:
    """The queue's team filter (console/services/teams.py): ``mine``, ``none`` or a team id."""
    if team == "mine":
        return Ticket.team_id.in_(select(team_members.c.team_id).where(team_members.c.agent_id == me.id))
    if team == "none":
        return Ticket.team_id.is_(None)
    if team.isdigit():
        return Ticket.team_id == int(team)
    raise BadRequestError("team must be 'mine', 'none' or a team id.")


def list_tickets(
    session: Session, flt: TicketFilter, me: Agent, sort: str, limit: int, offset: int
) -> tuple[Sequence[Ticket], int]:
    total = session.scalar(_filtered(select(func.count(Ticket.id)), flt, me)) or 0
    query = _filtered(select(Ticket), flt, me)
    if sort == "queue":
        query = query.order_by(PRIORITY_ORDER, Ticket.sla_due_at, Ticket.id)
    elif sort == "oldest":
        query = query.order_by(Ticket.created_at, Ticket.id)
    elif sort == "updated":
        query = query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    else:
        query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all(), total


def queue_position(session: Session, ticket: Ticket) -> int | None:
    """Position among unclaimed tickets, in the order the queue is worked (priority, SLA)."""
    if ticket.status != "new":
        return None
    ahead = session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.status == "new",
            Ticket.id != ticket.id,
            or_(
                PRIORITY_ORDER < _priority_rank(ticket.priority),
                (PRIORITY_ORDER == _priority_rank(ticket.priority)) & (Ticket.sla_due_at < ticket.sla_due_at),
                (PRIORITY_ORDER == _priority_rank(ticket.priority))
                & (Ticket.sla_due_at == ticket.sla_due_at) & (Ticket.id < ticket.id),
            ),
        )
    )
    return int(ahead or 0) + 1


def queue_score(ticket: Ticket) -> float:
    """The ticket's score in the queue: the order of `queue_position` (heatdesk_contract.keys.queue_score)."""
    return contract_keys.queue_score(ticket.priority, ticket.sla_due_at.timestamp())


def _priority_rank(priority: str) -> int:
    return {"urgent": 0, "high": 1, "normal": 2}.get(priority, 3)


def ticket_messages(session: Session, ticket: Ticket) -> Sequence[TicketMessage]:
    return session.scalars(
        select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.created_at, TicketMessage.id)
    ).all()


def ticket_notes(session: Session, ticket: Ticket) -> Sequence[Note]:
    return session.scalars(select(Note).where(Note.ticket_id == ticket.id).order_by(Note.created_at, Note.id)).all()


def ticket_history(session: Session, ticket: Ticket) -> Sequence[TicketEvent]:
    return session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.created_at, TicketEvent.id)
    ).all()


def related_tickets(session: Session, ticket: Ticket, limit: int = 20) -> Sequence[Ticket]:
    """Earlier tickets of the same conversation or, when known, the same account."""
    same = Ticket.conversation_id == ticket.conversation_id
    if ticket.account_no:
        same = or_(same, Ticket.account_no == ticket.account_no)
    return session.scalars(
        select(Ticket)
        .where(same, Ticket.id != ticket.id, Ticket.created_at <= ticket.created_at)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    ).all()


def open_ticket_numbers(session: Session, ticket_nos: Sequence[str]) -> set[str]:
    """Which of these tickets are still open."""
    if not ticket_nos:
        return set()
    return set(session.scalars(
        select(Ticket.ticket_no).where(Ticket.ticket_no.in_(list(ticket_nos)), Ticket.status.in_(OPEN_STATUSES))
    ).all())


def open_ticket_owners(session: Session) -> list[dict[str, Any]]:
    """Who must own each conversation with an open ticket (for rebuilding the owner keys)."""
    rows = session.execute(
        select(Ticket.conversation_id, Ticket.ticket_no, Ticket.channel, Ticket.idempotency_key, Ticket.status,
               Ticket.created_at, Agent.display_name)
        .outerjoin(Agent, Ticket.assignee_id == Agent.id)
        .where(Ticket.status.in_(OPEN_STATUSES)).order_by(Ticket.id)
    ).all()
    return [
        {"conversation_id": conv, "ticket_no": no, "channel": channel, "ticket_key": key,
         "queued": status == "new", "score": created.timestamp(), "agent": name or ""}
        for conv, no, channel, key, status, created, name in rows
    ]
