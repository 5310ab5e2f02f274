"""What agents send to change a ticket: a reply, a note, a transfer, a resolve, a reopen, a CSAT score."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from console.schemas.common import ResolutionCategory, not_blank


class MessageCreate(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    client_message_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="optional idempotency key: resending the same id returns the first message",
    )

    _strip = field_validator("text")(not_blank)


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=4000)

    _strip = field_validator("text")(not_blank)


class TransferRequest(BaseModel):
    agent_id: int = Field(gt=0, le=2_147_483_647)  # as AgentId in routers/agents.py; SQL integers are bounded
    note: str | None = Field(default=None, max_length=1000)


class ResolveRequest(BaseModel):
    resolution_category: ResolutionCategory
    resolution_note: str | None = Field(default=None, max_length=2000)


class ReopenRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=1000)


class CsatRequest(BaseModel):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)
