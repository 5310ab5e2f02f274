"""Presence, teams and auto-assignment (issue 15): how a team appears on tickets, and the bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from console.schemas.agents import AgentBrief

PresenceStatus = Literal["online", "away", "offline"]


class TeamBrief(BaseModel):
    """How a team appears on tickets (the queue a ticket waits in)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str

AgentIdItem = Annotated[int, Field(gt=0, le=2_147_483_647)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
TeamName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class PresenceUpdate(BaseModel):
    status: PresenceStatus = Field(description="online: takes tickets; away: on duty, takes no new tickets "
                                               "(auto-assignment and follow-ups skip you); offline: off duty")


class PresenceOut(BaseModel):
    agent_id: int
    chosen: PresenceStatus = Field(description="what the agent chose")
    status: PresenceStatus = Field(description="effective: offline when the console was not seen within "
                                               "CONSOLE_PRESENCE_SECONDS, else the choice")
    on_duty_until: dt.datetime | None = Field(description="when the agent stops counting as on duty without "
                                                          "another request or heartbeat")


class AgentPresence(PresenceOut):
    """One line of the supervisors' agents page."""

    agent: AgentBrief
    last_seen_at: dt.datetime | None = Field(description="the latest activity of any of the agent's sessions")
    open_tickets: int = Field(description="tickets the agent holds that are not resolved")
    teams: list[TeamBrief]


class TeamOut(TeamBrief):
    members: list[AgentBrief]
    categories: list[str] = Field(description="ticket categories (intent names) whose new tickets wait for this team")
    waiting: int = Field(description="unclaimed tickets waiting in the team's queue")


class TeamCreate(BaseModel):
    name: TeamName = Field(description="e.g. 维修调度, 收费 (unique)")
    member_ids: list[AgentIdItem] = Field(default_factory=list, max_length=500)
    categories: list[Category] = Field(default_factory=list, max_length=100,
                                       description="intent names, e.g. report_leak; a category belongs to one team")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class TeamUpdate(BaseModel):
    """Only what is sent changes; member_ids and categories replace the team's lists."""

    name: TeamName | None = None
    member_ids: list[AgentIdItem] | None = Field(default=None, max_length=500)
    categories: list[Category] | None = Field(default=None, max_length=100)


class AssignmentSettings(BaseModel):
    auto_assign: bool = Field(description="new tickets go to the online agent with the fewest open tickets "
                                          "(within the ticket's team, if it has one)")
    updated_at: dt.datetime | None = None
    updated_by: AgentBrief | None = None


class AssignmentUpdate(BaseModel):
    auto_assign: bool
