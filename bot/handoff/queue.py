"""What a queued resident is told: their place in the queue and whether anybody is on duty.

Both read Redis only. The queue sorted set is scored with `heatdesk_contract.keys.queue_score` (priority, then
SLA due time) by the bot when it hands over and again by the console when it persists the
ticket, so the rank here is the position the console shows. Presence is written by the console
(agent id → epoch second until which the agent counts as present).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Dict, Optional

from redis.asyncio import Redis

from bot.settings import redis_keys
from heatdesk_contract import owner
from heatdesk_contract.city import sla_minutes
from heatdesk_contract.keys import queue_score


def score_for(city: Dict[str, Any], priority: str, created_at: dt.datetime) -> float:
    """The queue score of a ticket made now, with the due time the console will give it."""
    due = created_at + dt.timedelta(minutes=sla_minutes(city, priority))
    return queue_score(priority, due.timestamp())


async def position(redis: Redis, ticket_no: str) -> Optional[int]:
    """1-based place among the tickets nobody has claimed yet; None once claimed or gone."""
    rank = await redis.zrank(redis_keys().queue(), ticket_no)
    return None if rank is None else int(rank) + 1


async def agents_on_duty(redis: Redis, now: Optional[float] = None) -> int:
    """Agents whose console was active within the presence window."""
    return int(await redis.zcount(redis_keys().presence(), now if now is not None else time.time(), "+inf"))


async def cancel(redis: Redis, conversation_id: str, ticket_no: str) -> bool:
    """The resident withdrew: the bot owns the conversation again (if this ticket still owned it)."""
    keys = redis_keys()
    return bool(await redis.eval(owner.CANCEL, 2, keys.owner(conversation_id), keys.queue(), ticket_no))
