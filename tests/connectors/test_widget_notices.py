"""Reminder notices waiting for a widget session, in real Redis (`connectors.widget_protocol.notices`).

Two opens racing (two tabs, or a reconnect while the first open is still showing) must show a
notice once; a malformed value is dropped, never shown; each shown send is reported once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from connectors.widget_protocol import notices
from connectors.widget_protocol.transcript import TranscriptStore
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.notices import WidgetNotice
from tests.connectors.conftest import REDIS_URL

SESSION = "fedcba9876543210fedcba9876543210"


@pytest.fixture
async def parts(redis_prefix: str) -> Any:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client, KeySpace(redis_prefix), TranscriptStore(client, key_prefix=redis_prefix, limit=50)
    await client.aclose() if hasattr(client, "aclose") else await client.close()


async def test_racing_opens_show_each_notice_once_in_send_order(parts: Any) -> None:
    redis, keys, store = parts
    for send_id, text in (("12", "第二条"), ("9", "第一条")):
        await redis.hset(keys.widget_notices(SESSION), send_id, WidgetNotice(send_id, "3", "overdue", "2033000001",
                                                                              text).to_json())
    await redis.hset(keys.widget_notices(SESSION), "13", "not json")
    first, second = await asyncio.gather(*(notices.take_pending(redis, keys, store, SESSION) for _ in range(2)))
    shown = first + second
    assert sorted(entry.data["payload"]["text"] for entry in shown) == ["第一条", "第二条"]
    assert [entry.data["payload"]["text"] for entry in await store.since(SESSION, 0)] == ["第一条", "第二条"]
    assert await redis.hgetall(keys.widget_notices_shown()) == {"9": f"widget:{SESSION}", "12": f"widget:{SESSION}"}
    assert not await redis.exists(keys.widget_notices(SESSION))
    assert await notices.take_pending(redis, keys, store, SESSION) == []
    assert await notices.take_pending(redis, keys, store, "another-session") == []
