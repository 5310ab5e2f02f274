"""The Redis streams between the runtimes and one typed entry per entry type.

All values on a stream are strings. A writer builds an entry and XADDs ``entry.to_fields()``;
a reader calls :func:`parse_ticket_entry` / :func:`parse_outbox_entry`, which return the typed
entry, an :class:`UnknownEntry` for a type this version does not know (wechatpy's habit: a
newer writer must not crash an older reader), or raise :class:`MalformedEntry` for an entry
that can never be processed (the console dead-letters it, the delivery worker reports it).
Readers are lenient where the field is optional and strict where it names something: a
ticket number, a conversation, an idempotency key. Field lists: docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Mapping, Optional, Type, Union

logger = logging.getLogger(__name__)

# Stream names, relative to the key prefix (``KeySpace.stream``); also stored in the console's
# SQL outbox rows, so they never change.
TICKETS = "stream:tickets"
OUTBOX = "stream:outbox"
EVENTS = "stream:events"
TICKETS_DEAD = "stream:tickets:dead"
ALL_STREAMS = (TICKETS, OUTBOX, EVENTS, TICKETS_DEAD)

#: Consumer group of the console on the tickets stream.
CONSOLE_GROUP = "console"
#: Consumer group of the Rasa processes on the outbox stream.
DELIVERY_GROUP = "delivery"

TYPE_FIELD = "type"
MAX_TEXT = 20_000
MAX_KEY = 200
MAX_TICKET_NO = 32
MAX_NAME = 255
SENDER_USER = "user"
SENDER_BOT = "bot"
_ABSURD = dt.timedelta(days=3650)


class MalformedEntry(ValueError):
    """A stream entry that can never be processed (dead-lettered or reported, then acked)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(value: Any) -> Optional[dt.datetime]:
    """ISO 8601 (our entries) or epoch seconds → aware UTC; None when unusable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return parse_time(float(value))
        except ValueError:
            pass
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)):
        try:
            return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _created_at(fields: Mapping[str, str]) -> dt.datetime:
    """The writer's timestamp; a missing or absurd one falls back to now (and says so)."""
    raw = fields.get("created_at")
    parsed = parse_time(raw)
    now = utc_now()
    if parsed is None or abs(parsed - now) > _ABSURD:
        if raw:
            logger.warning("stream entry with unusable created_at; using now")
        return now
    return parsed


def _required(fields: Mapping[str, str], name: str, max_len: int = MAX_NAME) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        raise MalformedEntry(f"missing field {name!r}")
    if len(value) > max_len:
        raise MalformedEntry(f"field {name!r} is longer than {max_len} characters")
    return value


def _optional(fields: Mapping[str, str], name: str, max_len: int, default: str = "") -> str:
    """Stripped and cut to ``max_len``; ``default`` when absent or blank."""
    return (fields.get(name) or "").strip()[:max_len] or default


def _time(value: dt.datetime) -> str:
    return value.isoformat()


def _attempt(value: Optional[str]) -> int:
    """An attempt counter; an entry from an older console (none) or a damaged one is attempt 0."""
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


# --- tickets stream (Rasa side → console, group "console") ------------------------------------


@dataclass(frozen=True)
class TicketRequest:
    """A handoff: the console persists the ticket once per ``idempotency_key``."""

    TYPE: ClassVar[str] = "ticket.request"
    STREAM: ClassVar[str] = TICKETS

    idempotency_key: str
    ticket_no: str
    conversation_id: str
    channel: str = "rest"
    account_no: Optional[str] = None
    # Only an account the resident proved (户号 + phone tail, this session) is "verified";
    # anything else on a ticket is what someone typed, and the console shows no bills for it.
    account_verified: bool = False
    category: str = "request_human"
    priority: str = "normal"
    trigger_kind: str = "intent"  # intent | emotion | fallback
    trigger_name: str = ""
    trigger_confidence: Optional[float] = None
    trigger_text: str = ""
    #: {account_no, holder_masked, address, district, bills, last_messages, intent, emotion, …}
    summary: Dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utc_now)

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "idempotency_key": self.idempotency_key,
            "ticket_no": self.ticket_no,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "account_no": self.account_no or "",
            "account_verified": "1" if self.account_verified else "0",
            "category": self.category,
            "priority": self.priority,
            "trigger_kind": self.trigger_kind,
            "trigger_name": self.trigger_name,
            "trigger_confidence": "" if self.trigger_confidence is None else f"{self.trigger_confidence:.4f}",
            "trigger_text": self.trigger_text,
            "summary": json.dumps(self.summary, ensure_ascii=False),
            "created_at": _time(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketRequest":
        confidence_raw = (fields.get("trigger_confidence") or "").strip()
        confidence: Optional[float] = None
        if confidence_raw:
            try:
                confidence = float(confidence_raw)
            except ValueError:
                raise MalformedEntry("trigger_confidence is not a number") from None
            if not math.isfinite(confidence):
                raise MalformedEntry("trigger_confidence is not finite")
        summary_raw = fields.get("summary") or "{}"
        try:
            summary = json.loads(summary_raw)
        except ValueError:
            logger.warning("ticket request with a summary that is not JSON; kept as text")
            summary = {"text": summary_raw[:MAX_TEXT]}
        if not isinstance(summary, dict):
            summary = {"value": summary}
        category = _optional(fields, "category", 64, "request_human")
        return cls(
            idempotency_key=_required(fields, "idempotency_key", MAX_KEY),
            ticket_no=_required(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=_required(fields, "conversation_id"),
            channel=_optional(fields, "channel", 32, "rest"),
            account_no=_optional(fields, "account_no", 32) or None,
            account_verified=(fields.get("account_verified") or "").strip() == "1",
            category=category,
            priority=(fields.get("priority") or "normal").strip(),
            trigger_kind=_optional(fields, "trigger_kind", 16, "intent"),
            trigger_name=(fields.get("trigger_name") or fields.get("category") or "").strip()[:64],
            trigger_confidence=confidence,
            trigger_text=(fields.get("trigger_text") or "")[:MAX_TEXT],
            summary=summary,
            created_at=_created_at(fields),
        )


@dataclass(frozen=True)
class TicketUserMessage:
    """A resident's message for their ticket (or, ``sender=bot``, what the bot answered meanwhile).

    The console attaches it to the conversation's ticket with the request key ``ticket_key``,
    else with that number (or the number first told) — never by number alone.
    """

    TYPE: ClassVar[str] = "ticket.user_message"
    STREAM: ClassVar[str] = TICKETS

    idempotency_key: str
    ticket_no: str
    conversation_id: str
    text: str
    sender: str = SENDER_USER
    #: The idempotency key of the ticket's request, from the owner key (may be "").
    ticket_key: str = ""
    channel: str = ""
    created_at: dt.datetime = field(default_factory=utc_now)

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "idempotency_key": self.idempotency_key,
            "ticket_no": self.ticket_no,
            "ticket_key": self.ticket_key,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "sender": self.sender,
            "text": self.text,
            "created_at": _time(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketUserMessage":
        text = fields.get("text") or ""
        if not text.strip():
            raise MalformedEntry("missing field 'text'")
        return cls(
            idempotency_key=_required(fields, "idempotency_key", MAX_KEY),
            ticket_no=_required(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=_required(fields, "conversation_id"),
            text=text[:MAX_TEXT],
            sender=SENDER_BOT if fields.get("sender") == SENDER_BOT else SENDER_USER,
            ticket_key=_optional(fields, "ticket_key", MAX_KEY),
            channel=_optional(fields, "channel", 32),
            created_at=_created_at(fields),
        )


@dataclass(frozen=True)
class TicketDetails:
    """The address and/or callback phone the bot collected after a repair ticket was opened."""

    TYPE: ClassVar[str] = "ticket.details"
    STREAM: ClassVar[str] = TICKETS
    MAX_DETAIL: ClassVar[int] = 200

    ticket_no: str
    conversation_id: str = ""
    channel: str = ""
    address: str = ""
    callback_phone: str = ""
    created_at: dt.datetime = field(default_factory=utc_now)

    def details(self) -> Dict[str, str]:
        """What the console merges into the ticket's summary (only what was told)."""
        told = {"address": self.address, "callback_phone": self.callback_phone}
        return {name: value for name, value in told.items() if value}

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "ticket_no": self.ticket_no,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "created_at": _time(self.created_at),
            **self.details(),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketDetails":
        entry = cls(
            ticket_no=_optional(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=_optional(fields, "conversation_id", MAX_NAME),
            channel=_optional(fields, "channel", 32),
            address=_optional(fields, "address", cls.MAX_DETAIL),
            callback_phone=_optional(fields, "callback_phone", cls.MAX_DETAIL),
            created_at=_created_at(fields),
        )
        if not entry.ticket_no or not entry.details():
            raise MalformedEntry("ticket.details without a ticket or details")
        return entry


@dataclass(frozen=True)
class TicketWithdrawn:
    """The resident said 「取消转人工」: the bot owns the conversation again, the console closes it."""

    TYPE: ClassVar[str] = "ticket.withdrawn"
    STREAM: ClassVar[str] = TICKETS
    MAX_WITHDRAWN_TEXT: ClassVar[int] = 500

    ticket_no: str
    conversation_id: str = ""
    text: str = ""
    idempotency_key: str = ""  # "" → withdrawn:{ticket_no}
    created_at: dt.datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            object.__setattr__(self, "idempotency_key", f"withdrawn:{self.ticket_no}")

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "idempotency_key": self.idempotency_key,
            "ticket_no": self.ticket_no,
            "conversation_id": self.conversation_id,
            "text": self.text[: self.MAX_WITHDRAWN_TEXT],
            "created_at": _time(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketWithdrawn":
        ticket_no = _optional(fields, "ticket_no", MAX_TICKET_NO)
        if not ticket_no:
            raise MalformedEntry("ticket.withdrawn without a ticket")
        return cls(
            ticket_no=ticket_no,
            conversation_id=_optional(fields, "conversation_id", MAX_NAME),
            text=(fields.get("text") or "")[: cls.MAX_WITHDRAWN_TEXT],
            idempotency_key=_optional(fields, "idempotency_key", MAX_KEY),
            created_at=_created_at(fields),
        )


@dataclass(frozen=True)
class TicketCsat:
    """A satisfaction score (1–5) the bot may ask for after resolve."""

    TYPE: ClassVar[str] = "ticket.csat"
    STREAM: ClassVar[str] = TICKETS

    ticket_no: str
    score: int
    comment: Optional[str] = None
    idempotency_key: str = ""

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "idempotency_key": self.idempotency_key,
            "ticket_no": self.ticket_no,
            "score": str(self.score),
            "comment": self.comment or "",
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketCsat":
        """Without an idempotency key the entry id makes one."""
        ticket_no = _required(fields, "ticket_no", MAX_TICKET_NO)
        try:
            score = int(fields.get("score", ""))
        except ValueError:
            raise MalformedEntry("score is not an integer") from None
        if not 1 <= score <= 5:
            raise MalformedEntry("score must be between 1 and 5")
        return cls(
            ticket_no=ticket_no,
            score=score,
            comment=_optional(fields, "comment", 1000) or None,
            idempotency_key=_optional(fields, "idempotency_key", MAX_KEY) or f"csat:{ticket_no}:{entry_id}",
        )


@dataclass(frozen=True)
class DeliveryConfirmed:
    """The channel took an agent message: the console marks it ``delivered``."""

    TYPE: ClassVar[str] = "delivery.confirmed"
    STREAM: ClassVar[str] = TICKETS

    ticket_no: str
    conversation_id: str
    message_id: str
    idempotency_key: str = ""  # "" → delivery.confirmed:{message_id}
    created_at: dt.datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            object.__setattr__(self, "idempotency_key", f"{self.TYPE}:{self.message_id}")

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "idempotency_key": self.idempotency_key,
            "ticket_no": self.ticket_no,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "created_at": _time(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "DeliveryConfirmed":
        return cls(
            ticket_no=_optional(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=_required(fields, "conversation_id"),
            message_id=_required(fields, "message_id", 64),
            idempotency_key=_optional(fields, "idempotency_key", MAX_KEY),
            created_at=_created_at(fields),
        )


@dataclass(frozen=True)
class DeliveryFailed:
    """The Rasa side could not deliver a console message (e.g. WeChat's 48-hour window)."""

    TYPE: ClassVar[str] = "delivery.failed"
    STREAM: ClassVar[str] = TICKETS

    ticket_no: str
    reason: str
    message_id: Optional[str] = None  # None: a resolve notice
    conversation_id: str = ""
    idempotency_key: str = ""  # "" → delivery.failed:{message_id}:0
    created_at: dt.datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            object.__setattr__(self, "idempotency_key", f"{self.TYPE}:{self.message_id or ''}:0")

    @classmethod
    def of(cls, entry: Union["OutboxEntry", "UnknownEntry", Mapping[str, str]], reason: str) -> "DeliveryFailed":
        """The failure report of an outbox entry, even of one that could not be parsed; one report
        per attempt (the console dedupes on the key)."""
        if isinstance(entry, Mapping):
            entry = UnknownEntry(str(entry.get(TYPE_FIELD, "")), dict(entry))
        if isinstance(entry, UnknownEntry):
            raw = entry.fields
            ticket_no, conversation_id = raw.get("ticket_no", ""), raw.get("conversation_id", "")
            message_id, attempt = raw.get("message_id", ""), _attempt(raw.get("attempt"))
        else:
            ticket_no, conversation_id = entry.ticket_no, entry.conversation_id
            message_id, attempt = getattr(entry, "message_id", ""), getattr(entry, "attempt", 0)
        return cls(ticket_no=ticket_no, reason=reason, message_id=message_id or None, conversation_id=conversation_id,
                   idempotency_key=f"{cls.TYPE}:{message_id}:{attempt}")

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "idempotency_key": self.idempotency_key,
            "ticket_no": self.ticket_no,
            "message_id": self.message_id or "",
            "conversation_id": self.conversation_id,
            "reason": self.reason,
            "created_at": _time(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "DeliveryFailed":
        """Without a message id (a resolve notice) the entry id makes the key unique."""
        ticket_no = _required(fields, "ticket_no", MAX_TICKET_NO)
        message_id = _optional(fields, "message_id", 64) or None
        key = (fields.get("idempotency_key") or "").strip()
        if not message_id or not key:
            key = f"{cls.TYPE}:{ticket_no}:{entry_id}"
        return cls(
            ticket_no=ticket_no,
            reason=_optional(fields, "reason", 500, "delivery failed"),
            message_id=message_id,
            conversation_id=_optional(fields, "conversation_id", MAX_NAME),
            idempotency_key=key[:MAX_KEY],
            created_at=_created_at(fields),
        )


# --- outbox stream (console → Rasa side, group "delivery") ----------------------------------------


@dataclass(frozen=True)
class AgentMessage:
    """An agent's reply; delivered once per ``message_id`` (the console re-sends unconfirmed ones)."""

    TYPE: ClassVar[str] = "agent.message"
    STREAM: ClassVar[str] = OUTBOX

    message_id: str
    ticket_no: str
    conversation_id: str
    channel: str
    text: str
    agent_name: str = ""
    #: Which send of the message this is: a failure of a retry is a new report, not a duplicate.
    attempt: int = 0

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "message_id": self.message_id,
            "ticket_no": self.ticket_no,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "text": self.text,
            "agent_name": self.agent_name,
            "attempt": str(self.attempt),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "AgentMessage":
        return cls(
            message_id=fields.get("message_id") or "",
            ticket_no=fields.get("ticket_no") or "",
            conversation_id=_required(fields, "conversation_id"),
            channel=fields.get("channel") or "",
            text=fields.get("text") or "",
            agent_name=fields.get("agent_name") or "",
            attempt=_attempt(fields.get("attempt")),
        )


@dataclass(frozen=True)
class TicketResolved:
    """The agents are done: the bot owns the conversation again and greets the resident."""

    TYPE: ClassVar[str] = "ticket.resolved"
    STREAM: ClassVar[str] = OUTBOX

    ticket_no: str
    conversation_id: str
    channel: str

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "ticket_no": self.ticket_no,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketResolved":
        return cls(
            ticket_no=fields.get("ticket_no") or "",
            conversation_id=_required(fields, "conversation_id"),
            channel=fields.get("channel") or "",
        )


@dataclass(frozen=True)
class TicketRenumbered:
    """The console gave the handoff another number (Redis lost its counter): tell the final one."""

    TYPE: ClassVar[str] = "ticket.renumbered"
    STREAM: ClassVar[str] = OUTBOX

    message_id: str
    ticket_no: str
    previous_no: str
    conversation_id: str
    channel: str

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "message_id": self.message_id,
            "ticket_no": self.ticket_no,
            "previous_no": self.previous_no,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketRenumbered":
        return cls(
            message_id=fields.get("message_id") or "",
            ticket_no=fields.get("ticket_no") or "",
            previous_no=fields.get("previous_no") or "",
            conversation_id=_required(fields, "conversation_id"),
            channel=fields.get("channel") or "",
        )


@dataclass(frozen=True)
class UnknownEntry:
    """An entry whose type this version does not know; kept as it came."""

    type: str
    fields: Dict[str, str]

    def to_fields(self) -> Dict[str, str]:
        return dict(self.fields)


TicketEntry = Union[
    TicketRequest, TicketUserMessage, TicketDetails, TicketWithdrawn, TicketCsat, DeliveryConfirmed, DeliveryFailed
]
OutboxEntry = Union[AgentMessage, TicketResolved, TicketRenumbered]

TICKET_ENTRIES: Dict[str, Type[Any]] = {
    cls.TYPE: cls
    for cls in (TicketRequest, TicketUserMessage, TicketDetails, TicketWithdrawn, TicketCsat,
                DeliveryConfirmed, DeliveryFailed)
}
OUTBOX_ENTRIES: Dict[str, Type[Any]] = {cls.TYPE: cls for cls in (AgentMessage, TicketResolved, TicketRenumbered)}


def _parse(registry: Mapping[str, Type[Any]], fields: Mapping[str, str], entry_id: str) -> Any:
    kind = fields.get(TYPE_FIELD) or ""
    entry_type = registry.get(kind)
    if entry_type is None:
        return UnknownEntry(kind, dict(fields))
    return entry_type.from_fields(fields, entry_id)


def parse_ticket_entry(fields: Mapping[str, str], entry_id: str = "") -> Union[TicketEntry, UnknownEntry]:
    """An entry of the tickets stream; raises :class:`MalformedEntry`."""
    return _parse(TICKET_ENTRIES, fields, entry_id)  # type: ignore[no-any-return]


def parse_outbox_entry(fields: Mapping[str, str], entry_id: str = "") -> Union[OutboxEntry, UnknownEntry]:
    """An entry of the outbox stream; raises :class:`MalformedEntry`."""
    return _parse(OUTBOX_ENTRIES, fields, entry_id)  # type: ignore[no-any-return]


# --- console-only streams ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleEvent:
    """A console live event (SSE ``id:`` = stream id); ``type`` is the event's name, e.g.
    ``ticket.created`` (the list is the console's, docs/console_api.md)."""

    type: str
    ticket_no: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)
    ts: Optional[dt.datetime] = field(default_factory=utc_now)

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.type,
            "ticket_no": self.ticket_no or "",
            "data": json.dumps(self.data, ensure_ascii=False, default=str),
            "ts": _time(self.ts) if self.ts else "",
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "ConsoleEvent":
        """Never raises: a damaged event still reaches the browser as what it is."""
        try:
            data = json.loads(fields.get("data") or "{}")
        except ValueError:
            data = {}
        return cls(
            type=fields.get(TYPE_FIELD) or "unknown",
            ticket_no=fields.get("ticket_no") or None,
            data=data if isinstance(data, dict) else {"value": data},
            ts=parse_time(fields.get("ts")),
        )

    def payload(self) -> Dict[str, Any]:
        """What the browser gets: the envelope and the event's data side by side."""
        return {TYPE_FIELD: self.type, "ticket_no": self.ticket_no, "ts": _time(self.ts) if self.ts else None,
                **self.data}


@dataclass(frozen=True)
class DeadLetter:
    """A tickets-stream entry the console cannot process, kept for an operator."""

    ORIGINAL: ClassVar[str] = "orig."

    original_id: str
    error: str
    consumer: str
    fields: Dict[str, str]

    def to_fields(self) -> Dict[str, str]:
        record = {f"{self.ORIGINAL}{name}": value for name, value in self.fields.items()}
        record.update({"original_id": self.original_id, "error": self.error, "consumer": self.consumer})
        return record

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "DeadLetter":
        original = {name[len(cls.ORIGINAL):]: value for name, value in fields.items() if name.startswith(cls.ORIGINAL)}
        return cls(fields.get("original_id") or "", fields.get("error") or "", fields.get("consumer") or "", original)

