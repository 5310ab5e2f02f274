"""Entries of the tickets stream (Rasa side → console, consumer group ``console``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Mapping, Optional, Union

from heatdesk_contract.fields import (
    MAX_KEY,
    MAX_NAME,
    MAX_TEXT,
    MAX_TICKET_NO,
    SENDER_BOT,
    SENDER_USER,
    TYPE_FIELD,
    MalformedEntry,
    UnknownEntry,
    attempt_of,
    created_at,
    iso,
    optional,
    required,
    utc_now,
)
from heatdesk_contract.outbox import OutboxEntry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketRequest:
    """A handoff: the console persists the ticket once per ``idempotency_key``."""

    TYPE: ClassVar[str] = "ticket.request"

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
            "created_at": iso(self.created_at),
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
        category = optional(fields, "category", 64, "request_human")
        return cls(
            idempotency_key=required(fields, "idempotency_key", MAX_KEY),
            ticket_no=required(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=required(fields, "conversation_id"),
            channel=optional(fields, "channel", 32, "rest"),
            account_no=optional(fields, "account_no", 32) or None,
            account_verified=(fields.get("account_verified") or "").strip() == "1",
            category=category,
            priority=(fields.get("priority") or "normal").strip(),
            trigger_kind=optional(fields, "trigger_kind", 16, "intent"),
            trigger_name=(fields.get("trigger_name") or fields.get("category") or "").strip()[:64],
            trigger_confidence=confidence,
            trigger_text=(fields.get("trigger_text") or "")[:MAX_TEXT],
            summary=summary,
            created_at=created_at(fields),
        )


@dataclass(frozen=True)
class TicketUserMessage:
    """A resident's message for their ticket (or, ``sender=bot``, what the bot answered meanwhile).

    The console attaches it to the conversation's ticket with the request key ``ticket_key``,
    else with that number (or the number first told) — never by number alone.
    """

    TYPE: ClassVar[str] = "ticket.user_message"

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
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketUserMessage":
        text = fields.get("text") or ""
        if not text.strip():
            raise MalformedEntry("missing field 'text'")
        return cls(
            idempotency_key=required(fields, "idempotency_key", MAX_KEY),
            ticket_no=required(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=required(fields, "conversation_id"),
            text=text[:MAX_TEXT],
            sender=SENDER_BOT if fields.get("sender") == SENDER_BOT else SENDER_USER,
            ticket_key=optional(fields, "ticket_key", MAX_KEY),
            channel=optional(fields, "channel", 32),
            created_at=created_at(fields),
        )


@dataclass(frozen=True)
class TicketDetails:
    """The address and/or callback phone the bot collected after a repair ticket was opened."""

    TYPE: ClassVar[str] = "ticket.details"
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
            "created_at": iso(self.created_at),
            **self.details(),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketDetails":
        entry = cls(
            ticket_no=optional(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=optional(fields, "conversation_id", MAX_NAME),
            channel=optional(fields, "channel", 32),
            address=optional(fields, "address", cls.MAX_DETAIL),
            callback_phone=optional(fields, "callback_phone", cls.MAX_DETAIL),
            created_at=created_at(fields),
        )
        if not entry.ticket_no or not entry.details():
            raise MalformedEntry("ticket.details without a ticket or details")
        return entry


@dataclass(frozen=True)
class TicketWithdrawn:
    """The resident said 「取消转人工」: the bot owns the conversation again, the console closes it."""

    TYPE: ClassVar[str] = "ticket.withdrawn"
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
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketWithdrawn":
        ticket_no = optional(fields, "ticket_no", MAX_TICKET_NO)
        if not ticket_no:
            raise MalformedEntry("ticket.withdrawn without a ticket")
        return cls(
            ticket_no=ticket_no,
            conversation_id=optional(fields, "conversation_id", MAX_NAME),
            text=(fields.get("text") or "")[: cls.MAX_WITHDRAWN_TEXT],
            idempotency_key=optional(fields, "idempotency_key", MAX_KEY),
            created_at=created_at(fields),
        )


@dataclass(frozen=True)
class TicketCsat:
    """A satisfaction score (1–5) the bot may ask for after resolve."""

    TYPE: ClassVar[str] = "ticket.csat"

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
        ticket_no = required(fields, "ticket_no", MAX_TICKET_NO)
        try:
            score = int(fields.get("score", ""))
        except ValueError:
            raise MalformedEntry("score is not an integer") from None
        if not 1 <= score <= 5:
            raise MalformedEntry("score must be between 1 and 5")
        return cls(
            ticket_no=ticket_no,
            score=score,
            comment=optional(fields, "comment", 1000) or None,
            idempotency_key=optional(fields, "idempotency_key", MAX_KEY) or f"csat:{ticket_no}:{entry_id}",
        )


@dataclass(frozen=True)
class DeliveryConfirmed:
    """The channel took an agent message: the console marks it ``delivered``."""

    TYPE: ClassVar[str] = "delivery.confirmed"

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
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "DeliveryConfirmed":
        return cls(
            ticket_no=optional(fields, "ticket_no", MAX_TICKET_NO),
            conversation_id=required(fields, "conversation_id"),
            message_id=required(fields, "message_id", 64),
            idempotency_key=optional(fields, "idempotency_key", MAX_KEY),
            created_at=created_at(fields),
        )


@dataclass(frozen=True)
class DeliveryFailed:
    """The Rasa side could not deliver a console message (e.g. WeChat's 48-hour window)."""

    TYPE: ClassVar[str] = "delivery.failed"

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
    def of(
        cls, entry: Union["OutboxEntry", "UnknownEntry", Mapping[str, str]], reason: str, entry_id: str = ""
    ) -> "DeliveryFailed":
        """The failure report of an outbox entry, even of one that could not be parsed; one report
        per outbox entry (`entry_id`; the attempt number without it): the console dedupes on the key."""
        if isinstance(entry, Mapping):
            entry = UnknownEntry(str(entry.get(TYPE_FIELD, "")), dict(entry))
        if isinstance(entry, UnknownEntry):
            raw = entry.fields
            ticket_no, conversation_id = raw.get("ticket_no", ""), raw.get("conversation_id", "")
            message_id, attempt = raw.get("message_id", ""), attempt_of(raw.get("attempt"))
        else:
            ticket_no, conversation_id = entry.ticket_no, entry.conversation_id
            message_id, attempt = getattr(entry, "message_id", ""), getattr(entry, "attempt", 0)
        return cls(ticket_no=ticket_no, reason=reason, message_id=message_id or None, conversation_id=conversation_id,
                   idempotency_key=f"{cls.TYPE}:{message_id}:{entry_id or attempt}")

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "idempotency_key": self.idempotency_key,
            "ticket_no": self.ticket_no,
            "message_id": self.message_id or "",
            "conversation_id": self.conversation_id,
            "reason": self.reason,
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "DeliveryFailed":
        """Without a message id (a resolve notice) the entry id makes the key unique."""
        ticket_no = required(fields, "ticket_no", MAX_TICKET_NO)
        message_id = optional(fields, "message_id", 64) or None
        key = (fields.get("idempotency_key") or "").strip()
        if not message_id or not key:
            key = f"{cls.TYPE}:{ticket_no}:{entry_id}"
        return cls(
            ticket_no=ticket_no,
            reason=optional(fields, "reason", 500, "delivery failed"),
            message_id=message_id,
            conversation_id=optional(fields, "conversation_id", MAX_NAME),
            idempotency_key=key[:MAX_KEY],
            created_at=created_at(fields),
        )


TicketEntry = Union[
    TicketRequest, TicketUserMessage, TicketDetails, TicketWithdrawn, TicketCsat, DeliveryConfirmed, DeliveryFailed
]
