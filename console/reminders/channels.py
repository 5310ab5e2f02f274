"""Who can be reached, and where: read in bulk from the Redis keys the Rasa side writes.

* WeChat: the OpenID → account bindings made by the identity check (`KeySpace.wechat_binding`);
  whether the resident wrote within WeChat's 48-hour window (`KeySpace.wechat_last_seen`, set by
  the handoff router), which decides between the customer-service and the template API.
* Opt-outs: `<channel>:<address>` members of `KeySpace.reminder_optouts()` (退订 / 恢复提醒).
* The website widget: a session in which the identity check passed is bound
  (`KeySpace.widget_binding`); a household with no usable WeChat binding gets its notice there,
  shown the next time that session opens the widget (`console.reminders.widget_notices`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import redis.asyncio as aioredis

from heatdesk_contract.keys import KeySpace, optout_member

WECHAT = "wechat"
WIDGET = "widget"
NO_CHANNEL = "none"
_BATCH = 5000  # keys per SCAN step and per MGET: fewer round trips while billing streams


@dataclass
class Reach:
    """A snapshot of bindings, opt-outs and open service windows, taken once per plan."""

    bindings: dict[str, list[str]] = field(default_factory=dict)
    widget_sessions: dict[str, list[str]] = field(default_factory=dict)
    optouts: set[str] = field(default_factory=set)
    in_window: set[str] = field(default_factory=set)

    def choose(self, account_no: str) -> tuple[str, str | None, str]:
        """(channel, address, state) of one household: a bound OpenID that did not opt out,
        preferring one inside the 48-hour window (a plain message beats a template), else a bound
        widget session that did not opt out; opted out when every address it has did."""
        openids = sorted(self.bindings.get(account_no, ()))
        sessions = sorted(self.widget_sessions.get(account_no, ()))
        if not openids and not sessions:
            return NO_CHANNEL, None, "no_channel"
        allowed = [o for o in openids if optout_member(WECHAT, o) not in self.optouts]
        if allowed:
            in_window = [o for o in allowed if o in self.in_window]
            return WECHAT, (in_window or allowed)[0], "queued"
        widget = [s for s in sessions if optout_member(WIDGET, s) not in self.optouts]
        if widget:
            return WIDGET, widget[0], "queued"
        return (WECHAT, openids[0], "opted_out") if openids else (WIDGET, sessions[0], "opted_out")


async def load_reach(redis: aioredis.Redis, keys: KeySpace) -> Reach:
    """Every binding (SCAN + MGET in batches), the opt-out set, and the open windows of the
    OpenIDs that share a household: only there does the window decide (``choose``); a household
    with one OpenID gets it either way, and the sender asks WeChat's window again at send time."""
    reach = Reach(bindings=await _scan_bindings(redis, keys.wechat_binding_pattern(), keys.openid_of_binding),
                  widget_sessions=await _scan_bindings(redis, keys.widget_binding_pattern(),
                                                       keys.session_of_widget_binding))
    reach.optouts = set(await redis.smembers(keys.reminder_optouts()))
    openids = [o for group in reach.bindings.values() if len(group) > 1 for o in group]
    for start in range(0, len(openids), _BATCH):
        chunk = openids[start:start + _BATCH]
        seen = await redis.mget([keys.wechat_last_seen(o) for o in chunk])
        reach.in_window.update(o for o, mark in zip(chunk, seen) if mark)
    return reach


async def _scan_bindings(redis: aioredis.Redis, pattern: str, address_of: Callable[[str], str]) -> dict[str, list[str]]:
    """account_no → the addresses bound to it (SCAN + MGET in batches)."""
    found: dict[str, list[str]] = defaultdict(list)
    batch: list[str] = []

    async def flush() -> None:
        values = await redis.mget(batch)
        for key, account_no in zip(batch, values):
            if account_no:
                found[account_no].append(address_of(key))
        batch.clear()

    async for key in redis.scan_iter(match=pattern, count=_BATCH):
        batch.append(key)
        if len(batch) >= _BATCH:
            await flush()
    if batch:
        await flush()
    return dict(found)


async def opted_out(redis: aioredis.Redis, keys: KeySpace, channel: str, address: str) -> bool:
    return bool(await redis.sismember(keys.reminder_optouts(), optout_member(channel, address)))


async def in_service_window(redis: aioredis.Redis, keys: KeySpace, openid: str) -> bool:
    return bool(await redis.exists(keys.wechat_last_seen(openid)))
