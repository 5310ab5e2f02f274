"""Canned replies (常用语, issue 15): supervisors keep them, agents insert them with "/".

A reply's text may name variables (``{name}``, ``{account}``, ``{unpaid}``, ``{late_fee}``,
``{total}``, ``{ticket_no}``, ``{agent}``, ``{hotline}``), filled from the ticket when an agent
picks it. Personal data is filled masked (张*, 2024****01); a variable the ticket cannot fill
(no verified account, no bills) becomes a visible 【…】 gap for the agent to complete, and the
reply says which ones are missing.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from heatdesk_contract.masking import mask_account
from console.errors import BadRequestError, ConflictError, NotFoundError
from console.messages import CANNED_GAPS
from console.models import Agent, CannedReply, Ticket

VARIABLES = tuple(CANNED_GAPS)


def variables_of(text: str) -> list[str]:
    """The variable names a template uses; BadRequestError for a malformed or unknown one."""
    try:
        names = [field for _literal, field, _spec, _conv in string.Formatter().parse(text) if field is not None]
    except ValueError as exc:
        raise BadRequestError(f"The text is not a valid template ({exc}); write braces as {{{{ and }}}}.") from None
    unknown = sorted({n for n in names if n not in VARIABLES})
    if unknown:
        raise BadRequestError(f"Unknown variables {unknown}; known: {', '.join(VARIABLES)}.")
    return names


def _amount(bills: Sequence[Any], field: str) -> Decimal | None:
    total, seen = Decimal("0"), False
    for bill in bills:
        if isinstance(bill, dict) and bill.get(field) not in (None, ""):
            try:
                total += Decimal(str(bill[field]).replace(",", ""))
                seen = True
            except InvalidOperation:
                continue
    return total if seen else None


def ticket_values(ticket: Ticket, agent: Agent, hotline: str) -> dict[str, str]:
    """What a ticket can fill in; only an account the resident proved gives name and amounts."""
    summary = ticket.summary or {}
    values = {"ticket_no": ticket.ticket_no, "agent": agent.display_name}
    if hotline:
        values["hotline"] = hotline
    if ticket.account_verified and ticket.account_no:
        values["account"] = mask_account(ticket.account_no)
        if summary.get("holder_masked"):
            values["name"] = str(summary["holder_masked"])
        bills = summary.get("bills") or []
        unpaid, late_fee = _amount(bills, "unpaid"), _amount(bills, "late_fee")
        if unpaid is not None:
            values["unpaid"] = f"{unpaid:.2f}"
        if late_fee is not None:
            values["late_fee"] = f"{late_fee:.2f}"
        if unpaid is not None and late_fee is not None:
            values["total"] = f"{unpaid + late_fee:.2f}"
    return values


def render(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """The text with the variables filled; the missing ones as 【…】 gaps, and their names."""
    missing: list[str] = []
    parts: list[str] = []
    for literal, field, _spec, _conv in string.Formatter().parse(text):
        parts.append(literal)
        if field is None:
            continue
        if field in values:
            parts.append(values[field])
        else:
            missing.append(field)
            parts.append(f"【{CANNED_GAPS.get(field, field)}】")
    return "".join(parts), missing


def list_replies(session: Session, category: str | None = None, include_inactive: bool = False) -> Sequence[CannedReply]:
    """Replies for a ticket of ``category`` (its own and the general ones), by shortcut."""
    query = select(CannedReply).order_by(CannedReply.category.is_(None), CannedReply.shortcut)
    if not include_inactive:
        query = query.where(CannedReply.active.is_(True))
    if category is not None:
        query = query.where(or_(CannedReply.category.is_(None), CannedReply.category == category))
    return session.scalars(query).all()


def get_reply(session: Session, reply_id: int) -> CannedReply:
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        raise NotFoundError(f"No canned reply {reply_id}.")
    return reply


def _unique_shortcut(session: Session, shortcut: str, reply_id: int | None = None) -> None:
    other = session.scalar(select(CannedReply.id).where(CannedReply.shortcut == shortcut))
    if other is not None and other != reply_id:
        raise ConflictError(f"The shortcut {shortcut!r} is taken.")


def create_reply(session: Session, shortcut: str, title: str, text: str, category: str | None) -> CannedReply:
    variables_of(text)
    _unique_shortcut(session, shortcut)
    reply = CannedReply(shortcut=shortcut, title=title, text=text, category=category, active=True)
    session.add(reply)
    session.flush()
    return reply


def update_reply(session: Session, reply: CannedReply, changes: dict[str, Any]) -> CannedReply:
    if "text" in changes:
        variables_of(changes["text"])
    if "shortcut" in changes:
        _unique_shortcut(session, changes["shortcut"], reply.id)
    for name, value in changes.items():
        setattr(reply, name, value)
    session.flush()
    return reply
