"""What agents send to change a ticket: a reply, a note, a transfer, a resolve, a reopen, a CSAT score."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator

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
    """To an agent, or to a team (the ticket goes back to the queue, waiting for that team)."""

    agent_id: int | None = Field(default=None, gt=0, le=2_147_483_647)  # SQL integers are bounded
    team_id: int | None = Field(default=None, gt=0, le=2_147_483_647)
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_target(self) -> "TransferRequest":
        if (self.agent_id is None) == (self.team_id is None):
            raise ValueError("give either agent_id or team_id")
        return self


class ResolveRequest(BaseModel):
    resolution_category: ResolutionCategory
    resolution_note: str | None = Field(default=None, max_length=2000)


class ReopenRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=1000)


class CsatRequest(BaseModel):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)
