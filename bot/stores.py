"""Rasa's Redis tracker and lock stores, configured from REDIS_URL.

endpoints.yml cannot parse a URL, and DESIGN.md gives Redis as one `REDIS_URL`;
these subclasses read it from `bot.settings` so no second set of variables exists.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text
from urllib.parse import urlparse

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain

from bot.settings import get_settings


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


class HeatDeskTrackerStore(RedisTrackerStore):
    """Conversation trackers in Redis under `heatdesk:tracker:`."""

    def __init__(
        self,
        domain: Domain,
        event_broker: Optional[EventBroker] = None,
        key_prefix: Text = "heatdesk",
        record_exp: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            domain,
            event_broker=event_broker,
            record_exp=record_exp,
            key_prefix=key_prefix.split(":")[0],
            **redis_kwargs(),
        )


class HeatDeskLockStore(RedisLockStore):
    """Per-conversation locks in Redis under `heatdesk:lock:`."""

    def __init__(self, endpoint_config: Any = None, key_prefix: Text = "heatdesk", **kwargs: Any) -> None:
        if endpoint_config is not None:
            key_prefix = endpoint_config.kwargs.get("key_prefix", key_prefix)
        super().__init__(key_prefix=str(key_prefix).split(":")[0], **redis_kwargs())
