"""The one way a ticket's status changes: a guarded UPDATE, then its audit entry and Redis effects.

The guard is part of the UPDATE (``... WHERE status = 'new' AND assignee_id IS NULL``), so of two
racing changes the database lets exactly one through, identically on SQLite and PostgreSQL; the
other gets a ConflictError and its transaction is rolled back by the caller. The checks an agent
must pass before asking for a change (``require_*``) sit here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, literal, update
from sqlalchemy.orm import Session

from console import redis_ops
from console.db import UTCDateTime
from console.errors import ConflictError, PermissionDeniedError
from console.models import Agent, Ticket
from console.services.audit import audit, snapshot
from heatdesk_contract.streams import OutboxEntry

CHANGED_MEANWHILE = "Ticket {ticket_no} changed meanwhile; reload it and try again."


def stamp(value: dt.datetime) -> Any:
    """A bound timestamp typed as UTCDateTime (plain binds inside SQL functions are untyped)."""
    return literal(value, type_=UTCDateTime())


def transition(
    session: Session,
    ticket: Ticket,
    actor: Agent | None,
    *,
    guard: Sequence[ColumnElement[bool]],
    values: Mapping[str, Any],
    kind: str | None,
    detail: dict[str, Any] | None = None,
    conflict: Callable[[Ticket], str] | None = None,
    owner_op: tuple[str, dict[str, Any]] | None = None,
    outbox: OutboxEntry | None = None,
    event: str | None = None,
    event_data: Mapping[str, Any] | None = None,
) -> None:
    """Apply ``values`` to the ticket only while ``guard`` holds; then audit and enqueue.

    ``kind`` names the audit entry (None: nothing to audit) and, unless ``event`` is given, the live
    event ``ticket.<kind>``, which carries the refreshed ticket plus ``event_data``. ``owner_op`` is a
    Redis op of :mod:`console.redis_ops` (owner key, queue), ``outbox`` a message for the resident.
    """
    result = session.execute(
        update(Ticket).where(Ticket.id == ticket.id, *guard).values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ticket)
    if result.rowcount != 1:
        raise ConflictError(conflict(ticket) if conflict else CHANGED_MEANWHILE.format(ticket_no=ticket.ticket_no))
    if kind is not None:
        audit(session, ticket, actor, kind, detail)
    if owner_op is not None:
        redis_ops.enqueue(session, owner_op[0], **owner_op[1])
    if outbox is not None:
        redis_ops.enqueue_outbox(session, outbox)
    redis_ops.enqueue_event(session, event or f"ticket.{kind}", ticket.ticket_no,
                            {"ticket": snapshot(ticket), **(event_data or {})})


def require_open(ticket: Ticket, action: str) -> None:
    if ticket.status == "resolved":
        raise ConflictError(f"Ticket {ticket.ticket_no} is resolved; reopen it before you {action}.")


def require_holder(ticket: Ticket, actor: Agent, action: str) -> None:
    if ticket.assignee_id is None:
        raise ConflictError(f"Claim ticket {ticket.ticket_no} before you {action}.")
    if ticket.assignee_id != actor.id and actor.role != "supervisor":
        raise PermissionDeniedError(
            f"Ticket {ticket.ticket_no} is assigned to another agent; only they or a supervisor can {action}."
        )


def require_holder_or_supervisor(ticket: Ticket, actor: Agent, action: str) -> None:
    """For resolved tickets: only the agent who held it, or a supervisor, may touch it again."""
    if actor.role != "supervisor" and ticket.assignee_id != actor.id:
        raise PermissionDeniedError(
            f"Only the agent who held ticket {ticket.ticket_no} or a supervisor can {action}."
        )
