"""Rasa's Redis tracker and lock stores, configured from REDIS_URL, safe behind a load balancer.

endpoints.yml cannot parse a URL, and DESIGN.md gives Redis as one `REDIS_URL`;
these subclasses read it from `bot.settings` so no second set of variables exists.

Two things Rasa 3.6 gets wrong for several Rasa servers sharing one Redis:

* `RedisLockStore` issues and returns tickets with GET → change → SET. Two servers that
  receive messages of one conversation at the same moment overwrite each other's tickets:
  two messages are processed at once (one tracker update is lost), or a message waits for a
  ticket that no longer exists (its request hangs until the client gives up).
  `HeatDeskLockStore` keeps the tickets of a conversation in one Redis hash changed only by
  Lua scripts (atomic), takes time from Redis (one clock for all servers) and serves tickets
  strictly in the order they were issued.
* The agent wraps every tracker store in `FailSafeTrackerStore`, which on a Redis error
  answers with a fresh tracker and saves into process memory: the conversation silently
  forgets its past and other servers never see it. `HeatDeskTrackerStore` cannot switch that
  off, so it makes it loud: an ERROR log for each fallback, and `store_health` fails the Rasa
  health check (`GET /webhooks/rest/`) while Redis does not answer and for
  `FALLBACK_ALERT_SECONDS` after the last fallback.

Both stores' Redis clients have socket timeouts and retry a command once on a fresh connection
(after a Redis restart every pooled connection is dead). Importing this module also installs
`bot.action_guard` (an unreachable action server gives the resident an apology, not silence).

Lock layout (`heatdesk:lock:{conversation_id}`, a hash): `last` = the last ticket number
issued; `t:{n}` = the expiry of ticket n in milliseconds of Redis time. The key is deleted
when no ticket is left, and expires on its own a minute after its last ticket would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, Iterable, List, Optional, Text, Union
from urllib.parse import urlparse

import redis as redis_sync
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from redis.exceptions import RedisError

from bot import action_guard, tracker_json
from bot.redis_client import get_redis, run_script
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# endpoints.yml makes every Rasa server import this module at start: the place to make sure an
# unreachable action server gives the resident an apology, not silence (see bot/action_guard.py).
action_guard.install()

#: Seconds after the last fallback to memory during which the health check keeps failing, so that
#: a Redis blip between two probes is still seen by the load balancer and the monitoring.
FALLBACK_ALERT_SECONDS = 10.0
#: Seconds between two looks at a conversation's lock while waiting for its turn.
LOCK_POLL_SECONDS = 0.05
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


def _sync_client(**kwargs: Any) -> redis_sync.StrictRedis:
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


# Rasa's common save, decided where the stored text is, in one round trip: when the new text
# starts with the stored one up to its closing `], "name": …}` (bot.tracker_json.events_close),
# the tracker being saved holds every stored event; store it. Otherwise return the stored text
# for the caller to merge. KEYS[1] tracker; ARGV[1] new text, ARGV[2] opening, ARGV[3] closing,
# ARGV[4] expiry in seconds ('' = none).
_SAVE_IF_EXTENDS = """
local stored = redis.call('GET', KEYS[1])
if stored then
  local head = #stored - #ARGV[3]
  if head < #ARGV[2] or string.sub(stored, 1, #ARGV[2]) ~= ARGV[2] or string.sub(stored, head + 1) ~= ARGV[3]
      or string.sub(ARGV[1], 1, head) ~= string.sub(stored, 1, head) then
    return stored
  end
end
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
end
return false
"""


#: Set by `retrieve` on a tracker it cut to the last session: the stored text before its events.
#: Every conversation with channel metadata has two (Rasa stores `session_started_metadata`
#: before `action_session_start`), and every idle WeChat conversation grows one more.
_STORED_BEFORE = "_heatdesk_stored_before"


class HeatDeskTrackerStore(RedisTrackerStore):
    """Conversation trackers in Redis under `heatdesk:tracker:`; every fallback to memory is loud."""

    def __init__(
        self,
        domain: Domain,
        event_broker: Optional[EventBroker] = None,
        key_prefix: Optional[Text] = None,
        record_exp: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        connection = redis_kwargs()
        if record_exp is None:
            record_exp = get_settings().tracker_expiry_seconds or None
        super().__init__(
            domain,
            event_broker=event_broker,
            record_exp=record_exp,
            key_prefix=(key_prefix or get_settings().keys.rasa_store_prefix()).split(":")[0],
            **connection,
        )
        # For the health check and Rasa's rare synchronous paths (`keys`); a turn's reads and
        # writes go through the asyncio client, so the server answers other residents meanwhile.
        self.red = _sync_client(decode_responses=True, **connection)
        store_health.watch(self.red)

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        try:
            await self._save(tracker, timeout)
        except Exception as error:  # noqa: BLE001 - recorded and re-raised for the fail-safe wrapper
            store_health.record_fallback("save", tracker.sender_id, error)
            raise

    async def _save(self, tracker: DialogueStateTracker, timeout: Optional[float]) -> None:
        """Rasa's save (stored events kept, new ones added), without rebuilding the stored tracker.

        Rasa reads and deserialises the stored conversation on every save to merge it with the
        tracker being saved. Here the common case (the saved tracker, after the stored events
        `retrieve` left out, extends the stored ones) is decided by a Redis script that stores it
        at once; otherwise `bot.tracker_json.joined` merges on the JSON, and only what it cannot
        tell (another writer's events, an edited history) goes through Rasa's `_merge_trackers`.
        """
        await self.stream_events(tracker)
        if not timeout and self.record_exp:
            timeout = self.record_exp
        expiry = int(timeout) if timeout else None
        key = self.key_prefix + tracker.sender_id
        serialised = self.serialise_tracker(tracker)
        # A tracker `retrieve` cut to its last session: the stored events before it, then its own.
        before = getattr(tracker, _STORED_BEFORE, "")
        whole = before + serialised[len(tracker_json.EVENTS_OPEN):] if before and tracker.events else serialised
        client = get_redis()
        stored = await run_script(
            client, _SAVE_IF_EXTENDS, [key],
            [whole, tracker_json.EVENTS_OPEN, tracker_json.events_close(tracker.sender_id), expiry or ""],
        )
        if stored is None:  # saved: the common case, one round trip
            return
        merged = tracker_json.joined(stored, serialised)
        if merged is None:
            prior = self.deserialise_tracker(tracker.sender_id, stored)
            merged = self.serialise_tracker(self._merge_trackers(prior, tracker))
        await client.set(key, merged, ex=expiry)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        try:
            return await super().retrieve(sender_id)
        except Exception as error:  # noqa: BLE001 - recorded and re-raised for the fail-safe wrapper
            store_health.record_fallback("retrieve", sender_id, error)
            raise

    async def _retrieve(self, sender_id: Text, fetch_all_sessions: bool) -> Optional[DialogueStateTracker]:
        """Rasa's retrieve, replaying only the events it returns (Rasa replays all, then the last session)."""
        stored = await get_redis().get(self.key_prefix + sender_id)
        if stored is None:
            return None
        events = json.loads(stored).get("events") or []
        start = 0 if fetch_all_sessions else tracker_json.last_session_start(events)
        if start == 0:
            return self._tracker_of(sender_id, events)
        # What Rasa's get_trackers_for_conversation_sessions builds for the last session.
        tracker = DialogueStateTracker.from_events(
            sender_id,
            tracker_json.events_from_dicts(events[start:]),
            self.domain.slots,
            max_event_history=self.max_event_history,
        )
        # So that saving it stays the one-round-trip case (a Redis script checks it still holds).
        setattr(tracker, _STORED_BEFORE, tracker_json.events_before(events, start))
        return tracker

    def deserialise_tracker(self, sender_id: Text, serialised_tracker: Union[Text, bytes]) -> DialogueStateTracker:
        """Rasa's, with the event classes looked up once (see `bot.tracker_json.events_from_dicts`)."""
        return self._tracker_of(sender_id, json.loads(serialised_tracker).get("events") or [])

    def _tracker_of(self, sender_id: Text, events: List[Dict[str, Any]]) -> DialogueStateTracker:
        tracker = self.init_tracker(sender_id)
        tracker.recreate_from_dialogue(Dialogue(sender_id, tracker_json.events_from_dicts(events)))
        return tracker

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        try:
            return await super().retrieve_full_tracker(sender_id)
        except Exception as error:  # noqa: BLE001 - recorded and re-raised for the fail-safe wrapper
            store_health.record_fallback("retrieve", sender_id, error)
            raise

    async def keys(self) -> Iterable[Text]:
        try:
            return await super().keys()
        except Exception as error:  # noqa: BLE001 - recorded and re-raised for the fail-safe wrapper
            store_health.record_fallback("keys", "*", error)
            raise


# Redis time in ms, so that every server agrees on which ticket has expired.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Drops expired tickets. KEYS[1] lock → {state, ahead} of `ticket`: state 1 = its turn,
# 0 = wait (`ahead` tickets first), -1 = the ticket is gone (expired).
_TURN_FUNCTION = """
local function turn(ticket)
  if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return {-1, 0} end
  local fields = redis.call('HGETALL', KEYS[1])
  local mine, ahead = false, 0
  for i = 1, #fields, 2 do
    local field = fields[i]
    if string.sub(field, 1, 2) == 't:' then
      local number = tonumber(string.sub(field, 3))
      if tonumber(fields[i + 1]) < now then
        redis.call('HDEL', KEYS[1], field)
      elseif number == ticket then
        mine = true
      elseif number < ticket then
        ahead = ahead + 1
      end
    end
  end
  if not mine then return {-1, ahead} end
  if ahead == 0 then return {1, 0} end
  return {0, ahead}
end
"""

# KEYS[1] lock; ARGV[1] lifetime ms → {the new ticket number, state, ahead}: the turn is checked in
# the same round trip, so a message nobody else is waiting for takes its turn at once.
_ISSUE = _NOW + _TURN_FUNCTION + """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'none' and kind ~= 'hash' then redis.call('DEL', KEYS[1]) end
local lifetime = tonumber(ARGV[1])
local number = redis.call('HINCRBY', KEYS[1], 'last', 1)
redis.call('HSET', KEYS[1], 't:' .. number, now + lifetime)
redis.call('PEXPIRE', KEYS[1], lifetime + 60000)
local state = turn(number)
return {number, state[1], state[2]}
"""

# KEYS[1] lock; ARGV[1] ticket → {state, ahead} (see `turn`).
_TURN = _NOW + _TURN_FUNCTION + """
return turn(tonumber(ARGV[1]))
"""

# KEYS[1] lock; ARGV[1] ticket (or '' to only drop expired ones) → tickets left; deletes an empty lock.
_FINISH = _NOW + """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
if ARGV[1] ~= '' then redis.call('HDEL', KEYS[1], 't:' .. ARGV[1]) end
local fields = redis.call('HGETALL', KEYS[1])
local left = 0
for i = 1, #fields, 2 do
  local field = fields[i]
  if string.sub(field, 1, 2) == 't:' then
    if tonumber(fields[i + 1]) < now then
      redis.call('HDEL', KEYS[1], field)
    else
      left = left + 1
    end
  end
end
if left == 0 then redis.call('DEL', KEYS[1]) end
return left
"""


class HeatDeskLockStore(RedisLockStore):
    """Per-conversation ticket locks in Redis under `heatdesk:lock:`, atomic across servers."""

    def __init__(self, endpoint_config: Any = None, key_prefix: Optional[Text] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            key_prefix = endpoint_config.kwargs.get("key_prefix", key_prefix)
        key_prefix = key_prefix or get_settings().keys.rasa_store_prefix()
        connection = redis_kwargs()
        super().__init__(key_prefix=str(key_prefix).split(":")[0], **connection)
        self.red = _sync_client(**connection)
        store_health.watch(self.red)

    def _key(self, conversation_id: Text) -> str:
        return self.key_prefix + conversation_id

    # -- the async path every message takes (Agent.handle_message, the delivery worker) ------

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Waits for this message's turn (tickets are served in the order issued), then holds it.

        Raises `LockError` when Redis fails or the ticket expired while waiting; the channel
        then apologises to the resident instead of answering out of order.
        """
        client = get_redis()
        key = self._key(conversation_id)
        lifetime_ms = int(lock_lifetime * 1000)
        try:
            issued = await run_script(client, _ISSUE, [key], [lifetime_ms])
            ticket, state, _ahead = (int(value) for value in issued)
        except RedisError as error:
            raise LockError(f"Could not issue a ticket for conversation '{conversation_id}': {error}") from error
        try:
            if state != 1:
                await self._wait_for_turn(client, key, conversation_id, ticket, wait_time_in_seconds)
            yield TicketLock(conversation_id, deque([Ticket(ticket, time.time() + lock_lifetime)]))
        finally:
            try:
                await run_script(client, _FINISH, [key], [str(ticket)])
            except RedisError as error:
                # The ticket expires on its own after `lock_lifetime`.
                logger.error("Could not return ticket %s of conversation %s: %s", ticket, conversation_id, error)

    async def _wait_for_turn(
        self, client: Any, key: str, conversation_id: Text, ticket: int, wait_time_in_seconds: float
    ) -> None:
        poll = min(max(wait_time_in_seconds, 0.01), LOCK_POLL_SECONDS)
        while True:
            try:
                state, ahead = await run_script(client, _TURN, [key], [str(ticket)])
            except RedisError as error:
                raise LockError(f"Lost Redis while waiting for conversation '{conversation_id}': {error}") from error
            if int(state) == 1:
                return
            if int(state) < 0:
                raise LockError(f"Ticket {ticket} of conversation '{conversation_id}' expired while waiting.")
            logger.debug("Conversation %s: %s message(s) before ticket %s", conversation_id, ahead, ticket)
            await asyncio.sleep(poll)

    # -- the synchronous LockStore API, kept for anything in Rasa that calls it ---------------

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self.red.eval(_ISSUE, 1, self._key(conversation_id), int(lock_lifetime * 1000))[0])
        except RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self.red.eval(_FINISH, 1, self._key(conversation_id), str(ticket_number))

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)

    def update_lock(self, conversation_id: Text) -> None:
        self.red.eval(_FINISH, 1, self._key(conversation_id), "")

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        try:
            fields = self.red.hgetall(self._key(conversation_id))
        except redis_sync.ResponseError:  # a lock written by Rasa's own store before an upgrade
            return None
        if not fields:
            return None
        tickets = sorted(
            (int(name[2:]), int(expires) / 1000.0)
            for name, expires in ((k.decode() if isinstance(k, bytes) else k, v) for k, v in fields.items())
            if name.startswith("t:")
        )
        return TicketLock(conversation_id, deque(Ticket(number, expires) for number, expires in tickets))

    def save_lock(self, lock: TicketLock) -> None:
        """Replaces the stored tickets (not atomic; Rasa's own paths never call it on this store)."""
        key = self._key(lock.conversation_id)
        pipe = self.red.pipeline(transaction=True)
        pipe.delete(key)
        if lock.tickets:
            mapping = {f"t:{t.number}": int(t.expires * 1000) for t in lock.tickets}
            mapping["last"] = max(t.number for t in lock.tickets)
            pipe.hset(key, mapping=mapping)
            pipe.pexpire(key, int(LOCK_LIFETIME * 1000) + 60000)
        pipe.execute()
