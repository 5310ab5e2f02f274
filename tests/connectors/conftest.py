"""Fixtures of the connector tests: real Redis (unique key prefix, cleaned up) and a fake WeChat API."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import redis as sync_redis

from heatdesk_contract.keys import KeySpace
from tests.connectors.fake_wechat import FakeWeChat

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards (never FLUSHALL)."""
    prefix = f"heatdesk-test:{uuid.uuid4().hex}:"
    client = sync_redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except sync_redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is required for these tests: {error}")
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def key_space(redis_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[KeySpace]:
    """Every HeatDesk key of this process (`bot.settings.redis_keys`) under the test's prefix."""
    from bot.settings import get_settings

    monkeypatch.setenv("HEATDESK_KEY_PREFIX", redis_prefix)
    get_settings.cache_clear()
    yield KeySpace(redis_prefix)
    monkeypatch.delenv("HEATDESK_KEY_PREFIX", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    fake = FakeWeChat().start()
    yield fake
    fake.stop()
