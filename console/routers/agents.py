"""Agent accounts: supervisors manage them; every agent may read the directory (transfer targets)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from console import redis_ops
from console.deps import CurrentAgent, CurrentSupervisor, RunnerDep, SessionDep
from console.repository import get_agent
from console.schemas.agents import AgentBrief, AgentCreate, AgentPublic, AgentRename, PasswordReset, agent_brief
from console.services import agents as agent_service

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/agents", tags=["agents"])

AgentId = Annotated[int, Path(ge=1, le=2_147_483_647)]
_SUPERVISOR_ONLY = {403: {"description": "needs a supervisor account"}}


def _public(agent: object) -> AgentPublic:
    return AgentPublic.model_validate(agent, from_attributes=True)


@router.get("", response_model=list[AgentPublic], summary="All accounts (supervisors)", responses=_SUPERVISOR_ONLY)
def list_agents(session: SessionDep, supervisor: CurrentSupervisor) -> list[AgentPublic]:
    return [_public(a) for a in agent_service.list_agents(session)]


@router.post(
    "",
    response_model=AgentPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an account (supervisors)",
    responses={**_SUPERVISOR_ONLY, 409: {"description": "the username is taken"}},
)
def create_agent(body: AgentCreate, session: SessionDep, supervisor: CurrentSupervisor) -> AgentPublic:
    agent = agent_service.create_agent(session, body.username, body.password, body.role, body.display_name)
    session.commit()
    logger.info("supervisor %s created %s account %s", supervisor.username, agent.role, agent.username)
    return _public(agent)


@router.get(
    "/directory",
    response_model=list[AgentBrief],
    summary="Active agents (any logged-in agent; e.g. to pick a transfer target)",
)
def directory(session: SessionDep, agent: CurrentAgent) -> list[AgentBrief]:
    return [agent_brief(a) for a in agent_service.list_agents(session, active_only=True)]


@router.post(
    "/{agent_id}/deactivate",
    response_model=AgentPublic,
    summary="Deactivate an account: its sessions end at once, its open tickets return to the queue",
    responses={**_SUPERVISOR_ONLY, 400: {"description": "you cannot deactivate yourself"},
               404: {"description": "no such agent"}},
)
def deactivate(agent_id: AgentId, session: SessionDep, runner: RunnerDep, supervisor: CurrentSupervisor) -> AgentPublic:
    agent = agent_service.deactivate_agent(session, agent_id, supervisor)
    redis_ops.commit(session, runner)
    logger.info("supervisor %s deactivated %s", supervisor.username, agent.username)
    return _public(agent)


@router.post(
    "/{agent_id}/activate",
    response_model=AgentPublic,
    summary="Re-activate an account",
    responses={**_SUPERVISOR_ONLY, 404: {"description": "no such agent"}},
)
def activate(agent_id: AgentId, session: SessionDep, supervisor: CurrentSupervisor) -> AgentPublic:
    agent = agent_service.activate_agent(session, agent_id, supervisor)
    session.commit()
    return _public(agent)


@router.post(
    "/{agent_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password for an account (its sessions end)",
    responses={**_SUPERVISOR_ONLY, 404: {"description": "no such agent"}},
)
def reset_password(
    agent_id: AgentId, body: PasswordReset, session: SessionDep, supervisor: CurrentSupervisor
) -> Response:
    agent = get_agent(session, agent_id)
    agent_service.set_password(session, agent, body.new_password)
    session.commit()
    logger.info("supervisor %s reset the password of %s", supervisor.username, agent.username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch(
    "/{agent_id}",
    response_model=AgentPublic,
    summary="Set the display name residents are told (supervisors)",
    responses={**_SUPERVISOR_ONLY, 404: {"description": "no such agent"}},
)
def rename(agent_id: AgentId, body: AgentRename, session: SessionDep, supervisor: CurrentSupervisor) -> AgentPublic:
    agent = agent_service.rename_agent(session, get_agent(session, agent_id), body.display_name, supervisor)
    session.commit()
    return _public(agent)
