"""One asyncio Redis client per process and event loop, built from REDIS_URL."""

from __future__ import annotations

import asyncio
from typing import Dict

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.settings import get_settings

_clients: Dict[int, Redis] = {}


def get_redis() -> Redis:
    """A shared client for the running event loop (Sanic and rasa-sdk each run their own)."""
    try:
        loop_id = id(asyncio.get_running_loop())
    except RuntimeError:
        loop_id = 0
    client = _clients.get(loop_id)
    if client is None:
        client = Redis.from_url(
            get_settings().redis_url,
            decode_responses=True,
            socket_timeout=5.0,  # above the delivery worker's 2 s blocking read
            socket_connect_timeout=2.0,
            health_check_interval=30,
            # After Redis restarts, every pooled connection is dead; retry once on a fresh one
            # instead of failing the first command of each (a resident's turn, a handoff).
            retry_on_error=[RedisConnectionError],
        )
        _clients[loop_id] = client
    return client


#: The health checks' warning (English: it is for operators) when Redis keeps nothing on disk.
NO_PERSISTENCE_WARNING = (
    "Redis runs without persistence: a restart loses streams, owners and conversations "
    "(use appendonly yes, see docs/deployment.md)"
)


async def persistence_mode(redis: Redis) -> str:
    """`aof`, `rdb`, `none`, or `unknown` (a managed Redis may refuse CONFIG GET).

    Reported by the health checks: a Redis without persistence loses streams and owners on a
    restart (docs/deployment.md); a warning, not a failure.
    """
    info = await redis.info("persistence")
    if int(info.get("aof_enabled", 0)):
        return "aof"
    try:
        save = (await redis.config_get("save")).get("save", "")
    except ResponseError:
        return "unknown"
    return "rdb" if str(save).strip() else "none"
