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
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Mapping, Optional, Type, Union

from heatdesk_contract.fields import (
    SENDER_BOT,
    SENDER_USER,
    TYPE_FIELD,
    MalformedEntry,
    UnknownEntry,
    iso,
    parse_time,
    utc_now,
)
from heatdesk_contract.outbox import AgentMessage, OutboxEntry, TicketRenumbered, TicketResolved
from heatdesk_contract.tickets import (
    DeliveryConfirmed,
    DeliveryFailed,
    TicketCsat,
    TicketDetails,
    TicketEntry,
    TicketRequest,
    TicketUserMessage,
    TicketWithdrawn,
)

__all__ = [
    "ALL_STREAMS", "CONSOLE_GROUP", "DELIVERY_GROUP", "EVENTS", "OUTBOX", "OUTBOX_ENTRIES", "SENDER_BOT",
    "SENDER_USER", "TICKETS", "TICKETS_DEAD", "TICKET_ENTRIES", "TYPE_FIELD", "AgentMessage", "ConsoleEvent",
    "DeadLetter", "DeliveryConfirmed", "DeliveryFailed", "MalformedEntry", "OutboxEntry", "TicketCsat",
    "TicketDetails", "TicketEntry", "TicketRenumbered", "TicketRequest", "TicketResolved", "TicketUserMessage",
    "TicketWithdrawn", "UnknownEntry", "parse_outbox_entry", "parse_ticket_entry", "parse_time", "utc_now",
]

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
            "ts": iso(self.ts) if self.ts else "",
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
        return {TYPE_FIELD: self.type, "ticket_no": self.ticket_no, "ts": iso(self.ts) if self.ts else None,
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

