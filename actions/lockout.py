"""Atomic verification limits: every try is counted *before* billing is asked.

One Lua script (so every action-server process agrees, and concurrent guesses
are ordered by Redis) checks and counts a try against four limits at once:

* per (account, conversation): 3 wrong tails lock that account *in that
  conversation* for 15 minutes — a stranger cannot lock the owner's own chat;
* per account, across all conversations: a ceiling of failed tries in a window;
  above it the account cools down for a few minutes for everyone. That slows a
  guesser with many conversations to a handful of tries per cooldown, while the
  owner is kept out at most one cooldown at a time (never 15 minutes);
* per conversation (any account) and per client address (set by the channel,
  never by the client's body): ceilings of failed tries in a window.

A try counts as a failure until billing says the tail is right; then it is
refunded. So N concurrent guesses reach billing at most `account_ceiling` times,
and once a limit is hit no guess — the right one included — reaches billing.
Figures come from `identity:` in config/city.yml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List

from bot.redis_client import get_redis
from bot.settings import city, redis_keys

GO = "go"
LOCKED = "locked"  # this account, in this conversation
BUSY = "busy"  # a ceiling (account, conversation or client address) was hit

# KEYS: 1 conversation lock, 2 conversation failures (this account), 3 account failures,
#       4 account cooldown, 5 client failures, 6 conversation failures (any account)
# ARGV: 1 max failures per conversation, 2 lock seconds, 3 account ceiling, 4 window seconds,
#       5 cooldown seconds, 6 client ceiling, 7 conversation ceiling
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {'locked', 0} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'busy', 0} end
local function count(key, window)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, window) end
  return n
end
local window = tonumber(ARGV[4])
if count(KEYS[5], window) > tonumber(ARGV[6]) then return {'busy', 0} end
if count(KEYS[6], window) > tonumber(ARGV[7]) then return {'busy', 0} end
local tries = count(KEYS[2], tonumber(ARGV[2]))
if tries > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'EX', tonumber(ARGV[2]))
  return {'locked', 0}
end
if count(KEYS[3], window) > tonumber(ARGV[3]) then
  redis.call('SET', KEYS[4], '1', 'EX', tonumber(ARGV[5]))
  redis.call('DEL', KEYS[3])
  return {'busy', 0}
end
return {'go', tries}
"""

# A wrong tail: lock the conversation's account when it was the last allowed try.
_FAILED = """
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'EX', tonumber(ARGV[2]))
  redis.call('DEL', KEYS[2])
  return 0
end
return tonumber(ARGV[1]) - tonumber(redis.call('GET', KEYS[2]) or '0')
"""

# The right tail (or billing did not answer): the try was no failure after all.
_REFUND = """
for i = 2, 6 do
  if i ~= 4 and tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
if ARGV[1] == 'verified' then redis.call('DEL', KEYS[2]) end
return 1
"""


@dataclass(frozen=True)
class Limits:
    max_failures: int = 3
    lock_seconds: int = 15 * 60
    account_ceiling: int = 10
    window_seconds: int = 15 * 60
    cooldown_seconds: int = 5 * 60
    client_ceiling: int = 20
    conversation_ceiling: int = 10

    @classmethod
    def from_city(cls) -> "Limits":
        """`identity:` of config/city.yml, each figure defaulting to the one above."""
        figures: Dict[str, Any] = dict(city().get("identity") or {})
        names = cls.__dataclass_fields__
        return cls(**{name: int(figures[name]) for name in names if name in figures})

    def argv(self) -> List[int]:
        return [
            self.max_failures, self.lock_seconds, self.account_ceiling, self.window_seconds,
            self.cooldown_seconds, self.client_ceiling, self.conversation_ceiling,
        ]


def _keys(account_no: str, conversation: str, client: str) -> List[str]:
    return [
        redis_keys().identity_lock(account_no, conversation),
        redis_keys().identity_failures(account_no, conversation),
        redis_keys().identity_account_failures(account_no),
        redis_keys().identity_account_cooldown(account_no),
        redis_keys().identity_client_failures(client),
        redis_keys().identity_conversation_failures(conversation),
    ]


async def begin(account_no: str, conversation: str, client: str) -> str:
    """Counts this try; `GO` when billing may be asked, else `LOCKED` or `BUSY`."""
    limits = Limits.from_city()
    verdict, _tries = await get_redis().eval(
        _BEGIN, 6, *_keys(account_no, conversation, client), *limits.argv()
    )
    return str(verdict)


async def failed(account_no: str, conversation: str, client: str) -> int:
    """Billing said wrong (or no such account): the tries left here, 0 = now locked."""
    limits = Limits.from_city()
    left = await get_redis().eval(
        _FAILED, 2, *_keys(account_no, conversation, client)[:2], limits.max_failures, limits.lock_seconds
    )
    return int(left)


async def refund(account_no: str, conversation: str, client: str, verified: bool) -> None:
    """Billing said right (`verified`: earlier failures here are forgiven too) or could not say:
    the try was no failure and is given back everywhere it was counted."""
    await get_redis().eval(
        _REFUND, 6, *_keys(account_no, conversation, client), "verified" if verified else "unavailable"
    )
