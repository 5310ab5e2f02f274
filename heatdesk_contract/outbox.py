"""Entries of the outbox stream (console → Rasa side, consumer group ``delivery``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Dict, Mapping, Union

from heatdesk_contract.fields import TYPE_FIELD, attempt_of, required


@dataclass(frozen=True)
class AgentMessage:
    """An agent's reply; delivered once per ``message_id`` (the console re-sends unconfirmed ones)."""

    TYPE: ClassVar[str] = "agent.message"

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
            conversation_id=required(fields, "conversation_id"),
            channel=fields.get("channel") or "",
            text=fields.get("text") or "",
            agent_name=fields.get("agent_name") or "",
            attempt=attempt_of(fields.get("attempt")),
        )


@dataclass(frozen=True)
class TicketResolved:
    """The agents are done: the bot owns the conversation again and greets the resident.

    ``ask_csat``: the bot asks the resident to rate the service (a person answered them);
    absent on the wire means yes.
    """

    TYPE: ClassVar[str] = "ticket.resolved"

    ticket_no: str
    conversation_id: str
    channel: str
    ask_csat: bool = True

    def to_fields(self) -> Dict[str, str]:
        return {
            TYPE_FIELD: self.TYPE,
            "ticket_no": self.ticket_no,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "ask_csat": "1" if self.ask_csat else "0",
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], entry_id: str = "") -> "TicketResolved":
        return cls(
            ticket_no=fields.get("ticket_no") or "",
            conversation_id=required(fields, "conversation_id"),
            channel=fields.get("channel") or "",
            ask_csat=(fields.get("ask_csat") or "1") != "0",
        )


@dataclass(frozen=True)
class TicketRenumbered:
    """The console gave the handoff another number (Redis lost its counter): tell the final one."""

    TYPE: ClassVar[str] = "ticket.renumbered"

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
            conversation_id=required(fields, "conversation_id"),
            channel=fields.get("channel") or "",
        )


OutboxEntry = Union[AgentMessage, TicketResolved, TicketRenumbered]
