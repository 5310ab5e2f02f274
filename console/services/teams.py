"""Teams (issue 15): 维修调度, 收费 … — who answers which tickets.

Supervisors make teams, put agents in them and give each team ticket categories (intent names:
``report_leak``, ``report_not_warm`` → 维修调度; ``ask_balance``, ``dispute_late_fee``,
``ask_invoice`` → 收费). A category belongs to one team at most. A new ticket of a team's
category waits in that team's queue (``tickets.team_id``); agents find it with the queue filter
"我的团队", and auto-assignment gives it to a member only. A ticket can also be transferred to a
team: it goes back to the queue, waiting for that team. A ticket without a team is everyone's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from console.models import OPEN_STATUSES, Agent, Team, TeamCategory, Ticket, team_members
from console.repository import get_ticket
from console.schemas.agents import agent_brief
from console.services.audit import audit, snapshot
from console.services.queries import queue_score
from console.services.transition import require_open, transition


def list_teams(session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.name, Team.id)).all()


def get_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFoundError(f"No team with id {team_id}.")
    return team


def waiting_counts(session: Session) -> dict[int, int]:
    """Team id → unclaimed tickets waiting in its queue."""
    rows = session.execute(
        select(Ticket.team_id, func.count(Ticket.id))
        .where(Ticket.status == "new", Ticket.assignee_id.is_(None), Ticket.team_id.is_not(None))
        .group_by(Ticket.team_id)
    ).all()
    return {int(team_id): int(count) for team_id, count in rows}


def teams_of(session: Session, agent_ids: Iterable[int] | None = None) -> dict[int, list[Team]]:
    """Agent id → the teams they belong to."""
    query = select(team_members.c.agent_id, Team).join(Team, Team.id == team_members.c.team_id).order_by(Team.name)
    if agent_ids is not None:
        query = query.where(team_members.c.agent_id.in_(list(agent_ids)))
    found: dict[int, list[Team]] = {}
    for agent_id, team in session.execute(query).all():
        found.setdefault(int(agent_id), []).append(team)
    return found


def _name(session: Session, name: str, team: Team | None = None) -> str:
    taken = session.scalar(select(Team.id).where(func.lower(Team.name) == name.lower()))
    if taken is not None and (team is None or taken != team.id):
        raise ConflictError(f"A team named {name!r} already exists.")
    return name


def _members(session: Session, member_ids: Collection[int]) -> list[Agent]:
    wanted = sorted(set(member_ids))
    agents = session.scalars(select(Agent).where(Agent.id.in_(wanted), Agent.active.is_(True))).all() if wanted else []
    missing = sorted(set(wanted) - {a.id for a in agents})
    if missing:
        raise BadRequestError(f"No active agent with id {', '.join(map(str, missing))}.")
    return sorted(agents, key=lambda a: a.id)


def _categories(session: Session, categories: Collection[str], team: Team | None) -> list[TeamCategory]:
    """The team's category rows; a category another team handles is refused (never moved silently)."""
    wanted = sorted(set(categories))
    rows = session.scalars(select(TeamCategory).where(TeamCategory.category.in_(wanted))).all() if wanted else []
    for row in rows:
        if team is None or row.team_id != team.id:
            other = session.get(Team, row.team_id)
            raise ConflictError(f"Category {row.category!r} already belongs to team "
                                f"{other.name if other else row.team_id!r}; take it off that team first.")
    mine = {row.category: row for row in rows}
    return [mine.get(category) or TeamCategory(category=category) for category in wanted]


def _detail(team: Team) -> dict[str, Any]:
    return {"team_id": team.id, "name": team.name, "member_ids": [a.id for a in team.members],
            "categories": [c.category for c in team.categories]}


def create_team(session: Session, name: str, member_ids: Collection[int], categories: Collection[str],
                actor: Agent) -> Team:
    team = Team(name=_name(session, name))
    team.members = _members(session, member_ids)
    team.categories = _categories(session, categories, None)
    session.add(team)
    session.flush()
    audit(session, None, actor, "team.created", _detail(team))
    redis_ops.enqueue_event(session, "teams.changed", None, {"team_id": team.id})
    return team


def update_team(session: Session, team: Team, changes: dict[str, Any], actor: Agent) -> Team:
    """Rename, and replace the members or the categories when given."""
    if changes.get("name") is not None:
        team.name = _name(session, changes["name"], team)
    if changes.get("member_ids") is not None:
        team.members = _members(session, changes["member_ids"])
    if changes.get("categories") is not None:
        team.categories = _categories(session, changes["categories"], team)
    team.updated_at = utcnow()
    session.flush()
    audit(session, None, actor, "team.updated", _detail(team))
    redis_ops.enqueue_event(session, "teams.changed", None, {"team_id": team.id})
    return team


def delete_team(session: Session, team: Team, actor: Agent) -> int:
    """Remove a team; its waiting tickets become everyone's again. Returns how many were open."""
    waiting = session.scalars(select(Ticket).where(Ticket.team_id == team.id, Ticket.status.in_(OPEN_STATUSES))).all()
    session.execute(delete(TeamCategory).where(TeamCategory.team_id == team.id))
    now = utcnow()
    for ticket in waiting:
        ticket.team_id = None
        ticket.updated_at = now
    session.flush()
    for ticket in waiting:
        session.refresh(ticket)
        redis_ops.enqueue_event(session, "ticket.updated", ticket.ticket_no, {"ticket": snapshot(ticket)})
    audit(session, None, actor, "team.deleted", {"team_id": team.id, "name": team.name, "open": len(waiting)})
    session.delete(team)
    session.flush()
    redis_ops.enqueue_event(session, "teams.changed", None, {"team_id": team.id})
    return len(waiting)


def route_by_category(session: Session, ticket: Ticket) -> Team | None:
    """A new ticket waits for the team of its category, if one handles it."""
    row = session.get(TeamCategory, ticket.category)
    if row is None:
        return None
    ticket.team_id = row.team_id
    session.flush()
    session.refresh(ticket)
    return ticket.team


def member_ids(session: Session, team_id: int) -> set[int]:
    return set(session.scalars(select(team_members.c.agent_id).where(team_members.c.team_id == team_id)).all())


def transfer_to_team(session: Session, ticket_no: str, actor: Agent, team_id: int, note: str | None) -> Ticket:
    """Back to the queue, waiting for ``team_id``; the resident is told their place again by the bot."""
    ticket = get_ticket(session, ticket_no)
    require_open(ticket, "transfer it")
    if ticket.assignee_id != actor.id and actor.role != "supervisor":
        raise PermissionDeniedError(f"Only the assignee of {ticket_no} or a supervisor can transfer it.")
    team = get_team(session, team_id)
    if ticket.team_id == team.id and ticket.assignee_id is None:
        raise BadRequestError(f"Ticket {ticket_no} is already waiting for team {team.name}.")
    previous = ticket.assignee_id
    holder = Ticket.assignee_id.is_(None) if previous is None else Ticket.assignee_id == previous
    transition(
        session, ticket, actor,
        guard=[holder, Ticket.status == ticket.status],
        values={"assignee_id": None, "team_id": team.id, "status": "new", "updated_at": utcnow()},
        kind="transferred",
        detail={"from_agent_id": previous, "to_team_id": team.id, "to_team": team.name, "note": note},
        # The owner hash forgets the agent: the bot tells the resident their place in the queue again.
        owner_op=("owner_claim", {"conversation_id": ticket.conversation_id, "ticket_no": ticket.ticket_no,
                                  "agent": ""}),
        event_data={"from_agent_id": previous, "to": None, "to_team": {"id": team.id, "name": team.name},
                    "by": agent_brief(actor).model_dump()},
    )
    redis_ops.enqueue(session, "queue_add", ticket_no=ticket.ticket_no, score=queue_score(ticket))
    return ticket
