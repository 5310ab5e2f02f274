"""How a ticket, its messages, notes and history are shown, and the conversions from rows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from console.schemas.agents import AgentBrief, agent_brief
from console.schemas.common import Priority, SlaStatus, Status
from console.schemas.teams import TeamBrief
from heatdesk_contract.masking import mask_account


class TriggerOut(BaseModel):
    kind: str = Field(description="intent | emotion | fallback")
    name: str = Field(description="intent name, emotion label (angry) or fallback")
    confidence: float | None
    text: str = Field(description="the user message that fired the handoff")


class TicketOut(BaseModel):
    """One row of the queue."""

    ticket_no: str
    conversation_id: str
    channel: str
    account_no: str | None
    account_verified: bool = Field(
        False, description="True only when the resident proved the account (户号 + phone tail) in the bot"
    )
    district: str | None
    category: str
    priority: Priority
    status: Status
    trigger: TriggerOut
    assignee: AgentBrief | None
    created_at: dt.datetime
    assigned_at: dt.datetime | None
    first_human_reply_at: dt.datetime | None
    resolved_at: dt.datetime | None
    sla_due_at: dt.datetime
    sla_status: SlaStatus = Field(description="met: first human reply before the due time; "
                                  "breached: replied late or still unanswered after it; pending otherwise")
    sla_seconds_left: int | None = Field(description="seconds until the SLA due time (negative when overdue); "
                                         "null once a human has replied")
    resolution_category: str | None
    resolution_note: str | None
    csat_score: int | None
    csat_comment: str | None
    reopen_count: int
    last_message_at: dt.datetime | None
    updated_at: dt.datetime
    last_user_text: str | None = Field(
        None, description="the resident's last message, masked and cut to one short line (queue rows)")
    waiting_since: dt.datetime | None = Field(
        None, description="since when the resident has been waiting for a human reply; null when not waiting")
    waiting_seconds: int | None = Field(None, description="seconds since waiting_since, when the answer was made")
    holder_masked: str | None = Field(None, description="the account holder's masked name (张*), when verified")
    account_masked: str | None = Field(None, description="the 户号 masked (2024****01), when verified")
    follow_up_of: str | None = Field(
        None, description="the conversation's ticket resolved shortly before this one (CONSOLE_FOLLOW_UP_HOURS)")
    team: TeamBrief | None = Field(None, description="the team whose queue the ticket waits in (its category's, "
                                                     "or a transfer to a team); null: everyone's")


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int
    limit: int
    offset: int


class MessageOut(BaseModel):
    message_id: str
    sender: Literal["user", "bot", "agent"]
    text: str
    created_at: dt.datetime
    agent: AgentBrief | None
    delivery_error: str | None = Field(
        default=None, description="set when the user's channel refused this agent message (e.g. WeChat 48 h window)"
    )
    delivery_status: Literal["queued", "delivered", "failed"] | None = Field(
        default=None, description="agent messages only: queued until the channel confirms or gives up"
    )
    delivery_attempt: int = Field(
        default=0, description="agent messages only: which send the status belongs to (a retry is the next)"
    )


class NoteOut(BaseModel):
    id: int
    text: str
    created_at: dt.datetime
    agent: AgentBrief | None


class HistoryOut(BaseModel):
    """One audit entry of a ticket (claimed, transferred, resolved, …)."""

    id: int
    kind: str
    detail: dict[str, Any]
    created_at: dt.datetime
    agent: AgentBrief | None


class TranscriptItem(BaseModel):
    sender: Literal["user", "bot", "agent"]
    text: str
    ts: dt.datetime | None
    agent_name: str | None = None
    source: Literal["rasa", "console", "summary"] = Field(
        description="rasa: the bot's tracker; console: the console's own record; "
        "summary: the last messages the bot attached to the ticket (tracker unreachable)"
    )
    message_id: str | None = None


class TicketDetail(TicketOut):
    summary: dict[str, Any]
    queue_position: int | None = Field(description="1-based position among unclaimed tickets; null when claimed")
    transcript: list[TranscriptItem]
    transcript_source: Literal["rasa", "console"]
    messages: list[MessageOut]
    notes: list[NoteOut]
    history: list[HistoryOut]
    related_tickets: list[TicketOut] = Field(description="earlier tickets of the same conversation or account")


class MessageCreated(BaseModel):
    message: MessageOut
    delivery: Literal["queued", "pending"] = Field(
        description="queued: on the outbox stream; pending: saved, Redis unreachable, retried automatically"
    )
    ticket: TicketOut


class AccountPanel(BaseModel):
    """Live billing data for the side panel (phone and name masked)."""

    available: bool
    account_no: str | None
    verified: bool = False
    account: dict[str, Any] | None = None
    error: str | None = None


def sla_state(ticket: Any, now: dt.datetime) -> tuple[SlaStatus, int | None]:
    """SLA of the first human reply; a ticket closed without a reply counts by its close time."""
    due = ticket.sla_due_at
    answered_at = ticket.first_human_reply_at or (ticket.resolved_at if ticket.status == "resolved" else None)
    if answered_at is not None:
        return ("met" if answered_at <= due else "breached"), None
    left = int((due - now).total_seconds())
    return ("breached" if left < 0 else "pending"), left


def ticket_out(ticket: Any, now: dt.datetime) -> TicketOut:
    status, left = sla_state(ticket, now)
    return TicketOut(
        ticket_no=ticket.ticket_no,
        conversation_id=ticket.conversation_id,
        channel=ticket.channel,
        account_no=ticket.account_no,
        account_verified=bool(ticket.account_verified),
        district=ticket.district,
        category=ticket.category,
        priority=ticket.priority,
        status=ticket.status,
        trigger=TriggerOut(kind=ticket.trigger_kind, name=ticket.trigger_name,
                           confidence=ticket.trigger_confidence, text=ticket.trigger_text),
        assignee=agent_brief(ticket.assignee) if ticket.assignee else None,
        created_at=ticket.created_at,
        assigned_at=ticket.assigned_at,
        first_human_reply_at=ticket.first_human_reply_at,
        resolved_at=ticket.resolved_at,
        sla_due_at=ticket.sla_due_at,
        sla_status=status,
        sla_seconds_left=left,
        resolution_category=ticket.resolution_category,
        resolution_note=ticket.resolution_note,
        csat_score=ticket.csat_score,
        csat_comment=ticket.csat_comment,
        reopen_count=ticket.reopen_count,
        last_message_at=ticket.last_message_at,
        updated_at=ticket.updated_at,
        **queue_row(ticket, now),
        team=TeamBrief.model_validate(ticket.team) if getattr(ticket, "team", None) is not None else None,
    )


def queue_row(ticket: Any, now: dt.datetime) -> dict[str, Any]:
    """What a queue row says about a ticket beyond its state (issue 15); names only when verified."""
    waiting = getattr(ticket, "waiting_since", None) if ticket.status != "resolved" else None
    verified = bool(ticket.account_verified) and bool(ticket.account_no)
    holder = (ticket.summary or {}).get("holder_masked") if verified else None
    return {
        "last_user_text": getattr(ticket, "last_user_text", None),
        "waiting_since": waiting,
        "waiting_seconds": max(0, int((now - waiting).total_seconds())) if waiting is not None else None,
        "holder_masked": str(holder) if holder else None,
        "account_masked": mask_account(ticket.account_no) if verified else None,
        "follow_up_of": (ticket.summary or {}).get("follow_up_of") or None,
    }


def message_out(message: Any) -> MessageOut:
    return MessageOut(
        message_id=message.message_id,
        sender=message.sender,
        text=message.text,
        created_at=message.created_at,
        agent=agent_brief(message.agent) if message.agent else None,
        delivery_error=message.delivery_error,
        delivery_status=message.delivery_status,
        delivery_attempt=message.delivery_attempts or 0,
    )


def note_out(note: Any) -> NoteOut:
    return NoteOut(id=note.id, text=note.text, created_at=note.created_at,
                   agent=agent_brief(note.agent) if note.agent else None)


def history_out(event: Any) -> HistoryOut:
    return HistoryOut(id=event.id, kind=event.kind, detail=event.detail or {}, created_at=event.created_at,
                      agent=agent_brief(event.agent) if event.agent else None)
