"""Deduplication of WeChat callbacks across processes.

WeChat retries a callback it got no answer for within 5 s (three tries in
all), possibly to another Rasa process behind the load balancer. The first
process to `SET NX` the message's key owns it; the others never run the bot.
The owner records what became of the message so a retry can be answered with
the same passive reply (if that answer got lost) or with `success` (if the
answer goes out through the customer-service API).

Key: `MsgId` for messages; `FromUserName` + `CreateTime` + `Event` for events,
which have no MsgId.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Optional

from redis.asyncio import Redis

from connectors.wechat_protocol.messages import EventMessage, UnknownMessage, WeChatMessage
from heatdesk_contract.keys import DEFAULT_PREFIX, KeySpace

#: Longer than WeChat's whole retry schedule (about 15 s), short enough to stay small.
DEFAULT_TTL_SECONDS = 600

PROCESSING = "processing"
PASSIVE = "passive"  # answered with a passive reply, kept in `reply`
PUSHED = "pushed"  # answered `success`; the answer goes through the customer-service API
DONE = "done"  # nothing to answer (or the bot failed): retries get `success`


@dataclass(frozen=True)
class Outcome:
    """What the owner of a message did with it."""

    state: str
    reply: Optional[str] = None


def dedupe_key(message: WeChatMessage) -> str:
    """The identity WeChat keeps across retries of one callback."""
    if message.msg_id:
        parts = ["msg", message.to_user, message.msg_id]
    else:
        event = ""
        if isinstance(message, (EventMessage, UnknownMessage)):
            event = message.event
        parts = ["evt", message.from_user, str(message.create_time), event or message.msg_type]
    key = ":".join(parts)
    if len(key) > 200:  # fields are signed by WeChat, but keep Redis keys bounded anyway
        key = parts[0] + ":sha1:" + hashlib.sha1(key.encode("utf-8")).hexdigest()
    return key


class MessageDeduplicator:
    """Claims callbacks in Redis and remembers their outcome for retries."""

    def __init__(
        self, redis: Redis, *, key_prefix: str = DEFAULT_PREFIX, ttl_seconds: int = DEFAULT_TTL_SECONDS
    ) -> None:
        self._redis = redis
        self._keys = KeySpace(key_prefix)
        self._ttl = ttl_seconds

    def redis_key(self, key: str) -> str:
        return self._keys.wechat_dedupe(key)

    async def claim(self, key: str) -> bool:
        """True for exactly one caller per key within the TTL, whichever process it runs in."""
        value = json.dumps({"state": PROCESSING})
        return bool(await self._redis.set(self.redis_key(key), value, nx=True, ex=self._ttl))

    async def record(self, key: str, outcome: Outcome) -> None:
        """Remember the outcome (only the owner calls this)."""
        value = json.dumps({"state": outcome.state, "reply": outcome.reply}, ensure_ascii=False)
        await self._redis.set(self.redis_key(key), value, ex=self._ttl)

    async def outcome(self, key: str) -> Optional[Outcome]:
        """The recorded outcome, `processing` while the owner works, None when unknown."""
        raw = await self._redis.get(self.redis_key(key))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return Outcome(DONE)
        if not isinstance(data, dict):
            return Outcome(DONE)
        reply = data.get("reply")
        return Outcome(str(data.get("state", DONE)), reply if isinstance(reply, str) else None)

    async def claim_nonce(self, timestamp: str, nonce: str, key: str, ttl_seconds: int) -> bool:
        """False when this signed (timestamp, nonce) already carried a *different* message.

        A signed query string seen once must not carry another body or another sender
        within the timestamp window; WeChat's own retries of the same message (same
        `key`) still pass, and the MsgId dedupe answers them.
        """
        redis_key = self._keys.wechat_nonce(timestamp, nonce)[:300]
        if await self._redis.set(redis_key, key, nx=True, ex=max(1, ttl_seconds)):
            return True
        return await self._redis.get(redis_key) == key
