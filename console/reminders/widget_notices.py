"""Reminder notices for widget residents: stored for the bound session, marked delivered once shown.

A send to channel ``widget`` cannot reach the resident now: the worker stores the notice under
the session (``KeySpace.widget_notices``, one field per send id, so a re-run or a retried send
writes the same field and nothing doubles) and records the row ``sent`` with api ``widget``.
The widget channel shows it on that session's next open (``connectors.widget_protocol.notices``)
and reports the send id in ``KeySpace.widget_notices_shown``; :func:`settle_shown` then moves
the row ``sent → delivered``.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from console.db import utcnow
from console.reminders.models import ReminderSend
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.notices import WIDGET_NOTICE_TTL_SECONDS, WidgetNotice

WIDGET_API = "widget"


async def store_notice(redis: aioredis.Redis, keys: KeySpace, session_id: str, notice: WidgetNotice) -> None:
    """Idempotent: the field is the send id."""
    key = keys.widget_notices(session_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, notice.send_id, notice.to_json())
        pipe.expire(key, WIDGET_NOTICE_TTL_SECONDS)
        await pipe.execute()


async def settle_shown(redis: aioredis.Redis, keys: KeySpace, session_factory: sessionmaker[Session]) -> int:
    """Marks the sends the widget showed delivered; returns how many rows moved.

    Being shown is proof: a row a crash left in ``sending`` (or marked failed for it at
    start-up) after its notice was stored becomes delivered too. A report counts only for a
    widget send of this console's database to that very session (the send id alone is a row
    number another console sharing the Redis could also have): reports this console cannot
    match are left for the console they belong to (the hash expires with the notices)."""
    shown = await redis.hgetall(keys.widget_notices_shown())
    if not shown:
        return 0
    malformed = [send_id for send_id in shown if not str(send_id).isdigit()]
    reported = {int(send_id): str(conversation) for send_id, conversation in shown.items() if str(send_id).isdigit()}

    def mark() -> tuple[int, list[int]]:
        with session_factory() as session:
            rows = session.execute(
                select(ReminderSend.id, ReminderSend.address)
                .where(ReminderSend.id.in_(reported), ReminderSend.channel == WIDGET_API)
            ).all()
            mine = [row.id for row in rows
                    if row.address and reported[row.id].split(":", 1)[-1] == row.address]
            moved = session.execute(
                update(ReminderSend).where(ReminderSend.id.in_(mine),
                                           ReminderSend.state.in_(("sending", "sent", "failed")))
                .values(state="delivered", errcode=None, error=None, updated_at=utcnow())
            ).rowcount if mine else 0
            session.commit()
            return int(moved or 0), mine

    moved, mine = await asyncio.to_thread(mark) if reported else (0, [])
    settled = malformed + [str(send_id) for send_id in mine]
    if settled:
        await redis.hdel(keys.widget_notices_shown(), *settled)
    return moved
