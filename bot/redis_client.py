"""One asyncio Redis client per process and event loop, built from REDIS_URL."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Callable, Dict, List, Sequence

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

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


async def pipelined(redis: Redis, queue: Callable[[Pipeline], Any], transaction: bool = False) -> List[Any]:
    """The commands `queue` puts on a pipeline, in one round trip; their results in order.

    redis-py retries a single command on a dead pooled connection (`retry_on_error`) but not a
    pipeline, and after a Redis restart every idle pooled connection is dead: drop them and run
    the pipeline once more (a MULTI/EXEC transaction never runs half).
    """
    for attempt in (1, 2):
        pipe = redis.pipeline(transaction=transaction)
        queue(pipe)
        try:
            return await pipe.execute()
        except RedisConnectionError:
            if attempt == 2:
                raise
            await redis.connection_pool.disconnect(inuse_connections=False)
    raise AssertionError("unreachable")


async def run_script(redis: Redis, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """A Lua script by its SHA1 (EVALSHA), sent whole only when Redis does not know it yet."""
    sha = _SCRIPT_SHAS.get(script)
    if sha is None:
        sha = _SCRIPT_SHAS[script] = hashlib.sha1(script.encode()).hexdigest()
    try:
        return await redis.evalsha(sha, len(keys), *keys, *args)
    except NoScriptError:  # a new or restarted Redis
        return await redis.eval(script, len(keys), *keys, *args)


_SCRIPT_SHAS: Dict[str, str] = {}


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
