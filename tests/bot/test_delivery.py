"""The delivery worker reads the outbox through the contract: a malformed entry is reported to the
console as ``delivery.failed`` and acked, an unknown one is acked and left alone, a refused one is
reported with the channel's reason. Delivered messages reach the REST channel's inbox (its real
deliverer), are recorded on the tracker (HeatDesk's Redis tracker and lock stores) and confirmed to
the console once per message id. Real Redis (HEATDESK_TEST_REDIS_DB), flushed per test."""

from __future__ import annotations

import asyncio
import functools
import json
import os
from typing import Any, Awaitable, Callable, Dict, Iterator, List, TypeVar

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot import delivery, messages, redis_client
from bot.delivery import DeliveryRejected, DeliveryWorker, register_deliverer
from bot.settings import ROOT, get_settings, redis_keys
from bot.stores.lock import HeatDeskLockStore
from bot.stores.tracker import HeatDeskTrackerStore
from connectors.rest import deliver_to_inbox
from heatdesk_contract.streams import (
    DELIVERY_GROUP,
    AgentMessage,
    DeliveryConfirmed,
    DeliveryFailed,
    TicketRenumbered,
    TicketResolved,
    parse_ticket_entry,
)
from tests.stack import TEST_REDIS_DB

T = TypeVar("T")


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    base = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    url = f"{base}/{TEST_REDIS_DB}"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.delenv("HEATDESK_KEY_PREFIX", raising=False)
    client = Redis.from_url(url, decode_responses=True)
    client.flushdb()
    get_settings.cache_clear()
    redis_client._clients.clear()
    saved = dict(delivery._deliverers)
    yield url
    delivery._deliverers.clear()
    delivery._deliverers.update(saved)
    client.flushdb()
    client.close()
    monkeypatch.undo()
    get_settings.cache_clear()
    redis_client._clients.clear()


async def handle(agent: Any, client: AsyncRedis, *entries: Dict[str, str]) -> None:
    """Puts `entries` on the outbox and lets one worker handle them, as its run loop does."""
    worker = DeliveryWorker(agent, client)
    await worker._ensure_group()
    for fields in entries:
        await client.xadd(redis_keys().outbox_stream(), fields)
    batches = await client.xreadgroup(DELIVERY_GROUP, worker.consumer, {redis_keys().outbox_stream(): ">"})
    for _stream, read in batches:
        for entry_id, fields in read:
            await worker._handle(entry_id, fields)


def handle_all(url: str, entries: List[Dict[str, str]]) -> List[Any]:
    """Puts `entries` on the outbox, lets one worker handle them, returns the tickets stream, parsed."""

    async def run() -> List[Any]:
        client = AsyncRedis.from_url(url, decode_responses=True)
        await handle(None, client, *entries)
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


# -- delivering: the REST channel's inbox, the tracker, the console's confirmation -----------------


@functools.lru_cache(maxsize=1)
def _domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


class RasaParts:
    """What the worker uses of Rasa's Agent: the domain, HeatDesk's tracker and lock stores on the
    test Redis, and a processor that reads and saves trackers as Rasa's MessageProcessor does
    (`get_or_create_tracker(…, append_action_listen=False)`, `save`) — without loading a model."""

    def __init__(self) -> None:
        self.domain = _domain()
        self.tracker_store = HeatDeskTrackerStore(self.domain)
        self.lock_store = HeatDeskLockStore()
        self.processor = self

    async def get_tracker(self, conversation_id: str) -> DialogueStateTracker:
        return await self.tracker_store.get_or_create_tracker(conversation_id, append_action_listen=False)

    async def save_tracker(self, tracker: DialogueStateTracker) -> None:
        await self.tracker_store.save(tracker)


async def deliver(parts: RasaParts, *entries: Dict[str, str]) -> None:
    await handle(parts, redis_client.get_redis(), *entries)


def run_in_loop(factory: Callable[[], Awaitable[T]]) -> T:
    async def wrapped() -> T:
        try:
            return await factory()
        finally:
            await redis_client.get_redis().close()
            redis_client._clients.clear()

    return asyncio.run(wrapped())


def inbox(client: Redis, conversation_id: str) -> List[Dict[str, str]]:
    return [json.loads(item) for item in client.lrange(redis_keys().inbox(conversation_id), 0, -1)]


def reported(client: Redis) -> List[Any]:
    return [parse_ticket_entry(fields) for _id, fields in client.xrange(redis_keys().tickets_stream())]


def bot_events(parts: RasaParts, conversation_id: str) -> List[Any]:
    tracker = run_in_loop(lambda: parts.get_tracker(conversation_id))
    return [event for event in tracker.events if isinstance(event, BotUttered)]


@pytest.fixture
def rest_channel(redis_url: str) -> Iterator[Redis]:
    """The REST channel's real deliverer registered, as its blueprint does; the test Redis."""
    register_deliverer("rest", deliver_to_inbox)
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def test_an_agent_reply_reaches_the_inbox_the_tracker_and_the_console(rest_channel: Redis) -> None:
    parts = RasaParts()
    entry = AgentMessage("m-1", "GD202502150001", "rest:alice", "rest", "您好，我是客服王芳。", "王芳")
    run_in_loop(lambda: deliver(parts, entry.to_fields()))
    assert inbox(rest_channel, "rest:alice") == [
        {"recipient_id": "rest:alice", "text": "您好，我是客服王芳。", "agent": "王芳", "message_id": "m-1"}
    ]
    assert 0 < rest_channel.ttl(redis_keys().inbox("rest:alice")) <= get_settings().rest_inbox_ttl_seconds
    [uttered] = bot_events(parts, "rest:alice")
    assert uttered.text == "您好，我是客服王芳。"
    assert uttered.metadata == {"agent": "王芳", "ticket_no": "GD202502150001", "message_id": "m-1"}
    [confirmed] = reported(rest_channel)
    assert isinstance(confirmed, DeliveryConfirmed)
    assert (confirmed.ticket_no, confirmed.conversation_id, confirmed.message_id) == ("GD202502150001", "rest:alice", "m-1")


def test_a_resent_reply_is_confirmed_again_but_not_delivered_twice(rest_channel: Redis) -> None:
    parts = RasaParts()
    entry = AgentMessage("m-2", "GD202502150001", "rest:bob", "rest", "请稍等。", "王芳").to_fields()
    run_in_loop(lambda: deliver(parts, entry))
    run_in_loop(lambda: deliver(parts, entry))  # the console re-sends what it saw no confirmation for
    assert len(inbox(rest_channel, "rest:bob")) == 1
    assert len(bot_events(parts, "rest:bob")) == 1
    assert [type(entry).__name__ for entry in reported(rest_channel)] == ["DeliveryConfirmed", "DeliveryConfirmed"]


def test_a_resolve_gives_the_conversation_back_to_the_bot(rest_channel: Redis) -> None:
    parts = RasaParts()
    # No person answered this ticket (ask_csat off): the greeting alone, no rating question.
    resolved = TicketResolved("GD202502150001", "rest:carol", "rest", ask_csat=False)
    run_in_loop(lambda: deliver(parts, resolved.to_fields()))
    greeting = parts.domain.responses["utter_handoff_resolved"][0]["text"]
    assert [item["text"] for item in inbox(rest_channel, "rest:carol")] == [greeting]
    tracker = run_in_loop(lambda: parts.get_tracker("rest:carol"))
    assert [type(event).__name__ for event in tracker.events][-4:] == [
        "ConversationResumed", "ActionExecuted", "BotUttered", "ActionExecuted"
    ]
    assert tracker.latest_action_name == "action_listen"  # the rules expect the bot to listen next
    assert reported(rest_channel) == []  # a resolve needs no confirmation


def test_a_renumbered_ticket_is_told_with_both_numbers(rest_channel: Redis) -> None:
    parts = RasaParts()
    entry = TicketRenumbered("m-r1", "GD202502150007", "GD202502150003", "rest:dave", "rest")
    run_in_loop(lambda: deliver(parts, entry.to_fields(), entry.to_fields()))
    expected = messages.TICKET_RENUMBERED.format(ticket_no="GD202502150007", previous_no="GD202502150003")
    assert [item["text"] for item in inbox(rest_channel, "rest:dave")] == [expected]  # once, though sent twice
    assert [event.text for event in bot_events(parts, "rest:dave")] == [expected]


def test_a_channels_refusal_reaches_the_agent_and_nothing_is_recorded(redis_url: str) -> None:
    async def refuse(conversation_id: str, text: str, entry: Any) -> None:
        raise DeliveryRejected("该用户已超过48小时未互动")

    async def break_down(conversation_id: str, text: str, entry: Any) -> None:
        raise RuntimeError("socket closed")

    register_deliverer("pager", refuse)
    register_deliverer("beeper", break_down)
    parts = RasaParts()
    run_in_loop(lambda: deliver(
        parts,
        AgentMessage("m-3", "GD202502150002", "pager:u1", "pager", "在吗", "王芳").to_fields(),
        AgentMessage("m-4", "GD202502150002", "beeper:u1", "beeper", "在吗", "王芳").to_fields(),
    ))
    client = Redis.from_url(redis_url, decode_responses=True)
    refused, failed = reported(client)
    assert isinstance(refused, DeliveryFailed) and refused.reason == "该用户已超过48小时未互动"
    assert isinstance(failed, DeliveryFailed) and failed.reason == "delivery error"
    assert bot_events(parts, "pager:u1") == [] and bot_events(parts, "beeper:u1") == []
    client.close()


def test_the_running_worker_first_finishes_what_it_had_read(rest_channel: Redis) -> None:
    """Entries this consumer read before Redis failed under it are delivered when it starts again."""
    parts = RasaParts()

    async def scenario() -> None:
        client = redis_client.get_redis()
        worker = DeliveryWorker(parts, client, block_ms=100)
        await worker._ensure_group()
        await client.xadd(redis_keys().outbox_stream(), AgentMessage("m-5", "GD1", "rest:erin", "rest", "一", "王芳").to_fields())
        await client.xreadgroup(DELIVERY_GROUP, worker.consumer, {redis_keys().outbox_stream(): ">"})  # read, not handled
        await client.xadd(redis_keys().outbox_stream(), AgentMessage("m-6", "GD1", "rest:erin", "rest", "二", "王芳").to_fields())
        task = asyncio.create_task(worker.run())
        try:
            for _ in range(100):
                if await client.llen(redis_keys().inbox("rest:erin")) == 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run_in_loop(scenario)
    assert [item["text"] for item in inbox(rest_channel, "rest:erin")] == ["一", "二"]
    assert rest_channel.xpending(redis_keys().outbox_stream(), DELIVERY_GROUP)["pending"] == 0
