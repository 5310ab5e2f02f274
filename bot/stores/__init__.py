"""Rasa's Redis tracker and lock stores, configured from REDIS_URL, safe behind a load balancer.

`tracker` (conversations, loud fallbacks), `lock` (ticket locks by Lua), `connection` (their Redis
clients and the health both report to); endpoints.yml names `bot.stores.tracker.HeatDeskTrackerStore`
and `bot.stores.lock.HeatDeskLockStore`.

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
(after a Redis restart every pooled connection is dead). Importing this package also installs
`bot.action_guard` (an unreachable action server gives the resident an apology, not silence).
"""

from __future__ import annotations

from bot import action_guard

# endpoints.yml makes every Rasa server import the stores (this package first) at start: the place to
# make sure an unreachable action server gives the resident an apology, not silence (bot/action_guard.py).
action_guard.install()
