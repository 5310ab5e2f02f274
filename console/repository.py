"""Thin data access: the rows every service looks up by name, or NotFoundError."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.errors import NotFoundError
from console.models import Agent, Ticket


def normalize_username(username: str) -> str:
    return username.strip().lower()


def get_agent_by_username(session: Session, username: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.username == normalize_username(username)))


def get_agent(session: Session, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFoundError(f"No agent with id {agent_id}.")
    return agent


def get_ticket(session: Session, ticket_no: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
    if ticket is None:
        raise NotFoundError(f"No ticket {ticket_no}.")
    return ticket
