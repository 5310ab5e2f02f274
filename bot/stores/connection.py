"""The stores' Redis: connection settings from REDIS_URL, synchronous clients with timeouts, and health.

Rasa's stores call Redis synchronously; both stores register their client with `store_health`, which
the REST channel's health check asks (`connectors/rest.py`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

import redis as redis_sync
from redis.exceptions import RedisError

from bot.settings import get_settings

logger = logging.getLogger(__name__)

#: Seconds after the last fallback to memory during which the health check keeps failing, so that
#: a Redis blip between two probes is still seen by the load balancer and the monitoring.
FALLBACK_ALERT_SECONDS = 10.0
SOCKET_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0
PING_TIMEOUT = 3.0



def redis_kwargs(url: Optional[str] = None) -> Dict[str, Any]:
    """host/port/db/credentials of a `redis://` or `rediss://` URL."""
    parsed = urlparse(url or get_settings().redis_url)
    db = (parsed.path or "/0").lstrip("/") or "0"
    return {
        "host": parsed.hostname or "localhost",
        "port": parsed.port or 6379,
        "db": int(db),
        "username": parsed.username or None,
        "password": parsed.password or None,
        "use_ssl": parsed.scheme == "rediss",
    }


def sync_client(**kwargs: Any) -> redis_sync.StrictRedis:
    """Rasa's stores call Redis synchronously; without timeouts a hung Redis hangs the server."""
    use_ssl = kwargs.pop("use_ssl", False)
    return redis_sync.StrictRedis(
        ssl=use_ssl,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
        # After a Redis restart each pooled connection is dead: retry once on a fresh one.
        retry_on_error=[redis_sync.ConnectionError],
        **kwargs,
    )


class StoreHealth:
    """What the health check needs to know about the tracker and lock stores of this process."""

    def __init__(self, alert_seconds: float = FALLBACK_ALERT_SECONDS) -> None:
        self.alert_seconds = alert_seconds
        self.fallbacks = 0
        self.last_fallback: Optional[float] = None
        self.last_error = ""
        self._clients: List[redis_sync.StrictRedis] = []
        self._lock = threading.Lock()

    def watch(self, client: redis_sync.StrictRedis) -> None:
        with self._lock:
            self._clients.append(client)

    def record_fallback(self, operation: str, sender_id: str, error: BaseException) -> None:
        """Called before Rasa's FailSafeTrackerStore falls back to memory."""
        with self._lock:
            self.fallbacks += 1
            self.last_fallback = time.monotonic()
            self.last_error = f"{type(error).__name__}: {error}"[:200]
        logger.error(
            "TRACKER STORE FALLBACK: %s of conversation %s failed in Redis (%s). Rasa continues with "
            "an in-memory tracker: this turn is not persisted and the other Rasa servers do not see it. "
            "The health check fails until Redis answers again (fallback %d of this process).",
            operation, sender_id, type(error).__name__, self.fallbacks,
        )

    def recent_fallback(self) -> bool:
        return self.last_fallback is not None and time.monotonic() - self.last_fallback < self.alert_seconds

    def _ping_all(self) -> bool:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                if not client.ping():
                    return False
            except RedisError:
                return False
        return True

    async def check(self) -> Dict[str, Any]:
        """`{"ok", "stores_redis", "fallbacks", "recent_fallback"}`; pings in a thread (sync clients)."""
        try:
            reachable = await asyncio.wait_for(asyncio.to_thread(self._ping_all), PING_TIMEOUT)
        except asyncio.TimeoutError:
            reachable = False
        recent = self.recent_fallback()
        return {
            "ok": reachable and not recent,
            "stores_redis": reachable,
            "fallbacks": self.fallbacks,
            "recent_fallback": recent,
        }


store_health = StoreHealth()
