"""Who can be reached, and where: read in bulk from the Redis keys the Rasa side writes.

* WeChat: the OpenID → account bindings made by the identity check (`KeySpace.wechat_binding`);
  whether the resident wrote within WeChat's 48-hour window (`KeySpace.wechat_last_seen`, set by
  the handoff router), which decides between the customer-service and the template API.
* Opt-outs: `<channel>:<address>` members of `KeySpace.reminder_optouts()` (退订 / 恢复提醒).
* The website widget: its sessions are not bound to accounts, so a household reachable only
  there counts as "no channel" (docs/reminders.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from heatdesk_contract.keys import KeySpace, optout_member

WECHAT = "wechat"
NO_CHANNEL = "none"
_BATCH = 5000  # keys per SCAN step and per MGET: fewer round trips while billing streams


@dataclass
class Reach:
    """A snapshot of bindings, opt-outs and open service windows, taken once per plan."""

    bindings: dict[str, list[str]] = field(default_factory=dict)
    optouts: set[str] = field(default_factory=set)
    in_window: set[str] = field(default_factory=set)

    def choose(self, account_no: str) -> tuple[str, str | None, str]:
        """(channel, address, state) of one household: a bound OpenID that did not opt out,
        preferring one inside the 48-hour window (a plain message beats a template)."""
        openids = sorted(self.bindings.get(account_no, ()))
        if not openids:
            return NO_CHANNEL, None, "no_channel"
        allowed = [o for o in openids if optout_member(WECHAT, o) not in self.optouts]
        if not allowed:
            return WECHAT, openids[0], "opted_out"
        in_window = [o for o in allowed if o in self.in_window]
        return WECHAT, (in_window or allowed)[0], "queued"


async def load_reach(redis: aioredis.Redis, keys: KeySpace) -> Reach:
    """Every binding (SCAN + MGET in batches), the opt-out set, and the open windows of the
    OpenIDs that share a household: only there does the window decide (``choose``); a household
    with one OpenID gets it either way, and the sender asks WeChat's window again at send time."""
    reach = Reach(bindings=defaultdict(list))
    batch: list[str] = []

    async def flush() -> None:
        values = await redis.mget(batch)
        for key, account_no in zip(batch, values):
            if account_no:
                reach.bindings[account_no].append(keys.openid_of_binding(key))
        batch.clear()

    async for key in redis.scan_iter(match=keys.wechat_binding_pattern(), count=_BATCH):
        batch.append(key)
        if len(batch) >= _BATCH:
            await flush()
    if batch:
        await flush()
    reach.optouts = set(await redis.smembers(keys.reminder_optouts()))
    openids = [o for group in reach.bindings.values() if len(group) > 1 for o in group]
    for start in range(0, len(openids), _BATCH):
        chunk = openids[start:start + _BATCH]
        seen = await redis.mget([keys.wechat_last_seen(o) for o in chunk])
        reach.in_window.update(o for o, mark in zip(chunk, seen) if mark)
    reach.bindings = dict(reach.bindings)
    return reach


async def opted_out(redis: aioredis.Redis, keys: KeySpace, channel: str, address: str) -> bool:
    return bool(await redis.sismember(keys.reminder_optouts(), optout_member(channel, address)))


async def in_service_window(redis: aioredis.Redis, keys: KeySpace, openid: str) -> bool:
    return bool(await redis.exists(keys.wechat_last_seen(openid)))
