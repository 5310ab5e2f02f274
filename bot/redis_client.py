"""One asyncio Redis client per process and event loop, built from REDIS_URL."""

from __future__ import annotations

import asyncio
from typing import Dict

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

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
