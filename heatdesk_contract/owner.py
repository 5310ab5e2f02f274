"""Who answers a conversation: the owner hash (``KeySpace.owner``) and every script that changes it.

Absent or ``owner=bot`` → the bot answers; ``owner=agent`` → the ticket ``ticket_no`` (request
key ``ticket_key``) owns it. The handoff action sets it, the console claims, releases, takes
(reopen), renumbers and rebuilds it, the bot releases it when the resident withdraws. Each
change is one Lua script, spelled here so that both sides name the same hash fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping

BOT = "bot"
AGENT = "agent"


@dataclass(frozen=True)
class Owner:
    """The owner hash of one conversation."""

    owner: str  # BOT | AGENT
    ticket_no: str = ""
    agent: str = ""  # the agent's display name, once claimed
    #: The idempotency key of the ticket's request: names the ticket even if it was renumbered.
    ticket_key: str = ""
    channel: str = ""

    @property
    def is_agent(self) -> bool:
        return self.owner == AGENT

    def to_fields(self) -> Dict[str, str]:
        return {"owner": self.owner, "ticket_no": self.ticket_no, "channel": self.channel, "agent": self.agent,
                "ticket_key": self.ticket_key}

    @classmethod
    def from_fields(cls, data: Mapping[str, str]) -> "Owner":
        """HGETALL's answer; anything but an agent owner (absent key included) is the bot."""
        if data.get("owner") != AGENT:
            return cls(BOT)
        return cls(AGENT, data.get("ticket_no", ""), data.get("agent", ""), data.get("ticket_key", ""),
                   data.get("channel", ""))


# KEYS[1] = owner hash, KEYS[2] = queue; ARGV[1] = ticket_no.
# Withdrawal (bot): drop the owner and the queue entry only while this ticket still owns it.
CANCEL = """
local t = redis.call('HGET', KEYS[1], 'ticket_no')
if t ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# Claim (console): note the agent (ARGV[2]) on the owner hash, only if it still belongs to this ticket.
CLAIM = """
local t = redis.call('HGET', KEYS[1], 'ticket_no')
if t == ARGV[1] then redis.call('HSET', KEYS[1], 'agent', ARGV[2]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return t and 1 or 0
"""

# Release (console): give the conversation back to the bot unless a newer ticket owns it now.
RELEASE = """
local t = redis.call('HGET', KEYS[1], 'ticket_no')
local released = 0
if (not t) or t == ARGV[1] then released = redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return released
"""

# Take (console, reopen; KEYS[1] only): the agent owns the conversation again unless another
# ticket does. ARGV = ticket_no, channel, agent, ticket_key ('' keeps the old one).
TAKE = """
local owner = redis.call('HGET', KEYS[1], 'owner')
local t = redis.call('HGET', KEYS[1], 'ticket_no')
if owner and owner ~= 'bot' and t and t ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', 'agent', 'ticket_no', ARGV[1], 'channel', ARGV[2], 'agent', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'ticket_key', ARGV[4]) end
return 1
"""

# Renumber (console): the owner follows the ticket's final number (if it still names the number
# the resident was first told), and the queue lists the final number.
# ARGV = previous_no, ticket_no, ticket_key, score, '1' when still queued.
RENUMBER = """
local t = redis.call('HGET', KEYS[1], 'ticket_no')
if t == ARGV[1] then redis.call('HSET', KEYS[1], 'ticket_no', ARGV[2], 'ticket_key', ARGV[3]) end
if ARGV[5] == '1' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2]) end
return t == ARGV[1] and 1 or 0
"""

# Rebuild (console, after Redis lost its data): own the conversation again unless some ticket owns
# it now. ARGV = ticket_no, channel, agent, ticket_key, score, '1' when still queued.
REBUILD = """
if redis.call('HGET', KEYS[1], 'owner') == 'agent' then return 0 end
redis.call('HSET', KEYS[1], 'owner', 'agent', 'ticket_no', ARGV[1], 'channel', ARGV[2], 'agent', ARGV[3],
           'ticket_key', ARGV[4])
if ARGV[6] == '1' then redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[1]) end
return 1
"""
