"""Canned replies: as supervisors manage them, and filled in for one ticket."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.schemas.common import not_blank


class CannedReplyOut(BaseModel):
    """A canned reply as supervisors manage it (the template, variables unfilled)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    shortcut: str = Field(description="what an agent types after \"/\", e.g. 欠费")
    title: str
    text: str = Field(description="the template; variables: {name} {account} {unpaid} {late_fee} {total} "
                                  "{ticket_no} {agent} {hotline}")
    category: str | None = Field(description="offered only on tickets of this category (intent); null = all")
    active: bool


class CannedReplyCreate(BaseModel):
    shortcut: str = Field(min_length=1, max_length=32, pattern=r"^\S+$")
    title: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)
    category: str | None = Field(default=None, max_length=64, description="null or empty: every ticket")

    @field_validator("title", "text")
    @classmethod
    def _filled(cls, value: str) -> str:
        return not_blank(value)

    @field_validator("category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class CannedReplyUpdate(BaseModel):
    shortcut: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^\S+$")
    title: str | None = Field(default=None, min_length=1, max_length=64)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    category: str | None = Field(default=None, max_length=64, description="null or empty: every ticket")
    active: bool | None = None

    @field_validator("title", "text")
    @classmethod
    def _filled(cls, value: str | None) -> str | None:
        return None if value is None else not_blank(value)

    def changes(self) -> dict[str, Any]:
        """What was sent; a null shortcut, title, text or active means "unchanged"."""
        sent = self.model_dump(exclude_unset=True)
        changes = {k: v for k, v in sent.items() if v is not None or k == "category"}
        if "category" in changes:
            changes["category"] = changes["category"] or None
        return changes


class CannedReplyFilled(BaseModel):
    """A canned reply filled in for one ticket, ready to insert in the composer."""

    id: int
    shortcut: str
    title: str
    category: str | None
    text: str = Field(description="variables filled; the ones the ticket cannot fill appear as 【…】")
    missing: list[str] = Field(description="variables the ticket could not fill (no verified account, no bills)")
