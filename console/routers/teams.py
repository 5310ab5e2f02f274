"""Teams and the auto-assignment switch (issue 15): supervisors manage them, every agent reads them."""

from __future__ import annotations

import logging
from typing import Annotated

import redis
from fastapi import APIRouter, Path, Response, status
from sqlalchemy.orm import Session

from console import redis_ops
from console.deps import CurrentAgent, CurrentSupervisor, RedisDep, RunnerDep, SessionDep, SettingsDep
from console.models import Agent, Team, Ticket
from console.schemas.agents import AgentBrief, agent_brief
from console.schemas.teams import AssignmentSettings, AssignmentUpdate, TeamCreate, TeamOut, TeamUpdate
from console.services import assignment, presence, teams
from console.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["teams"])

TeamId = Annotated[int, Path(ge=1, le=2_147_483_647)]
_SUPERVISOR_ONLY = {403: {"description": "needs a supervisor account"}}


def _out(team: Team, waiting: dict[int, int]) -> TeamOut:
    return TeamOut(id=team.id, name=team.name, members=[agent_brief(a) for a in team.members],
                   categories=[c.category for c in team.categories], waiting=waiting.get(team.id, 0))


@router.get("/teams", response_model=list[TeamOut], summary="Teams with their agents and categories")
def list_teams(session: SessionDep, agent: CurrentAgent) -> list[TeamOut]:
    waiting = teams.waiting_counts(session)
    return [_out(t, waiting) for t in teams.list_teams(session)]


@router.post("/teams", response_model=TeamOut, status_code=status.HTTP_201_CREATED,
             summary="Make a team (supervisors)",
             responses={**_SUPERVISOR_ONLY, 400: {"description": "no such active agent"},
                        409: {"description": "the name is taken, or a category belongs to another team"}})
def create_team(body: TeamCreate, session: SessionDep, runner: RunnerDep, supervisor: CurrentSupervisor) -> TeamOut:
    team = teams.create_team(session, body.name, body.member_ids, body.categories, supervisor)
    redis_ops.commit(session, runner)
    logger.info("supervisor %s made team %s", supervisor.username, team.id)
    return _out(team, teams.waiting_counts(session))


@router.patch("/teams/{team_id}", response_model=TeamOut,
              summary="Rename a team, or replace its agents or categories (supervisors)",
              responses={**_SUPERVISOR_ONLY, 400: {"description": "no such active agent"},
                         404: {"description": "no such team"},
                         409: {"description": "the name is taken, or a category belongs to another team"}})
def update_team(team_id: TeamId, body: TeamUpdate, session: SessionDep, runner: RunnerDep,
                supervisor: CurrentSupervisor) -> TeamOut:
    team = teams.update_team(session, teams.get_team(session, team_id), body.model_dump(exclude_unset=True),
                             supervisor)
    redis_ops.commit(session, runner)
    return _out(team, teams.waiting_counts(session))


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a team; the tickets waiting for it become everyone's (supervisors)",
               responses={**_SUPERVISOR_ONLY, 404: {"description": "no such team"}})
def delete_team(team_id: TeamId, session: SessionDep, runner: RunnerDep, supervisor: CurrentSupervisor) -> Response:
    released = teams.delete_team(session, teams.get_team(session, team_id), supervisor)
    redis_ops.commit(session, runner)
    logger.info("supervisor %s removed team %s (%d open tickets released)", supervisor.username, team_id, released)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _assignment(session: Session) -> AssignmentSettings:
    row = assignment.setting(session)
    return AssignmentSettings(
        auto_assign=assignment.enabled(session), updated_at=row.updated_at if row else None,
        updated_by=AgentBrief.model_validate(row.updated_by) if row and row.updated_by else None,
    )


@router.get("/assignment", response_model=AssignmentSettings, summary="Whether new tickets are assigned automatically")
def read_assignment(session: SessionDep, agent: CurrentAgent) -> AssignmentSettings:
    return _assignment(session)


@router.put("/assignment", response_model=AssignmentSettings,
            summary="Switch auto-assignment on or off (supervisors)", responses=_SUPERVISOR_ONLY)
def write_assignment(body: AssignmentUpdate, session: SessionDep, runner: RunnerDep, settings: SettingsDep,
                     client: RedisDep, supervisor: CurrentSupervisor) -> AssignmentSettings:
    assignment.set_enabled(session, body.auto_assign, supervisor)
    redis_ops.commit(session, runner)
    logger.info("supervisor %s switched auto-assignment %s", supervisor.username, "on" if body.auto_assign else "off")
    if body.auto_assign:  # the tickets already waiting go out now, not only the next new one
        assignment.sweep_after(session, runner, client, settings, "switched_on")
    return _assignment(session)


def team_transfer(session: Session, settings: Settings, client: redis.Redis, ticket_no: str, actor: Agent,
                  team_id: int, note: str | None) -> Ticket:
    """POST /api/tickets/{no}/transfer with a team: back to the team's queue, or on to one of its agents."""
    ticket = teams.transfer_to_team(session, ticket_no, actor, team_id, note)
    assignment.after_team_transfer(session, ticket, presence.live_agents_sync(client, settings), actor)
    return ticket
