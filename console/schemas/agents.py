"""Agents as the API shows them, and the bodies of login and account management."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.schemas.common import USERNAME_PATTERN, Role, not_blank
from console.security import MIN_PASSWORD_LENGTH


class AgentBrief(BaseModel):
    """How an agent appears on tickets, messages and notes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role


class AgentPublic(AgentBrief):
    """An agent account as supervisors manage it (never the password hash)."""

    active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    deactivated_at: dt.datetime | None
    presence_status: Literal["online", "away", "offline"] = Field(
        "online", description="what the agent chose in the header; GET /api/agents/presence says who is on duty")


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class AgentCreate(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, description="Latin letters, digits, _ . -")
    display_name: str | None = Field(default=None, max_length=64, description="Shown to users, e.g. 客服小王")
    role: Role = "agent"
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        return None if value is None else not_blank(value)


class AgentRename(BaseModel):
    display_name: str = Field(min_length=1, max_length=64,
                              description="The name residents are told, e.g. 小王 (\"客服小王正在处理您的问题\")")

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return not_blank(value)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)


class PasswordReset(BaseModel):
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)


def agent_brief(agent: Any) -> AgentBrief:
    return AgentBrief.model_validate(agent, from_attributes=True)
