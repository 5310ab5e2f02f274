"""Agent accounts: create, rename, password, the bootstrap supervisor, (de)activation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.errors import BadRequestError, ConflictError
from console.messages import DEFAULT_DISPLAY_NAME
from console.models import OPEN_STATUSES, Agent, Ticket
from console.repository import get_agent, get_agent_by_username, normalize_username
from console.security import hash_password, verify_password
from console.services.audit import audit
from console.services.queries import queue_score
from console.services.sessions import revoke_agent_sessions
from console.services.transition import transition


def list_agents(session: Session, active_only: bool = False) -> Sequence[Agent]:
    query = select(Agent).order_by(Agent.username)
    if active_only:
        query = query.where(Agent.active.is_(True))
    return session.scalars(query).all()


def create_agent(
    session: Session, username: str, password: str, role: str = "agent", display_name: str | None = None
) -> Agent:
    name = normalize_username(username)
    if get_agent_by_username(session, name) is not None:
        raise ConflictError(f"An agent named {name!r} already exists.")
    agent = Agent(
        username=name,
        display_name=display_name or "",
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    session.add(agent)
    session.flush()
    if not display_name:  # residents see this name: never the login (issue 15)
        agent.display_name = DEFAULT_DISPLAY_NAME.format(number=agent.id)
    audit(session, None, None, "agent.created", {"agent_id": agent.id, "username": name, "role": role})
    return agent


def rename_agent(session: Session, agent: Agent, display_name: str, actor: Agent) -> Agent:
    """The name residents are told ("客服{name}正在处理"); tickets claimed from now on carry it."""
    before = agent.display_name
    agent.display_name = display_name
    session.flush()
    audit(session, None, actor, "agent.renamed", {"agent_id": agent.id, "from": before, "to": display_name})
    return agent


def set_password(session: Session, agent: Agent, password: str) -> None:
    """New hash and every existing session revoked (a reset should log the old holder out)."""
    agent.password_hash = hash_password(password)
    revoke_agent_sessions(session, agent.id)
    audit(session, None, None, "agent.password_set", {"agent_id": agent.id})


def ensure_admin(session: Session, username: str, password: str) -> Agent:
    """The bootstrap supervisor from CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD."""
    agent = get_agent_by_username(session, username)
    if agent is None:
        return create_agent(session, username, password, role="supervisor")
    if not verify_password(agent.password_hash, password):
        set_password(session, agent, password)
    agent.role = "supervisor"
    agent.active = True
    agent.deactivated_at = None
    return agent


def deactivate_agent(session: Session, agent_id: int, actor: Agent | None) -> Agent:
    """Disable an account: sessions die at once and open tickets go back to the queue."""
    agent = get_agent(session, agent_id)
    if actor is not None and agent.id == actor.id:
        raise BadRequestError("You cannot deactivate your own account.")
    if not agent.active:
        return agent
    now = utcnow()
    agent.active = False
    agent.deactivated_at = now
    revoke_agent_sessions(session, agent.id)
    tickets = session.scalars(
        select(Ticket).where(Ticket.assignee_id == agent.id, Ticket.status.in_(OPEN_STATUSES))
    ).all()
    requeued = 0
    for ticket in tickets:
        try:
            transition(
                session, ticket, actor,
                guard=[Ticket.assignee_id == agent.id, Ticket.status.in_(OPEN_STATUSES)],
                values={"assignee_id": None, "status": "new", "updated_at": now},
                kind="requeued", detail={"reason": "assignee deactivated", "from_agent_id": agent.id},
                owner_op=("queue_add", {"ticket_no": ticket.ticket_no, "score": queue_score(ticket)}),
            )
        except ConflictError:  # resolved or handed on meanwhile: no longer this agent's to return
            continue
        requeued += 1
    audit(session, None, actor, "agent.deactivated", {"agent_id": agent.id, "requeued": requeued})
    redis_ops.enqueue_event(session, "agent.deactivated", None, {"agent_id": agent.id})
    return agent


def activate_agent(session: Session, agent_id: int, actor: Agent | None) -> Agent:
    agent = get_agent(session, agent_id)
    if not agent.active:
        agent.active = True
        agent.deactivated_at = None
        audit(session, None, actor, "agent.activated", {"agent_id": agent.id})
    return agent
