"""bot.stores against a real redis-server of the test's own: atomic ticket locks, loud fallbacks."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Awaitable, Callable, Iterator, List, TypeVar

import pytest


from rasa.core.lock_store import LockError  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(8).startswith(b"+PONG")
    except OSError:
        return False


class OwnRedis:
    """A redis-server of this test only (never the shared one) that the test may restart."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server not installed")
        self.binary, self.workdir, self.port = binary, workdir, _free_port()
        self.process: subprocess.Popen = self._start()

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return process

    def restart(self) -> None:
        self.stop()
        self.process = self._start()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnRedis]:
    """REDIS_URL pointing at a redis-server of this test."""
    server = OwnRedis(tmp_path)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{server.port}/0")
    from bot import redis_client, settings

    settings.get_settings.cache_clear()
    redis_client._clients.clear()
    try:
        yield server
    finally:
        server.stop()
        settings.get_settings.cache_clear()
        redis_client._clients.clear()


@pytest.fixture
def redis_url(own_redis: OwnRedis) -> str:
    return f"redis://127.0.0.1:{own_redis.port}/0"


@pytest.fixture
def run() -> Iterator[Callable[[Awaitable[T]], T]]:
    """One event loop for the test: the stores' asyncio Redis client belongs to the loop it was made on."""
    loop = asyncio.new_event_loop()
    try:
        yield loop.run_until_complete
    finally:
        loop.close()


def test_tickets_of_two_servers_are_served_one_at_a_time_in_issue_order(redis_url: str) -> None:
    from bot.stores.lock import HeatDeskLockStore

    servers = [HeatDeskLockStore(), HeatDeskLockStore()]
    inside: List[int] = []
    served: List[int] = []
    overlaps: List[int] = []

    async def message(index: int) -> None:
        await asyncio.sleep(index * 0.02)  # arrival order = index
        async with servers[index % 2].lock("conv-1") as held:
            inside.append(index)
            if len(inside) > 1:
                overlaps.append(index)
            served.append(held.tickets[0].number)
            await asyncio.sleep(0.03)  # longer than the arrival gap: everyone queues
            inside.remove(index)

    async def main() -> None:
        from bot.redis_client import get_redis

        await get_redis().ping()
        await asyncio.wait_for(asyncio.gather(*(message(i) for i in range(12))), timeout=20)

    asyncio.run(main())
    assert overlaps == []
    assert served == list(range(1, 13))  # strictly in the order the tickets were issued
    assert servers[0].get_lock("conv-1") is None  # the last one out deletes the lock


def test_expired_ticket_ahead_does_not_block_forever(redis_url: str) -> None:
    from bot.stores.lock import HeatDeskLockStore

    store = HeatDeskLockStore()
    stale = store.issue_ticket("conv-2", lock_lifetime=0.2)  # a server that died holding its turn
    assert store.get_lock("conv-2").now_serving == stale

    async def main() -> float:
        started = time.monotonic()
        async with store.lock("conv-2"):
            return time.monotonic() - started

    waited = asyncio.run(main())
    assert 0.1 < waited < 2.0
    assert store.get_lock("conv-2") is None


def test_lock_fails_with_lock_error_when_redis_is_gone(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import redis_client, settings
    from bot.stores.lock import HeatDeskLockStore

    store = HeatDeskLockStore()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_free_port()}/0")
    settings.get_settings.cache_clear()
    redis_client._clients.clear()

    async def main() -> None:
        async with store.lock("conv-3"):
            pass

    with pytest.raises(LockError):
        asyncio.run(main())


def test_tracker_store_fallback_is_loud_and_fails_the_health_check(
    redis_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import redis_client, settings
    from bot.stores import connection
    from bot.stores.tracker import HeatDeskTrackerStore

    health = connection.StoreHealth(alert_seconds=0.5)
    monkeypatch.setattr(connection, "store_health", health)
    tracker_store = HeatDeskTrackerStore(Domain.empty())
    assert asyncio.run(health.check())["ok"] is True
    # Redis "goes away": the store (and the health check) now talk to a port nobody listens on.
    nobody = _free_port()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{nobody}/0")
    settings.get_settings.cache_clear()
    redis_client._clients.clear()
    tracker_store.red = connection.sync_client(host="127.0.0.1", port=nobody, db=0, decode_responses=True)
    health.watch(tracker_store.red)
    caplog.set_level(logging.ERROR, logger="bot.stores")
    with pytest.raises(Exception):
        asyncio.run(tracker_store.save(DialogueStateTracker("conv-4", [])))
    assert any("TRACKER STORE FALLBACK" in record.getMessage() for record in caplog.records)
    state = asyncio.run(health.check())
    assert state["ok"] is False and state["stores_redis"] is False and state["fallbacks"] == 1


def test_the_first_commands_after_a_redis_restart_succeed(own_redis: OwnRedis) -> None:
    """Pooled connections die with Redis; each client retries once on a fresh connection."""
    from bot.redis_client import get_redis, pipelined
    from bot.stores.lock import HeatDeskLockStore
    from bot.stores.tracker import HeatDeskTrackerStore

    tracker_store = HeatDeskTrackerStore(Domain.empty())
    lock_store = HeatDeskLockStore()

    async def main() -> None:
        client = get_redis()
        await asyncio.gather(*(client.ping() for _ in range(4)))  # several pooled connections
        tracker_store.red.ping()
        own_redis.restart()
        # redis-py does not retry pipelines by itself (the router and the REST channel use them).
        assert await pipelined(client, lambda pipe: (pipe.set("k", "v"), pipe.get("k"))) == [True, "v"]
        assert all(await asyncio.gather(*(client.ping() for _ in range(4))))
        await tracker_store.save(DialogueStateTracker("conv-5", []))
        assert await tracker_store.retrieve("conv-5") is not None
        async with lock_store.lock("conv-5"):
            pass

    asyncio.run(main())


def test_idle_trackers_expire_after_the_setting(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, run: Callable[[Awaitable[T]], T]
) -> None:
    """WeChat conversations never end: an idle tracker leaves Redis after TRACKER_EXPIRY_SECONDS."""
    from bot import settings
    from bot.stores.tracker import HeatDeskTrackerStore

    default_store = HeatDeskTrackerStore(Domain.empty())
    run(default_store.save(DialogueStateTracker("conv-ttl-default", [])))
    ttl = default_store.red.ttl(default_store.key_prefix + "conv-ttl-default")
    assert 30 * 24 * 3600 - 5 <= ttl <= 30 * 24 * 3600  # the default: 30 days

    monkeypatch.setenv("TRACKER_EXPIRY_SECONDS", "1")
    settings.get_settings.cache_clear()
    store = HeatDeskTrackerStore(Domain.empty())
    run(store.save(DialogueStateTracker("conv-ttl", [])))
    assert run(store.retrieve("conv-ttl")) is not None
    deadline = time.monotonic() + 5
    while run(store.retrieve("conv-ttl")) is not None:
        assert time.monotonic() < deadline, "the idle tracker did not expire"
        time.sleep(0.1)


def test_persistence_mode_reports_what_redis_keeps(own_redis: OwnRedis) -> None:
    """The health checks' field: none for this test server, aof once appendonly is switched on."""
    from bot.redis_client import get_redis, persistence_mode

    async def main() -> tuple:
        client = get_redis()
        before = await persistence_mode(client)
        await client.config_set("appendonly", "yes")
        return before, await persistence_mode(client)

    assert asyncio.run(main()) == ("none", "aof")


# -- the tracker store's save and retrieve give what Rasa's RedisTrackerStore gives ----------------

DOMAIN = {
    "version": "3.1",
    "intents": ["greet", "inform"],
    "slots": {"account_no": {"type": "text", "mappings": [{"type": "custom"}]}},
    "responses": {"utter_greet": [{"text": "您好"}]},
}


def _turn(tracker: DialogueStateTracker, text: str, account_no: str = "") -> None:
    """What one message adds: the user's words, maybe a slot, the bot's answer, listening again."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    tracker.update(UserUttered(text, {"name": "inform" if account_no else "greet", "confidence": 0.9}))
    if account_no:
        tracker.update(SlotSet("account_no", account_no))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered("您好"))
    tracker.update(ActionExecuted("action_listen"))


def _session_start(tracker: DialogueStateTracker) -> None:
    """As Rasa starts a session for a message with channel metadata (every HeatDesk channel's)."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet

    tracker.update(SlotSet("session_started_metadata", {"client": "ip:127.0.0.1"}))
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))


class SideBySide:
    """HeatDesk's tracker store and Rasa's own on the same Redis, each under its own prefix."""

    def __init__(self, port: int, run: Callable[[Awaitable[T]], T]) -> None:
        from rasa.core.tracker_store import RedisTrackerStore

        from bot.stores.tracker import HeatDeskTrackerStore

        self.run = run
        self.domain = Domain.from_dict(DOMAIN)
        self.ours = HeatDeskTrackerStore(self.domain)
        self.rasas = RedisTrackerStore(self.domain, host="127.0.0.1", port=port, key_prefix="rasa")
        #: How often our store fell back to Rasa's rebuild of the stored tracker (the slow path).
        self.rebuilds = 0
        rebuild = self.ours.deserialise_tracker

        def counted(sender_id: str, stored: str) -> DialogueStateTracker:
            self.rebuilds += 1
            return rebuild(sender_id, stored)

        self.ours.deserialise_tracker = counted  # type: ignore[method-assign]
        #: How often a save was not the common case the Redis script stores at once.
        self.joins = 0

    def both(self, method: str, *args: object) -> List[object]:
        return [self.run(getattr(store, method)(*args)) for store in (self.ours, self.rasas)]

    def save(self, tracker: DialogueStateTracker) -> None:
        before = [event.as_dict() for event in tracker.events]
        for store in (self.ours, self.rasas):
            self.run(store.save(tracker))
        assert [event.as_dict() for event in tracker.events] == before  # saving changes nothing

    def stored_events(self, sender_id: str) -> List[List[dict]]:
        import json

        return [
            json.loads(store.red.get(store.key_prefix + sender_id))["events"] for store in (self.ours, self.rasas)
        ]

    def assert_same(self, sender_id: str) -> List[DialogueStateTracker]:
        ours, rasas = self.stored_events(sender_id)
        assert ours == rasas and ours
        retrieved = self.both("retrieve", sender_id)
        full = self.both("retrieve_full_tracker", sender_id)
        for pair in (retrieved, full):
            assert [e.as_dict() for e in pair[0].events] == [e.as_dict() for e in pair[1].events]
            assert pair[0].current_state() == pair[1].current_state()
            assert pair[0].current_slot_values() == pair[1].current_slot_values()
        return retrieved


@pytest.fixture
def stores(own_redis: OwnRedis, monkeypatch: pytest.MonkeyPatch, run: Callable[[Awaitable[T]], T]) -> SideBySide:
    """Both stores, counting the saves that were not the Redis script's one-round-trip case."""
    from bot import tracker_json

    side = SideBySide(own_redis.port, run)
    joined = tracker_json.joined

    def counted(stored: str, serialised: str) -> object:
        side.joins += 1
        return joined(stored, serialised)

    monkeypatch.setattr(tracker_json, "joined", counted)
    return side


def test_tracker_store_saves_one_session_as_rasa_does(stores: SideBySide) -> None:
    tracker = stores.ours.init_tracker("conv-one")
    stores.save(tracker)  # what Rasa saves for a new conversation: no events yet
    _session_start(tracker)
    for index in range(4):
        _turn(tracker, f"第{index}句", account_no="2024000001" if index == 2 else "")
        stores.save(tracker)
        retrieved = stores.assert_same("conv-one")
        tracker = retrieved[0]
    assert tracker.get_slot("account_no") == "2024000001"
    # `retrieve` leaves out the session_started_metadata slot before `action_session_start`.
    assert len(tracker.events) == 3 + 4 * 4 + 1
    assert stores.rebuilds == stores.joins == 0  # every save was the one-round-trip case


def test_tracker_store_keeps_earlier_sessions_as_rasa_does(stores: SideBySide) -> None:
    """`retrieve` answers the last session only; saving it must keep the earlier ones."""
    tracker = stores.ours.init_tracker("conv-two")
    _session_start(tracker)
    _turn(tracker, "查欠费", account_no="2024000001")
    stores.save(tracker)
    for session in range(3):
        last = stores.assert_same("conv-two")[0]
        _session_start(last)  # the session expired: Rasa starts a new one on the retrieved tracker
        _turn(last, f"第{session}次会话")
        stores.save(last)
        retrieved = stores.assert_same("conv-two")[0]
        assert retrieved.get_slot("account_no") is None  # slots are not carried into a new session
        _turn(retrieved, "谢谢")
        stores.save(retrieved)
    ours, _ = stores.stored_events("conv-two")
    assert sum(1 for event in ours if event.get("name") == "action_session_start") == 4
    assert stores.rebuilds == 0  # saving the last session joined it to the earlier ones as JSON
    assert stores.joins == 0  # the stored text before the last session came with the tracker


def test_tracker_store_merges_another_writers_events_as_rasa_does(stores: SideBySide) -> None:
    """Two servers retrieved the same state and each added a turn: Rasa's merge keeps both."""
    tracker = stores.ours.init_tracker("conv-race")
    _session_start(tracker)
    _turn(tracker, "你好")
    stores.save(tracker)
    first, second = tracker.copy(), tracker.copy()
    _turn(first, "一号服务器")
    _turn(second, "二号服务器")
    stores.save(first)
    stores.save(second)
    stores.assert_same("conv-race")
    ours, _ = stores.stored_events("conv-race")
    texts = [event.get("text") for event in ours if event.get("event") == "user"]
    assert texts == ["你好", "一号服务器", "二号服务器"]
    assert stores.rebuilds == 1  # the second save found the first one's events: Rasa's merge


@pytest.mark.parametrize("stored", [
    '{"name": "conv-other", "events": []}',  # another layout (not what Rasa's stores write)
    '{"events": [], "name": "conv-someone-else"}',  # another conversation's text
])
def test_tracker_store_saves_over_an_unexpected_stored_text_as_rasa_does(stores: SideBySide, stored: str) -> None:
    for store in (stores.ours, stores.rasas):
        store.red.set(store.key_prefix + "conv-other", stored)
    tracker = stores.ours.init_tracker("conv-other")
    _session_start(tracker)
    _turn(tracker, "你好")
    stores.save(tracker)
    stores.assert_same("conv-other")
    assert stores.joins == 1  # not the script's case: the stored text went back to Python
