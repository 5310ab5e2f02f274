"""Reminder notices waiting for a widget session, shown once when the resident opens the widget.

The console stores a notice per (campaign, household) send under the session bound by a
passed identity check (``KeySpace.widget_notices``). On the session's next open (a
``session_request`` that resumes it, a reconnect included) each is appended to the transcript
with the send id as dedupe key, so two tabs opening at once or a crash before the notice is
cleared still show it once; then the send id is reported to the console
(``KeySpace.widget_notices_shown``, it marks the send delivered) and the notice removed.
"""

from __future__ import annotations

import logging
from typing import List

from redis.asyncio import Redis

from connectors.widget_protocol.payloads import conversation_id
from connectors.widget_protocol.transcript import TranscriptEntry, TranscriptStore
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.notices import WIDGET_NOTICE_TTL_SECONDS, WidgetNotice

logger = logging.getLogger(__name__)

NOTICE_DEDUPE = "notice"


def _send_order(send_id: str) -> tuple[int, str]:
    return (int(send_id), send_id) if send_id.isdigit() else (0, send_id)


async def take_pending(redis: Redis, keys: KeySpace, store: TranscriptStore, session_id: str) -> List[TranscriptEntry]:
    """The session's pending notices as new transcript entries (to emit), oldest send first;
    an entry another open already appended is not returned again."""
    key = keys.widget_notices(session_id)
    pending = await redis.hgetall(key)
    shown: List[TranscriptEntry] = []
    for send_id in sorted(pending, key=_send_order):
        notice = WidgetNotice.from_json(pending[send_id])
        if notice is None:
            logger.error("widget.notice.malformed session=%s send=%s", session_id, send_id)
            await redis.hdel(key, send_id)
            continue
        entry, created = await store.append(
            session_id, "bot", {"payload": {"text": notice.text}, "reminder": notice.kind},
            dedupe=(NOTICE_DEDUPE, session_id, notice.send_id),
        )
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.widget_notices_shown(), notice.send_id, conversation_id(session_id))
            # Reports no console can match (its database was replaced) must not stay for ever.
            pipe.expire(keys.widget_notices_shown(), WIDGET_NOTICE_TTL_SECONDS)
            pipe.hdel(key, send_id)
            await pipe.execute()
        if created:
            logger.info("widget.notice.shown session=%s send=%s kind=%s", session_id, notice.send_id, notice.kind)
            shown.append(entry)
    return shown
