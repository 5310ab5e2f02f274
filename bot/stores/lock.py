"""Per-conversation ticket locks in Redis, atomic across Rasa servers (Lua scripts, Redis time).

Lock layout (`heatdesk:lock:{conversation_id}`, a hash): `last` = the last ticket number
issued; `t:{n}` = the expiry of ticket n in milliseconds of Redis time. The key is deleted
when no ticket is left, and expires on its own a minute after its last ticket would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Optional, Text

import redis as redis_sync
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from redis.exceptions import RedisError

from bot.redis_client import get_redis, run_script
from bot.settings import get_settings
from bot.stores import connection
from bot.stores.connection import redis_kwargs, sync_client

logger = logging.getLogger(__name__)

#: Seconds between two looks at a conversation's lock while waiting for its turn.
LOCK_POLL_SECONDS = 0.05


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
        address = redis_kwargs()
        super().__init__(key_prefix=str(key_prefix).split(":")[0], **address)
        self.red = sync_client(**address)
        connection.store_health.watch(self.red)

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
