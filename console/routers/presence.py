"""Agent presence (issue 15): an agent switches online / away / offline in the header; supervisors
see everyone's presence and open-ticket load (console/services/presence.py)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Path

from console import redis_ops
from console.deps import CurrentAgent, CurrentSupervisor, RedisDep, RunnerDep, SessionDep, SettingsDep
from console.models import Agent
from console.repository import get_agent
from console.schemas.agents import agent_brief
from console.schemas.teams import AgentPresence, PresenceOut, PresenceUpdate, TeamBrief
from console.services import assignment, presence, teams

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["presence"])

AgentId = Annotated[int, Path(ge=1, le=2_147_483_647)]
_SUPERVISOR_ONLY = {403: {"description": "needs a supervisor account"}}


def _out(agent: Agent, live: dict[int, float]) -> PresenceOut:
    until = live.get(agent.id)
    return PresenceOut(
        agent_id=agent.id, chosen=agent.presence_status, status=presence.effective(agent.presence_status, bool(until)),
        on_duty_until=dt.datetime.fromtimestamp(until, dt.timezone.utc) if until else None,
    )


@router.get("/me/presence", response_model=PresenceOut, summary="My presence")
def my_presence(agent: CurrentAgent, settings: SettingsDep, client: RedisDep) -> PresenceOut:
    return _out(agent, presence.live_agents_sync(client, settings))


@router.put("/me/presence", response_model=PresenceOut, summary="Switch my presence: online, away or offline")
def set_my_presence(body: PresenceUpdate, agent: CurrentAgent, session: SessionDep, runner: RunnerDep,
                    settings: SettingsDep, client: RedisDep) -> PresenceOut:
    if presence.set_status(session, agent, body.status, agent):
        logger.info("agent %s is %s", agent.username, body.status)
    redis_ops.commit(session, runner)
    presence.apply(client, settings, agent, own_request=True)
    if agent.presence_status == presence.ONLINE:
        assignment.sweep_after(session, runner, client, settings, "online")
    return _out(agent, presence.live_agents_sync(client, settings))


@router.get("/agents/presence", response_model=list[AgentPresence],
            summary="Every active account's presence and open-ticket load (supervisors)", responses=_SUPERVISOR_ONLY)
def roster(session: SessionDep, settings: SettingsDep, client: RedisDep,
           supervisor: CurrentSupervisor) -> list[AgentPresence]:
    live = presence.live_agents_sync(client, settings)
    lines = presence.roster(session, live)
    memberships = teams.teams_of(session, [line.agent.id for line in lines])
    return [
        AgentPresence(
            agent_id=line.agent.id, chosen=line.agent.presence_status, status=line.status,
            on_duty_until=line.on_duty_until, agent=agent_brief(line.agent), last_seen_at=line.last_seen_at,
            open_tickets=line.open_tickets,
            teams=[TeamBrief.model_validate(t) for t in memberships.get(line.agent.id, [])],
        )
        for line in lines
    ]


@router.put("/agents/{agent_id}/presence", response_model=PresenceOut,
            summary="Set an agent's presence (supervisors), e.g. away for someone who left the console open",
            description="Offline takes the agent off duty at once; online or away only changes their choice: "
                        "whether they are on duty is for their console to say.",
            responses={**_SUPERVISOR_ONLY, 404: {"description": "no such agent"}})
def set_presence(agent_id: AgentId, body: PresenceUpdate, session: SessionDep, runner: RunnerDep,
                 settings: SettingsDep, client: RedisDep, supervisor: CurrentSupervisor) -> PresenceOut:
    agent = get_agent(session, agent_id)
    if presence.set_status(session, agent, body.status, supervisor):
        logger.info("supervisor %s set %s %s", supervisor.username, agent.username, body.status)
    redis_ops.commit(session, runner)
    presence.apply(client, settings, agent, own_request=agent.id == supervisor.id)
    if agent.presence_status == presence.ONLINE:
        assignment.sweep_after(session, runner, client, settings, "online")
    return _out(agent, presence.live_agents_sync(client, settings))
