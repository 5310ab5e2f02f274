"""Data access: every read and write of agents, sessions and tickets goes through here.

State changes are conditional UPDATEs (``... WHERE status = 'new' AND
assignee_id IS NULL``) so that two agents racing for a ticket are decided by
the database, identically on SQLite and PostgreSQL. Functions do not commit;
the caller commits with :func:`console.redis_ops.commit` so that the Redis side
effects recorded here run only after the rows are durable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import UTCDateTime, utcnow
from console.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from console.messages import DEFAULT_DISPLAY_NAME
from console.search import preview, search_condition
from console.models import (
    OPEN_STATUSES,
    PRIORITIES,
    Agent,
    AgentSession,
    Note,
    Ticket,
    TicketEvent,
    TicketMessage,
)
from console.schemas import agent_brief, message_out, note_out, ticket_out
from console.security import (
    hash_password,
    needs_rehash,
    new_session_token,
    same_secret,
    token_digest,
    verify_password,
)
from console.settings import Settings
from heatdesk_contract import keys as contract_keys
from heatdesk_contract.masking import mask_text
from heatdesk_contract.streams import (
    AgentMessage,
    DeliveryFailed,
    TicketRenumbered,
    TicketRequest,
    TicketResolved,
    TicketUserMessage,
)

SESSION_TOUCH_INTERVAL = dt.timedelta(seconds=60)


def _ts(value: dt.datetime) -> Any:
    """A bound timestamp typed as UTCDateTime (plain binds inside SQL functions are untyped)."""
    return literal(value, type_=UTCDateTime())


# --- agents ----------------------------------------------------------------------------


def normalize_username(username: str) -> str:
    return username.strip().lower()


def get_agent_by_username(session: Session, username: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.username == normalize_username(username)))


def get_agent(session: Session, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFoundError(f"No agent with id {agent_id}.")
    return agent


def list_agents(session: Session, active_only: bool = False) -> Sequence[Agent]:
    query = select(Agent).order_by(Agent.username)
    if active_only:
        query = query.where(Agent.active.is_(True))
    return session.scalars(query).all()


def create_agent(
    session: Session, username: str, password: str, role: str = "agent", display_name: str | None = None
) -> Agent:
    name = normalize_username(username)
    if get_agent_by_username(session, name) is not None:
        raise ConflictError(f"An agent named {name!r} already exists.")
    agent = Agent(
        username=name,
        display_name=display_name or "",
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    session.add(agent)
    session.flush()
    if not display_name:  # residents see this name: never the login (issue 15)
        agent.display_name = DEFAULT_DISPLAY_NAME.format(number=agent.id)
    audit(session, None, None, "agent.created", {"agent_id": agent.id, "username": name, "role": role})
    return agent


def rename_agent(session: Session, agent: Agent, display_name: str, actor: Agent) -> Agent:
    """The name residents are told ("客服{name}正在处理"); tickets claimed from now on carry it."""
    before = agent.display_name
    agent.display_name = display_name
    session.flush()
    audit(session, None, actor, "agent.renamed", {"agent_id": agent.id, "from": before, "to": display_name})
    return agent


def set_password(session: Session, agent: Agent, password: str) -> None:
    """New hash and every existing session revoked (a reset should log the old holder out)."""
    agent.password_hash = hash_password(password)
    revoke_agent_sessions(session, agent.id)
    audit(session, None, None, "agent.password_set", {"agent_id": agent.id})


def ensure_admin(session: Session, username: str, password: str) -> Agent:
    """The bootstrap supervisor from CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD."""
    agent = get_agent_by_username(session, username)
    if agent is None:
        return create_agent(session, username, password, role="supervisor")
    if not verify_password(agent.password_hash, password):
        set_password(session, agent, password)
    agent.role = "supervisor"
    agent.active = True
    agent.deactivated_at = None
    return agent


def deactivate_agent(session: Session, agent_id: int, actor: Agent | None) -> Agent:
    """Disable an account: sessions die at once and open tickets go back to the queue."""
    agent = get_agent(session, agent_id)
    if actor is not None and agent.id == actor.id:
        raise BadRequestError("You cannot deactivate your own account.")
    if not agent.active:
        return agent
    now = utcnow()
    agent.active = False
    agent.deactivated_at = now
    revoke_agent_sessions(session, agent.id)
    tickets = session.scalars(
        select(Ticket).where(Ticket.assignee_id == agent.id, Ticket.status.in_(OPEN_STATUSES))
    ).all()
    for ticket in tickets:
        ticket.assignee_id = None
        ticket.status = "new"
        ticket.updated_at = now
        session.flush()
        session.refresh(ticket)
        audit(session, ticket, actor, "requeued", {"reason": "assignee deactivated", "from_agent_id": agent.id})
        redis_ops.enqueue(session, "queue_add", ticket_no=ticket.ticket_no, score=queue_score(ticket))
        redis_ops.enqueue_event(session, "ticket.requeued", ticket.ticket_no, {"ticket": _snapshot(ticket)})
    audit(session, None, actor, "agent.deactivated", {"agent_id": agent.id, "requeued": len(tickets)})
    redis_ops.enqueue_event(session, "agent.deactivated", None, {"agent_id": agent.id})
    return agent


def activate_agent(session: Session, agent_id: int, actor: Agent | None) -> Agent:
    agent = get_agent(session, agent_id)
    if not agent.active:
        agent.active = True
        agent.deactivated_at = None
        audit(session, None, actor, "agent.activated", {"agent_id": agent.id})
    return agent


# --- sessions ------------------------------------------------------------------------


def authenticate(session: Session, username: str, password: str) -> Agent | None:
    """The agent for these credentials, or None; same work whether or not the user exists."""
    agent = get_agent_by_username(session, username)
    valid = verify_password(agent.password_hash if agent else None, password)
    if agent is None or not valid or not agent.active:
        return None
    if needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
    agent.last_login_at = utcnow()
    return agent


def create_session(session: Session, agent: Agent, lifetime: dt.timedelta) -> str:
    """A new random session token (returned once; only its digest is stored)."""
    token = new_session_token()
    now = utcnow()
    session.add(
        AgentSession(token_hash=token_digest(token), agent_id=agent.id, created_at=now,
                     last_seen_at=now, expires_at=now + lifetime)
    )
    return token


def agent_for_token(session: Session, token: str) -> Agent | None:
    """The active agent of a live session, or None (revoked, expired, deactivated)."""
    digest = token_digest(token)
    row = session.scalar(select(AgentSession).where(AgentSession.token_hash == digest))
    now = utcnow()
    # compare_digest too: the lookup must not depend on a collation's idea of equality.
    if row is None or not same_secret(row.token_hash, digest):
        return None
    if row.revoked_at is not None or row.expires_at <= now or not row.agent.active:
        return None
    if now - row.last_seen_at > SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        session.commit()
    return row.agent


def revoke_session(session: Session, token: str) -> None:
    session.execute(
        update(AgentSession)
        .where(AgentSession.token_hash == token_digest(token), AgentSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_agent_sessions(session: Session, agent_id: int) -> None:
    session.execute(
        update(AgentSession)
        .where(AgentSession.agent_id == agent_id, AgentSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# --- audit -----------------------------------------------------------------------------


def audit(
    session: Session,
    ticket: Ticket | None,
    actor: Agent | None,
    kind: str,
    detail: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id if ticket else None,
            agent_id=actor.id if actor else None,
            kind=kind,
            detail=detail or {},
            idempotency_key=idempotency_key,
            created_at=utcnow(),
        )
    )


def seen_event(session: Session, idempotency_key: str) -> bool:
    return session.scalar(select(TicketEvent.id).where(TicketEvent.idempotency_key == idempotency_key)) is not None


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return ticket_out(ticket, utcnow()).model_dump(mode="json")


# --- tickets from the Rasa side --------------------------------------------------------


def next_ticket_no(session: Session, day: str) -> str:
    """The day's next free number ``GD{day}{seq:04d}``, from SQL (the unique index decides races)."""
    prefix = f"GD{day}"
    numbers = session.scalars(select(Ticket.ticket_no).where(Ticket.ticket_no.like(prefix + "%"))).all()
    seqs = [int(number[len(prefix):]) for number in numbers if number[len(prefix):].isdigit()]
    return f"{prefix}{max(seqs, default=0) + 1:04d}"


def _ticket_day(request: TicketRequest) -> str:
    day = request.ticket_no[2:10]
    return day if request.ticket_no.startswith("GD") and day.isdigit() else request.created_at.strftime("%Y%m%d")


def create_ticket(session: Session, settings: Settings, request: TicketRequest) -> tuple[Ticket, bool]:
    """Persist a ticket request once; a retried request returns the existing ticket.

    The number comes from a Redis counter that a Redis restart may reset: when it already
    belongs to another ticket, the request is renumbered from SQL (never dropped), the owner
    key follows, and the resident is told the final number through the outbox.
    """
    existing = session.scalar(select(Ticket).where(Ticket.idempotency_key == request.idempotency_key))
    if existing is not None:
        return existing, False
    ticket_no, requested_no = request.ticket_no, None
    same_no = session.scalar(select(Ticket).where(Ticket.ticket_no == request.ticket_no))
    if same_no is not None:
        if same_no.conversation_id == request.conversation_id and same_no.status in OPEN_STATUSES:
            return same_no, False
        ticket_no, requested_no = next_ticket_no(session, _ticket_day(request)), request.ticket_no
    priority = request.priority if request.priority in PRIORITIES else "normal"
    district = request.summary.get("district")
    ticket = Ticket(
        ticket_no=ticket_no,
        requested_no=requested_no,
        idempotency_key=request.idempotency_key,
        conversation_id=request.conversation_id,
        channel=request.channel,
        account_no=request.account_no or (str(request.summary.get("account_no") or "") or None),
        account_verified=request.account_verified,
        district=str(district)[:64] if district else None,
        category=request.category,
        priority=priority,
        trigger_kind=request.trigger_kind,
        trigger_name=request.trigger_name,
        trigger_confidence=request.trigger_confidence,
        trigger_text=mask_text(request.trigger_text),
        last_user_text=preview(mask_text(request.trigger_text)),
        waiting_since=request.created_at,
        summary=request.summary,
        status="new",
        created_at=request.created_at,
        received_at=utcnow(),
        sla_due_at=request.created_at + dt.timedelta(minutes=settings.sla_minutes(priority)),
        last_message_at=request.created_at,
        updated_at=utcnow(),
    )
    session.add(ticket)
    session.flush()
    audit(session, ticket, None, "created", {"trigger_kind": ticket.trigger_kind, "trigger_name": ticket.trigger_name})
    if requested_no is not None:
        _renumbered(session, ticket, requested_no)
    redis_ops.enqueue_event(session, "ticket.created", ticket.ticket_no, {"ticket": _snapshot(ticket)})
    # Re-score with this ticket's own SLA due time, so the bot tells the position shown here.
    redis_ops.enqueue(session, "queue_add", ticket_no=ticket.ticket_no, score=queue_score(ticket))
    return ticket, True


def _renumbered(session: Session, ticket: Ticket, requested_no: str) -> None:
    """The owner key, the queue, the day's counter and the resident learn the final number."""
    audit(session, ticket, None, "renumbered", {"from": requested_no, "to": ticket.ticket_no})
    redis_ops.enqueue(session, "owner_renumber", conversation_id=ticket.conversation_id,
                      ticket_no=ticket.ticket_no, previous_no=requested_no, ticket_key=ticket.idempotency_key,
                      score=ticket.created_at.timestamp(), queued=ticket.status == "new")
    redis_ops.enqueue(session, "counter_raise", day=ticket.ticket_no[2:10], seq=int(ticket.ticket_no[10:]))
    redis_ops.enqueue_outbox(session, TicketRenumbered(
        message_id=uuid.uuid4().hex, ticket_no=ticket.ticket_no, previous_no=requested_no,
        conversation_id=ticket.conversation_id, channel=ticket.channel,
    ))


def ticket_of_conversation(session: Session, conversation_id: str, ticket_no: str, ticket_key: str = "") -> Ticket:
    """The conversation's ticket named by its request key, else by its (possibly first) number.

    Never by number alone: after a Redis restart two conversations may have been told one number.
    """
    mine = select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id.desc()).limit(1)
    ticket = session.scalar(mine.where(Ticket.idempotency_key == ticket_key)) if ticket_key else None
    if ticket is None:
        ticket = session.scalar(mine.where(or_(Ticket.ticket_no == ticket_no, Ticket.requested_no == ticket_no)))
    if ticket is None:
        raise NotFoundError(f"No ticket {ticket_no} of this conversation (yet).")
    return ticket


def add_user_message(session: Session, message: TicketUserMessage) -> tuple[TicketMessage, bool]:
    """Attach a user's message to its ticket once (idempotent on the stream's key)."""
    existing = session.scalar(
        select(TicketMessage).where(TicketMessage.idempotency_key == message.idempotency_key)
    )
    if existing is not None:
        return existing, False
    ticket = ticket_of_conversation(session, message.conversation_id, message.ticket_no, message.ticket_key)
    row = TicketMessage(
        message_id=uuid.uuid4().hex,
        idempotency_key=message.idempotency_key,
        ticket_id=ticket.id,
        sender=message.sender,
        text=mask_text(message.text),  # agents see phone and ID-card numbers masked
        created_at=message.created_at,
    )
    session.add(row)
    if ticket.last_message_at is None or message.created_at > ticket.last_message_at:
        ticket.last_message_at = message.created_at
    if message.sender == "user":  # in the order the stream delivers them (the Rasa side's clock is coarser)
        ticket.last_user_text = preview(row.text) or ticket.last_user_text
    if message.sender == "user" and ticket.status in OPEN_STATUSES and ticket.waiting_since is None:
        ticket.waiting_since = message.created_at
    ticket.updated_at = utcnow()
    session.flush()
    redis_ops.enqueue_event(
        session, "ticket.message", ticket.ticket_no,
        {"ticket": _snapshot(ticket), "message": message_out(row).model_dump(mode="json")},
    )
    return row, True


def record_delivery_failure(session: Session, failure: DeliveryFailed) -> bool:
    """Mark the agent's message as undelivered and tell the agents; False for a repeat."""
    if seen_event(session, failure.idempotency_key):
        return False
    ticket = get_ticket(session, failure.ticket_no)
    message = None
    if failure.message_id:
        message = session.scalar(
            select(TicketMessage).where(TicketMessage.message_id == failure.message_id,
                                        TicketMessage.ticket_id == ticket.id)
        )
        if message is not None and message.delivery_status != "delivered":
            message.delivery_error = failure.reason
            message.delivery_failed_at = utcnow()
            message.delivery_status = "failed"
    ticket.updated_at = utcnow()
    session.flush()
    detail = {"message_id": failure.message_id, "reason": failure.reason}
    audit(session, ticket, None, "delivery_failed", detail, idempotency_key=failure.idempotency_key)
    redis_ops.enqueue_event(session, "ticket.delivery_failed", ticket.ticket_no, {
        "ticket": _snapshot(ticket), **detail,
        "message": message_out(message).model_dump(mode="json") if message is not None else None,
    })
    return True


def record_delivery_confirmed(session: Session, ticket_no: str, conversation_id: str, message_id: str) -> bool:
    """The channel delivered an agent message (``delivery.confirmed``); False for a repeat."""
    message = session.scalar(
        select(TicketMessage).join(Ticket, TicketMessage.ticket_id == Ticket.id)
        .where(TicketMessage.message_id == message_id, Ticket.conversation_id == conversation_id)
    )
    if message is None:
        raise NotFoundError(f"No message {message_id} on the tickets of this conversation.")
    if message.delivery_status == "delivered":
        return False
    message.delivery_status = "delivered"
    message.delivered_at = utcnow()
    message.delivery_error = None
    session.flush()
    ticket = session.get(Ticket, message.ticket_id)
    redis_ops.enqueue_event(session, "ticket.message_delivered", ticket.ticket_no if ticket else ticket_no,
                            {"message": message_out(message).model_dump(mode="json")})
    return True


def _send_agent_message(session: Session, ticket: Ticket, message: TicketMessage) -> None:
    """Queue an agent message on the outbox; the SQL row stays the source for re-sends."""
    agent = message.agent or (session.get(Agent, message.agent_id) if message.agent_id else None)
    redis_ops.enqueue_outbox(session, AgentMessage(
        message_id=message.message_id, ticket_no=ticket.ticket_no, conversation_id=ticket.conversation_id,
        channel=ticket.channel, text=message.text, agent_name=agent.display_name if agent else "",
        # Each send is its own attempt: a failure of a retry is a new report, not a duplicate.
        attempt=message.delivery_attempts or 0,
    ))


def retry_delivery(session: Session, ticket_no: str, message_id: str, actor: Agent) -> TicketMessage:
    """An agent's retry of a failed message: queued again, sent again with the same message id."""
    ticket = get_ticket(session, ticket_no)
    _require_open(ticket, "send messages again")
    message = session.scalar(
        select(TicketMessage).where(TicketMessage.message_id == message_id, TicketMessage.ticket_id == ticket.id,
                                    TicketMessage.sender == "agent")
    )
    if message is None:
        raise NotFoundError(f"No agent message {message_id} on ticket {ticket_no}.")
    if message.delivery_status != "failed":
        raise ConflictError(f"Message {message_id} is {message.delivery_status or 'not an outgoing message'}; "
                            "only a failed message can be sent again.")
    message.delivery_status = "queued"
    message.delivery_error = None
    message.delivery_attempts = (message.delivery_attempts or 0) + 1
    message.sent_at = utcnow()
    session.flush()
    audit(session, ticket, actor, "delivery_retried", {"message_id": message_id})
    _send_agent_message(session, ticket, message)
    redis_ops.enqueue_event(session, "ticket.message_delivered", ticket.ticket_no,
                            {"message": message_out(message).model_dump(mode="json")})
    return message


def resend_unconfirmed(session: Session, older_than: dt.timedelta, max_attempts: int) -> tuple[int, int]:
    """Re-send agent messages no channel confirmed (Redis may have lost the outbox entry).

    A message still unconfirmed after ``max_attempts`` sends is marked failed, so the agent sees
    it and can retry. Returns (re-sent, failed). The resident's side dedupes on message ids.
    """
    cutoff = utcnow() - older_than
    rows = session.scalars(
        select(TicketMessage).where(
            TicketMessage.delivery_status == "queued",
            or_(TicketMessage.sent_at.is_(None), TicketMessage.sent_at < cutoff),
        ).order_by(TicketMessage.id).limit(200)
    ).all()
    resent = failed = 0
    for message in rows:
        ticket = session.get(Ticket, message.ticket_id)
        if ticket is None:
            continue
        message.sent_at = utcnow()
        if (message.delivery_attempts or 0) >= max_attempts:
            message.delivery_status = "failed"
            message.delivery_error = f"not confirmed by the {ticket.channel} channel after {max_attempts} attempts"
            message.delivery_failed_at = utcnow()
            failed += 1
            session.flush()
            redis_ops.enqueue_event(session, "ticket.delivery_failed", ticket.ticket_no, {
                "ticket": _snapshot(ticket), "message_id": message.message_id, "reason": message.delivery_error,
                "message": message_out(message).model_dump(mode="json"),
            })
            continue
        message.delivery_attempts = (message.delivery_attempts or 0) + 1
        _send_agent_message(session, ticket, message)
        resent += 1
    return resent, failed


def open_ticket_numbers(session: Session, ticket_nos: Sequence[str]) -> set[str]:
    """Which of these tickets are still open."""
    if not ticket_nos:
        return set()
    return set(session.scalars(
        select(Ticket.ticket_no).where(Ticket.ticket_no.in_(list(ticket_nos)), Ticket.status.in_(OPEN_STATUSES))
    ).all())


def open_ticket_owners(session: Session) -> list[dict[str, Any]]:
    """Who must own each conversation with an open ticket (for rebuilding the owner keys)."""
    rows = session.execute(
        select(Ticket.conversation_id, Ticket.ticket_no, Ticket.channel, Ticket.idempotency_key, Ticket.status,
               Ticket.created_at, Agent.display_name)
        .outerjoin(Agent, Ticket.assignee_id == Agent.id)
        .where(Ticket.status.in_(OPEN_STATUSES)).order_by(Ticket.id)
    ).all()
    return [
        {"conversation_id": conv, "ticket_no": no, "channel": channel, "ticket_key": key,
         "queued": status == "new", "score": created.timestamp(), "agent": name or ""}
        for conv, no, channel, key, status, created, name in rows
    ]


def record_csat(
    session: Session,
    ticket_no: str,
    score: int,
    comment: str | None,
    actor: Agent | None,
    require_resolved: bool,
    idempotency_key: str | None = None,
) -> Ticket:
    ticket = get_ticket(session, ticket_no)
    if idempotency_key is not None and seen_event(session, idempotency_key):
        return ticket
    if require_resolved and ticket.status != "resolved":
        raise ConflictError(f"Ticket {ticket_no} is not resolved; CSAT is recorded after resolution.")
    if actor is not None:
        _require_holder_or_supervisor(ticket, actor, "record its CSAT")
    ticket.csat_score = score
    ticket.csat_comment = comment
    ticket.csat_at = utcnow()
    ticket.updated_at = utcnow()
    session.flush()
    audit(session, ticket, actor, "csat", {"score": score}, idempotency_key=idempotency_key)
    redis_ops.enqueue_event(session, "ticket.csat", ticket.ticket_no, {"ticket": _snapshot(ticket)})
    return ticket


# --- ticket queries -------------------------------------------------------------------


def get_ticket(session: Session, ticket_no: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
    if ticket is None:
        raise NotFoundError(f"No ticket {ticket_no}.")
    return ticket


@dataclass
class TicketFilter:
    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    category: str | None = None
    district: str | None = None
    assignee: str | None = None  # "me", "unassigned" or an agent id
    conversation_id: str | None = None
    account_no: str | None = None
    text: str | None = None  # the search box: number, 户号, phone tail, address, message text
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    team: str | None = None  # "mine" (the agent's teams), "none" or a team id


_PRIORITY_ORDER = case({"urgent": 0, "high": 1, "normal": 2}, value=Ticket.priority, else_=3)


def _filtered(query: Select[Any], flt: TicketFilter, me: Agent) -> Select[Any]:
    statuses = set(flt.status)
    if "open" in statuses:
        statuses.discard("open")
        statuses.update(OPEN_STATUSES)
    if statuses:
        query = query.where(Ticket.status.in_(sorted(statuses)))
    if flt.priority:
        query = query.where(Ticket.priority.in_(list(flt.priority)))
    if flt.category:
        query = query.where(Ticket.category == flt.category)
    if flt.district:
        query = query.where(Ticket.district == flt.district)
    if flt.conversation_id:
        query = query.where(Ticket.conversation_id == flt.conversation_id)
    if flt.account_no:
        query = query.where(Ticket.account_no == flt.account_no)
    if flt.text and flt.text.strip():
        query = query.where(search_condition(flt.text))
    if flt.created_from:
        query = query.where(Ticket.created_at >= flt.created_from)
    if flt.created_to:
        query = query.where(Ticket.created_at < flt.created_to)
    if flt.assignee == "me":
        query = query.where(Ticket.assignee_id == me.id)
    elif flt.assignee == "unassigned":
        query = query.where(Ticket.assignee_id.is_(None))
    elif flt.assignee:
        if not flt.assignee.isdigit():
            raise BadRequestError("assignee must be 'me', 'unassigned' or an agent id.")
        query = query.where(Ticket.assignee_id == int(flt.assignee))
    if flt.team:
        from console.services.teams import team_condition  # services import crud

        query = query.where(team_condition(flt.team, me))
    return query


def list_tickets(
    session: Session, flt: TicketFilter, me: Agent, sort: str, limit: int, offset: int
) -> tuple[Sequence[Ticket], int]:
    total = session.scalar(_filtered(select(func.count(Ticket.id)), flt, me)) or 0
    query = _filtered(select(Ticket), flt, me)
    if sort == "queue":
        query = query.order_by(_PRIORITY_ORDER, Ticket.sla_due_at, Ticket.id)
    elif sort == "oldest":
        query = query.order_by(Ticket.created_at, Ticket.id)
    elif sort == "updated":
        query = query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    else:
        query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all(), total


def queue_position(session: Session, ticket: Ticket) -> int | None:
    """Position among unclaimed tickets, in the order the queue is worked (priority, SLA)."""
    if ticket.status != "new":
        return None
    ahead = session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.status == "new",
            Ticket.id != ticket.id,
            or_(
                _PRIORITY_ORDER < _priority_rank(ticket.priority),
                (_PRIORITY_ORDER == _priority_rank(ticket.priority)) & (Ticket.sla_due_at < ticket.sla_due_at),
                (_PRIORITY_ORDER == _priority_rank(ticket.priority))
                & (Ticket.sla_due_at == ticket.sla_due_at) & (Ticket.id < ticket.id),
            ),
        )
    )
    return int(ahead or 0) + 1


def queue_score(ticket: Ticket) -> float:
    """The ticket's score in the queue: the order of `queue_position` (heatdesk_contract.keys.queue_score)."""
    return contract_keys.queue_score(ticket.priority, ticket.sla_due_at.timestamp())


def _priority_rank(priority: str) -> int:
    return {"urgent": 0, "high": 1, "normal": 2}.get(priority, 3)


def ticket_messages(session: Session, ticket: Ticket) -> Sequence[TicketMessage]:
    return session.scalars(
        select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.created_at, TicketMessage.id)
    ).all()


def ticket_notes(session: Session, ticket: Ticket) -> Sequence[Note]:
    return session.scalars(select(Note).where(Note.ticket_id == ticket.id).order_by(Note.created_at, Note.id)).all()


def ticket_history(session: Session, ticket: Ticket) -> Sequence[TicketEvent]:
    return session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.created_at, TicketEvent.id)
    ).all()


def related_tickets(session: Session, ticket: Ticket, limit: int = 20) -> Sequence[Ticket]:
    """Earlier tickets of the same conversation or, when known, the same account."""
    same = Ticket.conversation_id == ticket.conversation_id
    if ticket.account_no:
        same = or_(same, Ticket.account_no == ticket.account_no)
    return session.scalars(
        select(Ticket)
        .where(same, Ticket.id != ticket.id, Ticket.created_at <= ticket.created_at)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    ).all()


# --- ticket operations by agents ------------------------------------------------------


def _require_open(ticket: Ticket, action: str) -> None:
    if ticket.status == "resolved":
        raise ConflictError(f"Ticket {ticket.ticket_no} is resolved; reopen it before you {action}.")


def _require_holder(ticket: Ticket, actor: Agent, action: str) -> None:
    if ticket.assignee_id is None:
        raise ConflictError(f"Claim ticket {ticket.ticket_no} before you {action}.")
    if ticket.assignee_id != actor.id and actor.role != "supervisor":
        raise PermissionDeniedError(
            f"Ticket {ticket.ticket_no} is assigned to another agent; only they or a supervisor can {action}."
        )


def _require_holder_or_supervisor(ticket: Ticket, actor: Agent, action: str) -> None:
    """For resolved tickets: only the agent who held it, or a supervisor, may touch it again."""
    if actor.role != "supervisor" and ticket.assignee_id != actor.id:
        raise PermissionDeniedError(
            f"Only the agent who held ticket {ticket.ticket_no} or a supervisor can {action}."
        )


def claim_ticket(session: Session, ticket_no: str, actor: Agent) -> tuple[Ticket, bool]:
    """Take an unclaimed ticket; exactly one of several racing agents wins."""
    ticket = get_ticket(session, ticket_no)
    if ticket.assignee_id == actor.id and ticket.status != "resolved":
        return ticket, False
    _require_open(ticket, "claim it")
    now = utcnow()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == "new", Ticket.assignee_id.is_(None))
        .values(assignee_id=actor.id, status="assigned", assigned_at=func.coalesce(Ticket.assigned_at, _ts(now)),
                updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ticket)
    if result.rowcount != 1:
        holder = ticket.assignee.display_name if ticket.assignee else "another agent"
        raise ConflictError(f"Ticket {ticket_no} is already claimed by {holder}.")
    audit(session, ticket, actor, "claimed")
    redis_ops.enqueue(session, "owner_claim", conversation_id=ticket.conversation_id,
                      ticket_no=ticket.ticket_no, agent=actor.display_name)
    redis_ops.enqueue_event(session, "ticket.claimed", ticket.ticket_no,
                            {"ticket": _snapshot(ticket), "agent": agent_brief(actor).model_dump()})
    return ticket, True


def transfer_ticket(session: Session, ticket_no: str, actor: Agent, target_id: int, note: str | None) -> Ticket:
    ticket = get_ticket(session, ticket_no)
    _require_open(ticket, "transfer it")
    if ticket.assignee_id != actor.id and actor.role != "supervisor":
        raise PermissionDeniedError(f"Only the assignee of {ticket_no} or a supervisor can transfer it.")
    target = session.get(Agent, target_id)
    if target is None or not target.active:
        raise NotFoundError(f"No active agent with id {target_id}.")
    if ticket.assignee_id == target.id:
        raise BadRequestError(f"Ticket {ticket_no} is already assigned to {target.display_name}.")
    previous = ticket.assignee_id
    now = utcnow()
    holder = Ticket.assignee_id.is_(None) if previous is None else Ticket.assignee_id == previous
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, holder, Ticket.status == ticket.status)
        .values(assignee_id=target.id, status="assigned" if ticket.status == "new" else ticket.status,
                assigned_at=func.coalesce(Ticket.assigned_at, _ts(now)), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ticket)
    if result.rowcount != 1:
        raise ConflictError(f"Ticket {ticket_no} changed meanwhile; reload it and try again.")
    audit(session, ticket, actor, "transferred", {"from_agent_id": previous, "to_agent_id": target.id, "note": note})
    redis_ops.enqueue(session, "owner_claim", conversation_id=ticket.conversation_id,
                      ticket_no=ticket.ticket_no, agent=target.display_name)
    redis_ops.enqueue_event(session, "ticket.transferred", ticket.ticket_no, {
        "ticket": _snapshot(ticket), "from_agent_id": previous, "to": agent_brief(target).model_dump(),
        "by": agent_brief(actor).model_dump(),
    })
    return ticket


def add_agent_message(
    session: Session, ticket_no: str, actor: Agent, text: str, client_message_id: str | None
) -> tuple[TicketMessage, Ticket, bool]:
    """Store an agent's reply and queue it for delivery through the user's own channel."""
    key = f"agent:{actor.id}:{ticket_no}:{client_message_id}" if client_message_id else None
    if key is not None:
        existing = session.scalar(select(TicketMessage).where(TicketMessage.idempotency_key == key))
        if existing is not None:
            return existing, get_ticket(session, ticket_no), False
    ticket = get_ticket(session, ticket_no)
    _require_open(ticket, "write to the user")
    _require_holder(ticket, actor, "reply on it")
    now = utcnow()
    first = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.first_human_reply_at.is_(None))
        .values(first_human_reply_at=now)
        .execution_options(synchronize_session=False)
    )
    moved = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status.in_(("assigned", "in_progress")))
        .values(status="in_progress", last_message_at=now, updated_at=now, waiting_since=None)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise ConflictError(f"Ticket {ticket_no} changed meanwhile; reload it and try again.")
    message = TicketMessage(
        message_id=uuid.uuid4().hex, idempotency_key=key, ticket_id=ticket.id, sender="agent",
        agent_id=actor.id, text=text, created_at=now, delivery_status="queued", delivery_attempts=1, sent_at=now,
    )
    session.add(message)
    session.flush()
    session.refresh(ticket)
    if first.rowcount == 1:
        audit(session, ticket, actor, "first_reply", {"seconds": int((now - ticket.created_at).total_seconds())})
    _send_agent_message(session, ticket, message)
    redis_ops.enqueue_event(session, "ticket.message", ticket.ticket_no,
                            {"ticket": _snapshot(ticket), "message": message_out(message).model_dump(mode="json")})
    return message, ticket, True


def add_note(session: Session, ticket_no: str, actor: Agent, text: str) -> Note:
    ticket = get_ticket(session, ticket_no)
    note = Note(ticket_id=ticket.id, agent_id=actor.id, text=text, created_at=utcnow())
    session.add(note)
    ticket.updated_at = utcnow()
    session.flush()
    redis_ops.enqueue_event(session, "ticket.note_added", ticket.ticket_no,
                            {"ticket_no": ticket.ticket_no, "note": note_out(note).model_dump(mode="json")})
    return note


def resolve_ticket(
    session: Session, ticket_no: str, actor: Agent, category: str, note: str | None
) -> Ticket:
    """Close the ticket and hand the conversation back to the bot."""
    ticket = get_ticket(session, ticket_no)
    if ticket.status == "resolved":
        raise ConflictError(f"Ticket {ticket_no} is already resolved.")
    if actor.role != "supervisor":
        _require_holder(ticket, actor, "resolve it")
    now = utcnow()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == ticket.status)
        .values(status="resolved", resolved_at=now, resolution_category=category, resolution_note=note,
                updated_at=now, waiting_since=None)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ticket)
    if result.rowcount != 1:
        raise ConflictError(f"Ticket {ticket_no} changed meanwhile; reload it and try again.")
    audit(session, ticket, actor, "resolved", {"resolution_category": category, "note": note})
    redis_ops.enqueue(session, "owner_release", conversation_id=ticket.conversation_id, ticket_no=ticket.ticket_no)
    redis_ops.enqueue_outbox(session, TicketResolved(
        ticket_no=ticket.ticket_no, conversation_id=ticket.conversation_id, channel=ticket.channel,
        ask_csat=ticket.first_human_reply_at is not None,  # rate a person only after a person answered
    ))
    redis_ops.enqueue_event(session, "ticket.resolved", ticket.ticket_no, {"ticket": _snapshot(ticket)})
    return ticket


def reopen_ticket(session: Session, ticket_no: str, actor: Agent, reason: str | None) -> Ticket:
    """Reopen a resolved ticket; whoever reopens it holds it and owns the conversation again."""
    ticket = get_ticket(session, ticket_no)
    if ticket.status != "resolved":
        raise ConflictError(f"Ticket {ticket_no} is not resolved; only resolved tickets can be reopened.")
    _require_holder_or_supervisor(ticket, actor, "reopen it")
    other = session.scalar(
        select(Ticket.ticket_no).where(
            Ticket.conversation_id == ticket.conversation_id, Ticket.id != ticket.id,
            Ticket.status.in_(OPEN_STATUSES),
        )
    )
    if other is not None:
        raise ConflictError(f"The conversation already has open ticket {other}; continue there.")
    now = utcnow()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == "resolved")
        .values(status="assigned", assignee_id=actor.id, assigned_at=func.coalesce(Ticket.assigned_at, _ts(now)),
                resolved_at=None, resolution_category=None, resolution_note=None,
                reopen_count=Ticket.reopen_count + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ticket)
    if result.rowcount != 1:
        raise ConflictError(f"Ticket {ticket_no} changed meanwhile; reload it and try again.")
    audit(session, ticket, actor, "reopened", {"reason": reason})
    redis_ops.enqueue(session, "owner_take", conversation_id=ticket.conversation_id, ticket_no=ticket.ticket_no,
                      channel=ticket.channel, agent=actor.display_name, ticket_key=ticket.idempotency_key)
    redis_ops.enqueue_event(session, "ticket.reopened", ticket.ticket_no, {"ticket": _snapshot(ticket)})
    return ticket
