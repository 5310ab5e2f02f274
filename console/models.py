"""The console's tables: agents and their sessions, tickets, messages, notes, audit events.

The console is the one writer of ticket rows (DESIGN.md); Redis only carries
requests and live events, so every ticket fact here survives a Redis restart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.db import Base, UTCDateTime, utcnow

ROLES = ("agent", "supervisor")
STATUSES = ("new", "assigned", "in_progress", "resolved")
OPEN_STATUSES = ("new", "assigned", "in_progress")
PRIORITIES = ("urgent", "high", "normal")
CHANNELS_KNOWN = ("rest", "widget", "wechat")
#: What an agent chose in the header (console/services/presence.py); offline also when not seen.
PRESENCE_STATUSES = ("online", "away", "offline")
TRIGGER_KINDS = ("intent", "emotion", "fallback")
RESOLUTION_CATEGORIES = (
    "answered",
    "billing_adjusted",
    "repair_dispatched",
    "complaint_recorded",
    "escalated",
    "no_response",
    "duplicate",
    "other",
    "withdrawn",  # the resident cancelled the handoff ("取消转人工") before or while being served
)


class Agent(Base):
    """A person who logs in to the console (agent or supervisor)."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The agent's own choice (online / away / offline); whether the console is open is Redis's.
    presence_status: Mapped[str] = mapped_column(String(16), default="online", server_default="online")


class AgentSession(Base):
    """A server-side login session; the cookie carries a signed random token.

    Keeping sessions in the database is what lets deactivation and logout take
    effect on the very next request.
    """

    __tablename__ = "agent_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    agent: Mapped[Agent] = relationship(lazy="joined")


class Ticket(Base):
    """A handoff ticket (DESIGN.md: fields and lifecycle new → assigned → in_progress → resolved)."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    # The number the resident was first told when it was already taken (Redis lost its counter)
    # and the console renumbered the ticket; their messages may still carry it.
    requested_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    account_no: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    account_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    district: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[str] = mapped_column(String(16), index=True)
    trigger_kind: Mapped[str] = mapped_column(String(16))
    trigger_name: Mapped[str] = mapped_column(String(64))
    trigger_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    trigger_text: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True, default="new")
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_human_reply_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sla_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolution_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    csat_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    csat_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    csat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Queue rows (issue 15): the resident's last message (masked, one line), since when they have
    # been waiting for a human reply (cleared by an agent's reply), and the searchable facts
    # (console/search.py keeps them on every ORM write).
    last_user_text: Mapped[str | None] = mapped_column(String(200), nullable=True)
    waiting_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The team whose queue the ticket waits in (its category's team, or a transfer to a team).
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL", name="fk_tickets_team_id"), nullable=True, index=True
    )

    assignee: Mapped[Agent | None] = relationship(lazy="joined")
    team: Mapped["Team | None"] = relationship(lazy="joined")

    __table_args__ = (Index("ix_tickets_status_created", "status", "created_at"),)


class TicketMessage(Base):
    """A message of the live chat: the user's (from the stream) or an agent's reply."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(16))  # user | agent
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Set when the Rasa side reports it could not deliver this agent message (delivery.failed).
    delivery_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivery_failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Agent messages: queued → delivered (the channel confirmed) | failed (it gave up); the console
    # re-sends a message still queued after a while (Redis may have lost the outbox entry).
    delivery_status: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    agent: Mapped[Agent | None] = relationship(lazy="joined")


class Note(Base):
    """A private note: seen by agents only, never sent to the user."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    agent: Mapped[Agent | None] = relationship(lazy="joined")


class TicketEvent(Base):
    """Audit trail: who did what to which ticket (and agent administration)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # For events that come from the stream (delivery.failed, csat): a retry is recognised.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    agent: Mapped[Agent | None] = relationship(lazy="joined")


class CannedReply(Base):
    """A canned reply (常用语) supervisors manage; agents insert it with "/" (console/canned.py).

    ``text`` may hold variables such as ``{name}`` or ``{late_fee}``, filled from the ticket.
    A reply with a category is offered on tickets of that category only.
    """

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Team(Base):
    """A group of agents (维修调度, 收费) that tickets of its categories wait for (console/services/teams.py)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    members: Mapped[list[Agent]] = relationship(secondary=team_members, lazy="selectin", order_by=Agent.id)
    categories: Mapped[list["TeamCategory"]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="TeamCategory.category"
    )


class TeamCategory(Base):
    """A ticket category (intent name) and the one team its tickets go to."""

    __tablename__ = "team_categories"

    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)


class ConsoleSetting(Base):
    """A switch supervisors set in the console (e.g. ``auto_assign``), kept across restarts."""

    __tablename__ = "console_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )

    updated_by: Mapped[Agent | None] = relationship(lazy="joined")


class RedisOp(Base):
    """A Redis side effect written in the same transaction as the row it follows.

    Transactional outbox: an agent's reply or a resolve is committed together
    with the Redis work it implies, then executed; if Redis is down the
    background worker retries, so nothing is lost and nothing is half-done.
    """

    __tablename__ = "redis_ops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    op: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


# The reminder tables live with their package; imported here so that every user of the metadata
# (Alembic's env.py, the schema comparison in the tests) sees the whole schema.
from console.reminders import models as _reminder_models  # noqa: E402,F401
