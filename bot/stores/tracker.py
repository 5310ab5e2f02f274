"""Conversation trackers in Redis: one round trip per save, and every fallback to memory loud.

The agent wraps every tracker store in Rasa's `FailSafeTrackerStore`, which on a Redis error answers
with a fresh tracker and saves into process memory; this store records each fallback in
`connection.store_health` (an ERROR log, and a failing Rasa health check for a while).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional, Text, Union

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot import tracker_json
from bot.redis_client import get_redis, run_script
from bot.settings import get_settings
from bot.stores import connection
from bot.stores.connection import redis_kwargs, sync_client


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
        address = redis_kwargs()
        if record_exp is None:
            record_exp = get_settings().tracker_expiry_seconds or None
        super().__init__(
            domain,
            event_broker=event_broker,
            record_exp=record_exp,
            key_prefix=(key_prefix or get_settings().keys.rasa_store_prefix()).split(":")[0],
            **address,
        )
        # For the health check and Rasa's rare synchronous paths (`keys`); a turn's reads and
        # writes go through the asyncio client, so the server answers other residents meanwhile.
        self.red = sync_client(decode_responses=True, **address)
        connection.store_health.watch(self.red)

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        try:
            await self._save(tracker, timeout)
        except Exception as error:  # noqa: BLE001 - recorded and re-raised for the fail-safe wrapper
            connection.store_health.record_fallback("save", tracker.sender_id, error)
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
            connection.store_health.record_fallback("retrieve", sender_id, error)
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
            connection.store_health.record_fallback("retrieve", sender_id, error)
            raise

    async def keys(self) -> Iterable[Text]:
        try:
            return await super().keys()
        except Exception as error:  # noqa: BLE001 - recorded and re-raised for the fail-safe wrapper
            connection.store_health.record_fallback("keys", "*", error)
            raise
