"""One asyncio Redis client per process and event loop, built from REDIS_URL."""

from __future__ import annotations

import asyncio
from typing import Dict

from redis.asyncio import Redis

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
        )
        _clients[loop_id] = client
    return client
