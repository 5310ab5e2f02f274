"""Queue rows and ticket search (issue 15): what a row says about a ticket, and the search box.

Search is portable: a case-insensitive LIKE over each ticket's searchable facts
(``tickets.search_text``: number, 户号, district, address, masked name and phone, what the
resident told the bot before the handoff), its trigger text and the texts of its messages, on
SQLite and PostgreSQL alike. A phone tail matches because phone numbers are kept masked with
their last four digits (138****5678). On PostgreSQL, migration 0005 adds trigram (pg_trgm) GIN
indexes where the extension can be created; the same ILIKE then uses them instead of a scan.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, event, exists, or_, select

from console.models import Ticket, TicketMessage
from heatdesk_contract.masking import mask_phone, mask_text

#: Indexes that exist only on PostgreSQL with pg_trgm (created by migration 0005, not the models).
TRIGRAM_INDEXES = ("ix_tickets_search_trgm", "ix_ticket_messages_text_trgm")
PREVIEW_CHARS = 60
SEARCH_TEXT_MAX = 4000
MAX_TERMS = 5
_SPACE = re.compile(r"\s+")


def preview(text: str | None) -> str | None:
    """One line of at most PREVIEW_CHARS characters, for a queue row (already masked text)."""
    line = _SPACE.sub(" ", text or "").strip()
    if not line:
        return None
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def search_facts(
    ticket_no: str | None, requested_no: str | None, account_no: str | None, district: str | None,
    summary: dict[str, Any] | None,
) -> str:
    """The searchable facts of one ticket, as one string (personal data masked)."""
    summary = summary or {}
    parts: list[str] = [ticket_no or "", requested_no or "", account_no or "", district or ""]
    for name in ("account_no", "address", "district", "holder_masked"):
        parts.append(str(summary.get(name) or ""))
    phone = summary.get("callback_phone")
    if phone:
        parts.append(mask_phone(str(phone)) or "")
    for message in summary.get("last_messages") or []:
        if isinstance(message, dict) and message.get("sender") == "user":
            parts.append(mask_text(str(message.get("text") or "")))
    return " ".join(p.strip() for p in parts if p and p.strip())[:SEARCH_TEXT_MAX]


@event.listens_for(Ticket, "before_insert")
@event.listens_for(Ticket, "before_update")
def _keep_search_text(_mapper: Any, _connection: Any, ticket: Ticket) -> None:
    """Every ORM write of a ticket refreshes its facts (number, account and summary change that way)."""
    ticket.search_text = search_facts(ticket.ticket_no, ticket.requested_no, ticket.account_no, ticket.district,
                                      ticket.summary)


def _pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_condition(query: str) -> ColumnElement[bool]:
    """Tickets matching every whitespace-separated term in their facts, trigger or messages."""
    terms = [t for t in _SPACE.split(query.strip()) if t][:MAX_TERMS]
    conditions = []
    for term in terms:
        pattern = _pattern(term)
        conditions.append(or_(
            Ticket.search_text.ilike(pattern, escape="\\"),
            Ticket.trigger_text.ilike(pattern, escape="\\"),
            exists(select(TicketMessage.id).where(
                TicketMessage.ticket_id == Ticket.id, TicketMessage.text.ilike(pattern, escape="\\"))),
        ))
    return and_(*conditions)
