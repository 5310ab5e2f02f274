"""Request and response bodies of the console API (what /docs shows)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heatdesk_contract.masking import mask_account
from console.security import MIN_PASSWORD_LENGTH

Role = Literal["agent", "supervisor"]
Status = Literal["new", "assigned", "in_progress", "resolved"]
Priority = Literal["urgent", "high", "normal"]
ResolutionCategory = Literal[
    "answered",
    "billing_adjusted",
    "repair_dispatched",
    "complaint_recorded",
    "escalated",
    "no_response",
    "duplicate",
    "other",
    "withdrawn",
]
SlaStatus = Literal["pending", "met", "breached"]
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{2,64}$"


def _not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


# --- agents and auth ---------------------------------------------------------------


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


class TeamBrief(BaseModel):
    """How a team appears on tickets (the queue a ticket waits in)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


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
        return None if value is None else _not_blank(value)


class AgentRename(BaseModel):
    display_name: str = Field(min_length=1, max_length=64,
                              description="The name residents are told, e.g. 小王 (\"客服小王正在处理您的问题\")")

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return _not_blank(value)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)


class PasswordReset(BaseModel):
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)


# --- tickets -------------------------------------------------------------------------


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


class MessageCreate(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    client_message_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="optional idempotency key: resending the same id returns the first message",
    )

    _strip = field_validator("text")(_not_blank)


class MessageCreated(BaseModel):
    message: MessageOut
    delivery: Literal["queued", "pending"] = Field(
        description="queued: on the outbox stream; pending: saved, Redis unreachable, retried automatically"
    )
    ticket: TicketOut


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=4000)

    _strip = field_validator("text")(_not_blank)


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


class AccountPanel(BaseModel):
    """Live billing data for the side panel (phone and name masked)."""

    available: bool
    account_no: str | None
    verified: bool = False
    account: dict[str, Any] | None = None
    error: str | None = None


# --- metrics -------------------------------------------------------------------------


class DurationStats(BaseModel):
    count: int
    avg_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None


class OldestWaiting(BaseModel):
    ticket_no: str
    created_at: dt.datetime
    waiting_seconds: int
    priority: str


class QueueStats(BaseModel):
    length: int = Field(description="unclaimed tickets (status new)")
    open: int = Field(description="tickets not yet resolved")
    by_status: dict[str, int]
    by_priority: dict[str, int] = Field(description="unclaimed tickets by priority")
    oldest_waiting: OldestWaiting | None


class SlaStats(BaseModel):
    met: int
    breached: int
    pending: int
    attainment: float | None = Field(description="met / (met + breached); null when nothing is decided yet")


class HandoffStats(BaseModel):
    tickets: int
    conversations: int | None
    rate: float | None
    conversations_source: Literal["redis", "unavailable"]


class DayCount(BaseModel):
    date: dt.date
    count: int


class DistrictCount(BaseModel):
    district: str
    count: int


class DistrictArrears(BaseModel):
    """One district of the billing system's arrears report (amounts in yuan, two decimals)."""

    district: str
    accounts: int = Field(description="households in arrears")
    households: int
    amount: str = Field(description="total owed: unpaid principal plus late fees")
    unpaid_principal: str
    late_fees: str
    credit_warnings: int = Field(description="households overdue beyond the 征信 threshold")


class ArrearsStats(BaseModel):
    available: bool
    as_of: dt.date
    items: list[DistrictArrears]
    error: str | None = None


class CsatStats(BaseModel):
    count: int
    average: float | None


class Window(BaseModel):
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    timezone: str

    model_config = ConfigDict(populate_by_name=True)


class Dashboard(BaseModel):
    generated_at: dt.datetime
    window: Window
    queue: QueueStats
    first_response: DurationStats
    handle_time: DurationStats
    sla: SlaStats
    handoff: HandoffStats
    tickets_per_day: list[DayCount]
    complaints_per_day: list[DayCount]
    complaints_per_district: list[DistrictCount]
    csat: CsatStats
    arrears_by_district: ArrearsStats


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    redis: str
    #: "aof", "rdb", "none" or "unknown" (CONFIG refused): a warning, never a failure.
    redis_persistence: str = "unknown"
    warnings: list[str] = []


# --- conversions from rows -----------------------------------------------------------


def agent_brief(agent: Any) -> AgentBrief:
    return AgentBrief.model_validate(agent, from_attributes=True)


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
        return _not_blank(value)

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
        return None if value is None else _not_blank(value)

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
