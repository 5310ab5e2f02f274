"""Live console events over Server-Sent Events, replayed from the Redis stream by id.

The SSE ``id:`` of every event is its id in ``heatdesk:stream:events``. A client
that reconnects (the browser sends ``Last-Event-ID``; a reloaded page may pass
``?last_event_id=``) gets every event after that id, so nothing is missed or
doubled, never "the last N minutes". If the stream was trimmed past that id the
client first gets a ``resync`` event and should reload its lists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy.exc import SQLAlchemyError

from console.services import presence
from console.deps import AsyncRedisDep, SettingsDep, StreamAgent, session_token
from console.security import SESSION_COOKIE
from console.services.sessions import agent_for_token
from console.settings import Settings
from heatdesk_contract.streams import ConsoleEvent

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["events"])

_MAX_PART = 2**64 - 1
RECONNECT_MS = 3000


def parse_stream_id(value: str) -> tuple[int, int]:
    """``1700000000000-3`` → (1700000000000, 3); ValueError when it is not a Redis stream id."""
    ms, sep, seq = value.partition("-")
    if not ms.isdigit() or (sep and not seq.isdigit()):
        raise ValueError(value)
    parsed = (int(ms), int(seq) if sep else 0)
    if parsed[0] > _MAX_PART or parsed[1] > _MAX_PART:
        raise ValueError(value)
    return parsed


def resume_from(
    last_event_id: Annotated[
        str | None,
        Query(max_length=41, description="resume after this event id (when the Last-Event-ID header is absent)"),
    ] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=41, description="sent by EventSource on reconnect")
    ] = None,
) -> str | None:
    """The stream id to resume after, validated before the stream starts (a bad one is a 422)."""
    value = last_event_id_header or last_event_id
    if value is None or value == "":
        return None
    try:
        ms, seq = parse_stream_id(value.strip())
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            "last_event_id must be a Redis stream id such as 1700000000000-0.",
        ) from None
    return f"{ms}-{seq}"


ResumeFrom = Annotated[str | None, Depends(resume_from)]


async def resume_point(client: Any, stream: str, last_id: str) -> tuple[bool, str]:
    """Where to continue after ``last_id``, and whether events after it may be lost.

    Lost means: the stream is gone (Redis lost its data), the client's own last
    event was trimmed away together with what followed it, entries after it were
    deleted, or the id lies in the future (a clock or data reset). The client is
    then told to ``resync`` (reload its lists) before the replay.
    """
    try:
        info = await client.xinfo_stream(stream)
    except redis.ResponseError:
        return True, "0-0"
    last = parse_stream_id(last_id)
    generated = info.get("last-generated-id")
    if generated and last > parse_stream_id(str(generated)):
        return True, str(generated)
    deleted = info.get("max-deleted-entry-id")
    if deleted and parse_stream_id(str(deleted)) > last:
        return True, last_id
    first = info.get("first-entry")
    trimmed = int(info.get("entries-added") or 0) > int(info.get("length") or 0)
    if first and parse_stream_id(str(first[0])) > last and trimmed:
        return True, last_id
    return False, last_id


def _event(entry_id: str, fields: dict[str, str]) -> ServerSentEvent:
    event = ConsoleEvent.from_fields(fields)
    return ServerSentEvent(id=entry_id, event=event.type, data=event.payload())


@router.get(
    "/events",
    response_class=EventSourceResponse,
    summary="Live event stream (SSE); resumes from Last-Event-ID",
    description=(
        "Event types: ticket.created, ticket.message, ticket.claimed, ticket.transferred, ticket.note_added, "
        "ticket.resolved, ticket.reopened, ticket.requeued, ticket.csat, ticket.delivery_failed, ticket.message_delivered, "
        "ticket.assigned, ticket.updated, agent.deactivated, agent.presence, teams.changed, settings.changed; and, without an id, resync (reload lists: events may be missing), "
        "session_ended (log in again), unavailable "
        "(Redis is down; EventSource reconnects by itself). Comment lines are heartbeats."
    ),
    responses={401: {"description": "not logged in"}, 422: {"description": "malformed last_event_id"}},
)
async def events(
    request: Request, agent: StreamAgent, settings: SettingsDep, client: AsyncRedisDep, after: ResumeFrom
) -> AsyncIterable[ServerSentEvent]:
    stream = settings.keys.events_stream()
    block_ms = settings.sse_block_ms  # below the Redis client's read timeout, with a margin
    session_factory = request.app.state.session_factory
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        if after is None:
            newest = await client.xrevrange(stream, count=1)
            last_id = newest[0][0] if newest else "0-0"
        else:
            lost, last_id = await resume_point(client, stream, after)
            if lost:
                yield ServerSentEvent(event="resync", data={"type": "resync", "reason": "events may be missing"})
        yield ServerSentEvent(comment="connected", retry=RECONNECT_MS)
        next_check = time.monotonic() + settings.CONSOLE_SSE_CHECK_SECONDS
        while True:
            if await request.is_disconnected():
                return
            response = await client.xread({stream: last_id}, count=200, block=block_ms)
            for _stream, entries in response or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    event = _event(entry_id, fields)
                    if event.event == "agent.deactivated" and event.data.get("agent_id") == agent.id:
                        yield ServerSentEvent(event="session_ended", data={"type": "session_ended"})
                        return
                    yield event
            if not entries_seen(response):
                await presence.refresh_async(client, settings, agent.id)
                yield ServerSentEvent(comment="heartbeat")
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + settings.CONSOLE_SSE_CHECK_SECONDS
                if not await asyncio.to_thread(_still_valid, session_factory, settings, cookie):
                    yield ServerSentEvent(event="session_ended", data={"type": "session_ended"})
                    return
    except (redis.RedisError, OSError) as exc:
        logger.warning("event stream interrupted: %s", type(exc).__name__)
        yield ServerSentEvent(event="unavailable", data={"type": "unavailable"})


def entries_seen(response: Any) -> bool:
    return any(entries for _stream, entries in response or [])


def _still_valid(session_factory: Any, settings: Settings, cookie: str | None) -> bool:
    """Re-check the session during a long stream: logout or deactivation ends it within seconds."""
    try:
        token = session_token(settings, cookie)
    except HTTPException:
        return False
    try:
        with session_factory() as session:
            return agent_for_token(session, token) is not None
    except SQLAlchemyError as exc:
        # A database hiccup is no reason to drop every agent's live view; check again later.
        logger.warning("session re-check skipped (database: %s)", type(exc).__name__)
        return True
