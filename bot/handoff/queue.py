"""What a queued resident is told: their place in the queue and whether anybody is on duty.

Both read Redis only. The queue sorted set is scored with `keys.queue_score` (priority, then
SLA due time) by the bot when it hands over and again by the console when it persists the
ticket, so the rank here is the position the console shows. Presence is written by the console
(agent id → epoch second until which the agent counts as present).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Dict, Optional

from redis.asyncio import Redis

from bot import keys

# Lua: drop the conversation's owner and its queue entry only while this ticket still owns it.
_CANCEL = """
local t = redis.call('HGET', KEYS[1], 'ticket_no')
if t ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


def sla_minutes(city: Dict[str, Any], priority: str) -> int:
    """The console's rule (console/settings.py): urgent tickets have the urgent SLA, others the first-reply one."""
    sla = city.get("sla") or {}
    return int(sla.get("urgent_minutes", 10) if priority == "urgent" else sla.get("first_reply_minutes", 30))


def score_for(city: Dict[str, Any], priority: str, created_at: dt.datetime) -> float:
    due = created_at + dt.timedelta(minutes=sla_minutes(city, priority))
    return keys.queue_score(priority, due.timestamp())


async def position(redis: Redis, ticket_no: str) -> Optional[int]:
    """1-based place among the tickets nobody has claimed yet; None once claimed or gone."""
    rank = await redis.zrank(keys.queue(), ticket_no)
    return None if rank is None else int(rank) + 1


async def agents_on_duty(redis: Redis, now: Optional[float] = None) -> int:
    """Agents whose console was active within the presence window."""
    return int(await redis.zcount(keys.presence(), now if now is not None else time.time(), "+inf"))


async def cancel(redis: Redis, conversation_id: str, ticket_no: str) -> bool:
    """The resident withdrew: the bot owns the conversation again (if this ticket still owned it)."""
    return bool(await redis.eval(_CANCEL, 2, keys.owner(conversation_id), keys.queue(), ticket_no))
