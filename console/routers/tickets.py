"""Tickets: the queue, one ticket with its transcript, and what agents do to tickets.

Every change is committed together with its Redis side effects (outbox
messages, owner key, live events), which run right after the commit; see
console/redis_ops.py.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import anyio.from_thread
from fastapi import APIRouter, Path, Query, status
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import utcnow
from console.deps import BillingDep, CurrentAgent, RedisDep, RunnerDep, SessionDep, SettingsDep
from console.integrations import (
    AccountNotFound,
    BillingError,
    account_panel,
    fetch_tracker,
    late_fee_policy,
    merge_transcript,
    summary_items,
)
from console.models import Ticket, TicketMessage
from console.routers.teams import team_transfer
from console.repository import get_ticket
from console.schemas.account_lookup import AccountLookupOut, AccountLookupRequest
from console.schemas.common import Priority
from console.schemas.operations import (
    CsatRequest,
    MessageCreate,
    NoteCreate,
    ReopenRequest,
    ResolveRequest,
    TransferRequest,
)
from console.schemas.tickets import (
    AccountPanel,
    MessageCreated,
    NoteOut,
    TicketDetail,
    TicketOut,
    TicketPage,
    TranscriptItem,
    history_out,
    message_out,
    note_out,
    ticket_out,
)
from console.services import account_lookup
from console.services import delivery, operations, queries
from console.services.csat import record_csat

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/tickets", tags=["tickets"])

TicketNo = Annotated[
    str,
    Path(pattern=r"^[A-Za-z0-9_\-]{1,32}$", description="ticket number: GD{yyyymmdd}{seq:04d}",
         examples=["GD202502150001"]),
]
StatusFilter = Literal["new", "assigned", "in_progress", "resolved", "open"]

_ERRORS = {
    403: {"description": "the ticket is held by another agent"},
    404: {"description": "no such ticket"},
    409: {"description": "the ticket's state does not allow this (already claimed, resolved, …)"},
}


def _committed(session: Session, runner: redis_ops.RedisOpRunner, ticket: Ticket, *log: object) -> TicketOut:
    """Commits the change with its Redis side, then logs ``log`` (a format and its values) — only
    once the change held — and answers with the ticket as it now is."""
    redis_ops.commit(session, runner)
    if log:
        logger.info(*log)
    return ticket_out(ticket, utcnow())


def _message_created(message: TicketMessage, sent: bool, ticket: Ticket) -> MessageCreated:
    """``queued``: the outbox entry reached Redis with the commit; ``pending``: the ops worker sends it later."""
    return MessageCreated(message=message_out(message), delivery="queued" if sent else "pending",
                          ticket=ticket_out(ticket, utcnow()))


@router.get("", response_model=TicketPage, summary="List and filter tickets")
def list_tickets(
    session: SessionDep,
    agent: CurrentAgent,
    status_: Annotated[
        list[StatusFilter] | None,
        Query(alias="status", description="repeatable; `open` = new + assigned + in_progress"),
    ] = None,
    priority: Annotated[list[Priority] | None, Query(description="repeatable")] = None,
    category: Annotated[str | None, Query(max_length=64, description="intent name, e.g. complain")] = None,
    district: Annotated[str | None, Query(max_length=64)] = None,
    assignee: Annotated[
        str | None, Query(pattern=r"^(me|unassigned|[0-9]{1,9})$", description="me, unassigned or an agent id")
    ] = None,
    conversation_id: Annotated[str | None, Query(max_length=255)] = None,
    account_no: Annotated[str | None, Query(max_length=32)] = None,
    team: Annotated[
        str | None, Query(pattern=r"^(mine|none|[0-9]{1,9})$", description="mine (my teams), none or a team id")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=64, description="search: ticket number, 户号, phone tail, address or words the resident "
                                         "wrote (every space-separated term must match)"),
    ] = None,
    sort: Annotated[
        Literal["queue", "newest", "oldest", "updated"],
        Query(description="queue: urgent first, then the nearest SLA due time"),
    ] = "queue",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TicketPage:
    flt = queries.TicketFilter(
        status=status_ or (), priority=priority or (), category=category, district=district,
        assignee=assignee, conversation_id=conversation_id, account_no=account_no, text=q, team=team,
    )
    rows, total = queries.list_tickets(session, flt, agent, sort, limit, offset)
    now = utcnow()
    return TicketPage(items=[ticket_out(t, now) for t in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/{ticket_no}",
    response_model=TicketDetail,
    summary="One ticket with its transcript, notes, history and earlier tickets",
    responses={404: _ERRORS[404]},
)
def read_ticket(ticket_no: TicketNo, session: SessionDep, settings: SettingsDep, agent: CurrentAgent) -> TicketDetail:
    ticket = get_ticket(session, ticket_no)
    messages = queries.ticket_messages(session, ticket)
    console_items = [
        TranscriptItem(
            sender=m.sender, text=m.text, ts=m.created_at, source="console", message_id=m.message_id,
            agent_name=m.agent.display_name if m.agent else None,
        )
        for m in messages
    ]
    tracker = fetch_tracker(settings, ticket.conversation_id)
    if tracker is not None:
        transcript, source = merge_transcript(tracker, console_items), "rasa"
    else:
        transcript, source = merge_transcript(summary_items(ticket.summary or {}), console_items), "console"
    now = utcnow()
    base = ticket_out(ticket, now).model_dump()
    return TicketDetail(
        **base,
        summary=ticket.summary or {},
        queue_position=queries.queue_position(session, ticket),
        transcript=transcript,
        transcript_source=source,
        messages=[message_out(m) for m in messages],
        notes=[note_out(n) for n in queries.ticket_notes(session, ticket)],
        history=[history_out(e) for e in queries.ticket_history(session, ticket)],
        related_tickets=[ticket_out(t, now) for t in queries.related_tickets(session, ticket)],
    )


@router.get(
    "/{ticket_no}/account",
    response_model=AccountPanel,
    summary="Live account data from the billing system (masked), for the side panel",
    responses={404: _ERRORS[404]},
)
def ticket_account(
    ticket_no: TicketNo, session: SessionDep, settings: SettingsDep, billing: BillingDep, agent: CurrentAgent
) -> AccountPanel:
    ticket = get_ticket(session, ticket_no)
    if not ticket.account_no:
        return AccountPanel(available=False, account_no=None, error="The ticket has no account number.")
    if not ticket.account_verified:
        # A number the resident only typed (or put in `/request_human{...}`): no bills for it.
        return AccountPanel(available=False, account_no=ticket.account_no, verified=False,
                            error="The account number was not verified by the resident; no billing data is shown.")
    try:
        data = anyio.from_thread.run(
            account_panel, billing, ticket.account_no, settings.today(), late_fee_policy(settings)
        )
    except AccountNotFound:
        return AccountPanel(available=False, account_no=ticket.account_no,
                            error="The billing system has no account with this number.")
    except BillingError as exc:
        logger.info("account panel unavailable: %s", type(exc).__name__)
        return AccountPanel(available=False, account_no=ticket.account_no,
                            error="The billing system did not answer.")
    return AccountPanel(available=True, account_no=ticket.account_no, verified=True, account=data)


@router.post(
    "/{ticket_no}/account-lookup",
    response_model=AccountLookupOut,
    summary="Look up the 户号 the resident typed; verify it against the phone tail they gave; attach it",
    description="Only the agent holding the ticket or a supervisor. The tail comes from the resident's own "
    "messages in this session (never from the agent); without one, or when it does not match, the account is "
    "attached unverified. Recorded in the ticket's history (`account_lookup`).",
    responses={400: {"description": "the 户号 is not 8 to 10 digits"}, 403: _ERRORS[403],
               404: {"description": "no such ticket, or the billing system has no such account"},
               503: {"description": "the billing system did not answer"}},
)
def lookup_account(
    ticket_no: TicketNo, body: AccountLookupRequest, session: SessionDep, settings: SettingsDep,
    billing: BillingDep, runner: RunnerDep, agent: CurrentAgent,
) -> AccountLookupOut:
    outcome = account_lookup.look_up(session, settings, billing, ticket_no, agent, body.account_no)
    redis_ops.commit(session, runner)
    return outcome.answer()


@router.post(
    "/{ticket_no}/claim",
    response_model=TicketOut,
    summary="Claim an unassigned ticket (exactly one of several agents wins; the others get 409)",
    responses={404: _ERRORS[404], 409: _ERRORS[409]},
)
def claim(ticket_no: TicketNo, session: SessionDep, runner: RunnerDep, agent: CurrentAgent) -> TicketOut:
    ticket, changed = operations.claim_ticket(session, ticket_no, agent)
    log = ("ticket %s claimed by %s", ticket_no, agent.username) if changed else ()
    return _committed(session, runner, ticket, *log)


@router.post(
    "/{ticket_no}/transfer",
    response_model=TicketOut,
    summary="Hand a ticket to another agent, or to a team's queue (its holder or a supervisor)",
    description="`{agent_id}`: the agent holds it now. `{team_id}`: it goes back to the queue, waiting for that "
    "team (with auto-assignment on, on to the team's least-loaded online agent at once).",
    responses={400: {"description": "already assigned to that agent, or already waiting for that team"}, **_ERRORS},
)
def transfer(
    ticket_no: TicketNo, body: TransferRequest, session: SessionDep, runner: RunnerDep, agent: CurrentAgent,
    settings: SettingsDep, client: RedisDep,
) -> TicketOut:
    if body.team_id is not None:
        ticket = team_transfer(session, settings, client, ticket_no, agent, body.team_id, body.note)
    else:
        ticket = operations.transfer_ticket(session, ticket_no, agent, int(body.agent_id or 0), body.note)
    return _committed(session, runner, ticket, "ticket %s transferred by %s to %s", ticket_no, agent.username,
                      f"team {body.team_id}" if body.team_id else f"agent {body.agent_id}")


@router.post(
    "/{ticket_no}/messages",
    response_model=MessageCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Send a message to the user through their own channel",
    description="Stored first; the first one sets first_human_reply_at; the ticket becomes in_progress; "
    "an `agent.message` entry goes to heatdesk:stream:outbox for the Rasa side to deliver.",
    responses=_ERRORS,
)
def send_message(
    ticket_no: TicketNo, body: MessageCreate, session: SessionDep, runner: RunnerDep, agent: CurrentAgent
) -> MessageCreated:
    message, ticket, created = operations.add_agent_message(session, ticket_no, agent, body.text, body.client_message_id)
    delivered = redis_ops.commit(session, runner)
    if created:
        logger.info("agent %s replied on %s", agent.username, ticket_no)
    return _message_created(message, delivered, ticket)


MessageId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="the message's message_id")]


@router.post(
    "/{ticket_no}/messages/{message_id}/retry",
    response_model=MessageCreated,
    summary="Send a failed agent message again",
    description="Only a message whose delivery_status is `failed`: it becomes `queued` and goes to the "
    "outbox again with the same message_id (the resident's side drops a copy it already has).",
    responses=_ERRORS,
)
def retry_message(
    ticket_no: TicketNo, message_id: MessageId, session: SessionDep, runner: RunnerDep, agent: CurrentAgent
) -> MessageCreated:
    message = delivery.retry_delivery(session, ticket_no, message_id, agent)
    sent = redis_ops.commit(session, runner)
    logger.info("agent %s retried message %s on %s", agent.username, message_id, ticket_no)
    return _message_created(message, sent, get_ticket(session, ticket_no))


@router.post(
    "/{ticket_no}/notes",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a private note (never sent to the user)",
    responses={404: _ERRORS[404]},
)
def add_note(
    ticket_no: TicketNo, body: NoteCreate, session: SessionDep, runner: RunnerDep, agent: CurrentAgent
) -> NoteOut:
    note = operations.add_note(session, ticket_no, agent, body.text)
    redis_ops.commit(session, runner)
    return note_out(note)


@router.post(
    "/{ticket_no}/resolve",
    response_model=TicketOut,
    summary="Resolve: the conversation goes back to the bot and the user is told",
    description="Sets resolved_at, deletes heatdesk:owner:{conversation_id} (unless a newer ticket owns it), "
    "removes the ticket from heatdesk:queue and sends `ticket.resolved` to the outbox.",
    responses=_ERRORS,
)
def resolve(
    ticket_no: TicketNo, body: ResolveRequest, session: SessionDep, runner: RunnerDep, agent: CurrentAgent
) -> TicketOut:
    ticket = operations.resolve_ticket(session, ticket_no, agent, body.resolution_category, body.resolution_note)
    return _committed(session, runner, ticket, "ticket %s resolved by %s (%s)", ticket_no, agent.username,
                      body.resolution_category)


@router.post(
    "/{ticket_no}/reopen",
    response_model=TicketOut,
    summary="Reopen a resolved ticket; the agent who reopens it holds it and the conversation again",
    responses={404: _ERRORS[404], 409: _ERRORS[409]},
)
def reopen(
    ticket_no: TicketNo, session: SessionDep, runner: RunnerDep, agent: CurrentAgent, body: ReopenRequest | None = None
) -> TicketOut:
    ticket = operations.reopen_ticket(session, ticket_no, agent, body.reason if body else None)
    return _committed(session, runner, ticket, "ticket %s reopened by %s", ticket_no, agent.username)


@router.post(
    "/{ticket_no}/csat",
    response_model=TicketOut,
    summary="Record the user's satisfaction score (1–5) on a resolved ticket",
    responses={404: _ERRORS[404], 409: _ERRORS[409]},
)
def csat(
    ticket_no: TicketNo, body: CsatRequest, session: SessionDep, runner: RunnerDep, agent: CurrentAgent
) -> TicketOut:
    ticket = record_csat(session, ticket_no, body.score, body.comment, agent, require_resolved=True)
    return _committed(session, runner, ticket)
