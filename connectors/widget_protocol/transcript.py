"""The transcript of a widget session in Redis, and the session's resume token.

Every user and bot message gets a monotonically increasing id, so a client that
reconnects asks for what came after the last id it showed (`since`) and never
shows a message twice. One Lua script appends atomically, with optional dedupe
of resends; only the SHA-256 of a resume token is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from redis.asyncio import Redis

from bot.settings import redis_keys
from connectors.widget_protocol.payloads import Credential
from heatdesk_contract.keys import KeySpace

logger = logging.getLogger(__name__)

TRANSCRIPT_LIMIT = 500
TRANSCRIPT_TTL_SECONDS = 30 * 24 * 3600
DELIVERED_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class TranscriptEntry:
    """One message of a session as kept in Redis and replayed to the widget."""

    id: int
    role: str  # "user" | "bot"
    data: Dict[str, Any]

    def as_event(self) -> Dict[str, Any]:
        return {"id": self.id, "role": self.role, **self.data}



# Appends one entry atomically: the id is taken and the entry becomes visible in one
# step, so a replay never sees id n+1 without id n. With a dedupe key, a repeated
# append returns the first id instead of adding a second entry.
_APPEND = """
if KEYS[3] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {tonumber(seen), 0} end
end
local id = redis.call('INCR', KEYS[1])
local member = '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2)
redis.call('ZADD', KEYS[2], id, member)
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(limit + 1))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], id, 'EX', ARGV[4]) end
return {id, 1}
"""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class TranscriptStore:
    """Per-session transcript in Redis: a counter and a sorted set scored by message id."""

    def __init__(
        self,
        redis: Redis,
        key_prefix: Optional[str] = None,
        limit: int = TRANSCRIPT_LIMIT,
        ttl_seconds: int = TRANSCRIPT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.redis = redis
        self.keys = KeySpace(key_prefix) if key_prefix is not None else redis_keys()
        self.limit = limit
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def seq_key(self, session_id: str) -> str:
        return self.keys.widget_seq(session_id)

    def transcript_key(self, session_id: str) -> str:
        return self.keys.widget_transcript(session_id)

    def dedupe_key(self, *parts: str) -> str:
        return self.keys.widget_seen(*parts)

    def session_key(self, session_id: str) -> str:
        return self.keys.widget_session(session_id)

    async def new_session(self) -> Credential:
        """A fresh session; Redis keeps only the token's digest, as long as the transcript."""
        credential = Credential(uuid.uuid4().hex, secrets.token_urlsafe(32))
        await self.redis.set(self.session_key(credential.session_id), _digest(credential.token), ex=self.ttl_seconds)
        return credential

    async def resume(self, credential: Credential) -> bool:
        """True when the token is the one issued with this session id (constant-time check)."""
        key = self.session_key(credential.session_id)
        stored = await self.redis.get(key)
        if isinstance(stored, bytes):
            stored = stored.decode("ascii", "replace")
        if not stored or not hmac.compare_digest(stored, _digest(credential.token)):
            return False
        await self.redis.expire(key, self.ttl_seconds)
        return True

    async def append(
        self,
        session_id: str,
        role: str,
        data: Dict[str, Any],
        *,
        dedupe: Optional[Tuple[str, ...]] = None,
        dedupe_ttl: int = DELIVERED_TTL_SECONDS,
    ) -> Tuple[TranscriptEntry, bool]:
        """Adds a message; returns it and whether it is new (False: `dedupe` was seen before)."""
        body = {"role": role, "ts": round(self.clock(), 3), **data}
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        result = await self.redis.eval(
            _APPEND,
            3,
            self.seq_key(session_id),
            self.transcript_key(session_id),
            self.dedupe_key(*dedupe) if dedupe else "",
            raw,
            self.limit,
            self.ttl_seconds,
            dedupe_ttl,
        )
        message_id, created = int(result[0]), bool(int(result[1]))
        return TranscriptEntry(message_id, role, {k: v for k, v in body.items() if k != "role"}), created

    async def since(self, session_id: str, after_id: int = 0) -> List[TranscriptEntry]:
        """Every kept message with an id above `after_id`, oldest first."""
        members = await self.redis.zrangebyscore(self.transcript_key(session_id), f"({int(after_id)}", "+inf")
        entries: List[TranscriptEntry] = []
        for member in members:
            try:
                item = json.loads(member)
                entries.append(TranscriptEntry(int(item.pop("id")), str(item.pop("role")), item))
            except (ValueError, KeyError, TypeError):
                logger.warning("widget.transcript.bad_entry session=%s", session_id)
        return entries

    async def last_id(self, session_id: str) -> int:
        value = await self.redis.get(self.seq_key(session_id))
        return int(value or 0)
