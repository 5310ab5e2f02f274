"""Account lookup in the ticket side panel (issue 15): the 户号 a resident only typed.

The agent enters the number the resident wrote; the console asks the billing system for that
household and verifies it against the phone tail the *resident* gave in this conversation (the
newest one, to the bot or to the agent, in the current session), never against a tail the agent
types: "verified" keeps meaning that the resident proved the account, as in the bot. The billing
system compares the tail (``verify_phone``); the console never sees the whole phone number.

Without a tail, or with one that does not match, the account is attached unverified (未验证)
and the panel says so. Either way the agent sees the masked holder, the address, the bills with
the late fee by the city's rule and the payments; the ticket carries the account from then on
(``account_no``, ``account_verified``), and every lookup, an unknown number included, is a
``account_lookup`` entry of the ticket's history.

Functions do not commit (the rule of console.services); :func:`look_up` runs in the worker thread of a
sync route and calls the async billing client through ``anyio.from_thread``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
from billing_client.client import AccountNotFound, BillingClient, BillingError
from sqlalchemy.orm import Session

from console import redis_ops
from console.repository import get_ticket
from console.db import utcnow
from console.errors import BadRequestError, NotFoundError, PermissionDeniedError, ServiceUnavailableError
from console.integrations import account_panel, fetch_tracker, late_fee_policy, merge_transcript, summary_items
from console.models import Agent, Ticket
from console.schemas.account_lookup import AccountLookupOut, Verification
from console.schemas.tickets import TranscriptItem, ticket_out
from console.services.audit import audit
from console.services.queries import ticket_messages
from console.settings import Settings
from heatdesk_contract.digits import normalize_digits

logger = logging.getLogger(__name__)

ACCOUNT_NO = re.compile(r"[0-9]{8,10}")
#: Patterns below read ASCII digits only (\d would take other scripts' digits, which no phone has).
BAD_ACCOUNT_NO = "account_no must be 8 to 10 digits (the 户号 printed on the heating bill)."
#: Four digits that are a date, an amount or a house number, not a tail ("2024年", "1000元").
_NOT_TAIL = r"(?![\d年月日号元块度])"
#: "尾号5678", "手机后四位是 5678", "电话：5678".
_CUED_TAIL = re.compile(r"(?:尾号|尾数|后四位|后4位|末四位|末4位|手机|电话)\D{0,6}?(\d{4})" + _NOT_TAIL, re.ASCII)
#: A mobile number, whole or as agents see it masked (138****5678): its last four digits.
_PHONE = re.compile(r"(?<!\d)1\d{2}(?:\d{4}|\*{4})(\d{4})(?!\d)", re.ASCII)
#: "2024000001 5678", "2024000001，5678" (as the bot's form reads it); not "2024000001，2024年".
_AFTER_ACCOUNT = r"[\s,，、;；:：/]{0,3}(\d{4})" + _NOT_TAIL
_ONLY_FOUR = re.compile(r"\D{0,8}?(\d{4})[\s。.!！]*", re.ASCII)

@dataclass
class Outcome:
    """What one lookup did; :meth:`answer` raises the 404 of an unknown number after the commit."""

    result: AccountLookupOut | None
    missing: str | None = None

    def answer(self) -> AccountLookupOut:
        if self.result is None:
            raise NotFoundError(f"The billing system has no account {self.missing}.")
        return self.result


def normalized_account_no(raw: str) -> str:
    """The 户号 as digits, or a 400 with a sentence the agent's client can show."""
    folded = normalize_digits(raw).strip().replace(" ", "")
    if not ACCOUNT_NO.fullmatch(folded):
        raise BadRequestError(BAD_ACCOUNT_NO)
    return folded


def phone_tail_in(text: str, account_no: str) -> str | None:
    """The phone tail one message gives: cued (尾号…), a mobile number, four digits right after
    the 户号, or a message of four digits alone; a year in a sentence is not a tail."""
    folded = normalize_digits(text)
    for pattern in (_CUED_TAIL, _PHONE):
        found = pattern.search(folded)
        if found:
            return found.group(1)
    after = re.search(re.escape(account_no) + _AFTER_ACCOUNT, folded, re.ASCII)
    if after:
        return after.group(1)
    only = _ONLY_FOUR.fullmatch(folded.strip())
    return only.group(1) if only else None


def resident_phone_tail(settings: Settings, session: Session, ticket: Ticket, account_no: str) -> str | None:
    """The newest tail the resident wrote in this ticket's session (to the bot or to the agent)."""
    bot_side = fetch_tracker(settings, ticket.conversation_id)
    if bot_side is None:
        bot_side = summary_items(ticket.summary or {})
    console_side = [
        TranscriptItem(sender="user", text=m.text, ts=m.created_at, source="console")
        for m in ticket_messages(session, ticket) if m.sender == "user"
    ]
    idle = int((settings.city().get("identity") or {}).get("session_idle_minutes", 30))
    since = ticket.created_at - dt.timedelta(minutes=idle)
    for item in reversed(merge_transcript(bot_side, console_side)):
        if item.sender != "user" or (item.ts is not None and item.ts < since):
            continue
        tail = phone_tail_in(item.text, account_no)
        if tail:
            return tail
    return None


async def _billing(client: BillingClient, account_no: str, tail: str | None, today: dt.date,
                   settings: Settings) -> tuple[dict[str, Any], bool]:
    panel = await account_panel(client, account_no, today, late_fee_policy(settings))
    return panel, bool(tail) and await client.verify_phone(account_no, tail or "")


def look_up(
    session: Session, settings: Settings, billing: BillingClient, ticket_no: str, actor: Agent, raw_account_no: str
) -> Outcome:
    """Look the number up, verify it, attach it to the ticket and write the history entry."""
    ticket = get_ticket(session, ticket_no)
    if actor.role != "supervisor" and ticket.assignee_id != actor.id:
        raise PermissionDeniedError(
            f"Only the agent holding ticket {ticket_no} or a supervisor can look up an account on it.")
    account_no = normalized_account_no(raw_account_no)
    tail = resident_phone_tail(settings, session, ticket, account_no)
    try:
        panel, verified = anyio.from_thread.run(_billing, billing, account_no, tail, settings.today(), settings)
    except AccountNotFound:
        audit(session, ticket, actor, "account_lookup", {"account_no": account_no, "found": False})
        return Outcome(None, missing=account_no)
    except BillingError as exc:
        logger.info("account lookup on %s: billing unavailable (%s)", ticket_no, type(exc).__name__)
        raise ServiceUnavailableError("The billing system did not answer; nothing was changed, try again shortly.")
    verification: Verification = "verified" if verified else ("tail_mismatch" if tail else "no_tail")
    _attach(session, ticket, actor, panel, verified, verification)
    return Outcome(AccountLookupOut(account_no=account_no, verified=verified, verification=verification,
                                    phone_tail=tail, account=panel, ticket=ticket_out(ticket, utcnow())))


def _attach(session: Session, ticket: Ticket, actor: Agent, panel: dict[str, Any], verified: bool,
            verification: Verification) -> None:
    """The ticket carries the account from now on; a verified one also names the household in
    the queue row (as a verification in the bot does), an unverified one does not."""
    before = {"account_no": ticket.account_no, "verified": bool(ticket.account_verified)}
    ticket.account_no = panel["account_no"]
    ticket.account_verified = verified
    if verified:
        ticket.summary = {**(ticket.summary or {}), "account_no": panel["account_no"],
                          "holder_masked": panel["holder_masked"], "address": panel["address"],
                          "district": panel["district"]}
        ticket.district = ticket.district or (str(panel["district"])[:64] if panel.get("district") else None)
    ticket.updated_at = utcnow()
    session.flush()
    audit(session, ticket, actor, "account_lookup", {
        "account_no": panel["account_no"], "found": True, "verified": verified,
        "verification": verification, "before": before,
    })
    redis_ops.enqueue_event(session, "ticket.updated", ticket.ticket_no,
                            {"ticket": ticket_out(ticket, utcnow()).model_dump(mode="json")})
