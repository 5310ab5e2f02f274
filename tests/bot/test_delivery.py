"""The delivery worker reads the outbox through the contract: a malformed entry is reported to the
console as ``delivery.failed`` and acked, an unknown one is acked and left alone, a refused one is
reported with the channel's reason. Real Redis (HEATDESK_TEST_REDIS_DB), flushed per test."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, Iterator, List

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.delivery import DeliveryWorker
from bot.settings import get_settings, redis_keys
from heatdesk_contract.streams import (
    DELIVERY_GROUP,
    AgentMessage,
    DeliveryFailed,
    parse_ticket_entry,
)
from tests.stack import TEST_REDIS_DB


@pytest.fixture
def redis_url() -> Iterator[str]:
    base = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    url = f"{base}/{TEST_REDIS_DB}"
    client = Redis.from_url(url, decode_responses=True)
    client.flushdb()
    get_settings.cache_clear()
    yield url
    client.flushdb()
    client.close()


def handle_all(url: str, entries: List[Dict[str, str]]) -> List[Any]:
    """Puts `entries` on the outbox, lets one worker handle them, returns the tickets stream, parsed."""

    async def run() -> List[Any]:
        client = AsyncRedis.from_url(url, decode_responses=True)
        worker = DeliveryWorker(agent=None, redis=client)
        await worker._ensure_group()
        for fields in entries:
            await client.xadd(redis_keys().outbox_stream(), fields)
        batches = await client.xreadgroup(DELIVERY_GROUP, worker.consumer, {redis_keys().outbox_stream(): ">"})
        for _stream, read in batches:
            for entry_id, fields in read:
                await worker._handle(entry_id, fields)
        pending = await client.xpending(redis_keys().outbox_stream(), DELIVERY_GROUP)
        assert pending["pending"] == 0  # every entry acked, whatever became of it
        reported = [parse_ticket_entry(fields) for _id, fields in await client.xrange(redis_keys().tickets_stream())]
        await client.close()
        return reported

    return asyncio.run(run())


def test_a_malformed_entry_is_reported_and_acked(redis_url: str) -> None:
    broken = AgentMessage("m1", "GD202502150001", "rest:u1", "rest", "您好").to_fields()
    del broken["conversation_id"]
    [report] = handle_all(redis_url, [broken])
    assert isinstance(report, DeliveryFailed)
    assert (report.ticket_no, report.message_id) == ("GD202502150001", "m1")
    assert report.reason.startswith("malformed entry") and "conversation_id" in report.reason


def test_an_unknown_entry_is_acked_and_left_alone(redis_url: str) -> None:
    assert handle_all(redis_url, [{"type": "ticket.teleported", "ticket_no": "GD1"}]) == []


def test_a_channel_without_a_deliverer_is_reported_with_its_reason(redis_url: str) -> None:
    # message_id "" (a console that lost it): no tracker lookup, straight to the channel.
    message = AgentMessage("", "GD202502150003", "pager:u3", "pager", "在吗").to_fields()
    [report] = handle_all(redis_url, [message])
    assert isinstance(report, DeliveryFailed)
    assert (report.ticket_no, report.conversation_id, report.message_id) == ("GD202502150003", "pager:u3", None)
    assert report.reason == "no deliverer for channel 'pager' in this process"
