"""Redis key names shared by the Rasa side (see docs/architecture.md)."""

from __future__ import annotations


PREFIX = "heatdesk:"


def key(*parts: str) -> str:
    """`heatdesk:part:part…`; tests isolate themselves by Redis database, not by prefix."""
    return PREFIX + ":".join(parts)


def owner(conversation_id: str) -> str:
    return key("owner", conversation_id)


TICKET_STREAM = "stream:tickets"
OUTBOX_STREAM = "stream:outbox"
QUEUE = "queue"


def tickets_stream() -> str:
    return key(TICKET_STREAM)


def outbox_stream() -> str:
    return key(OUTBOX_STREAM)


def queue() -> str:
    return key(QUEUE)


def ticket_seq(day: str) -> str:
    return key("ticket_seq", day)


def inbox(conversation_id: str) -> str:
    return key("inbox", conversation_id)


def inbox_token(conversation_id: str) -> str:
    """The REST conversation's inbox token (issued on its first POST)."""
    return key("inbox_token", conversation_id)


def identity_lock(account_no: str, conversation_id: str) -> str:
    """This account locked in this conversation (actions/lockout.py)."""
    return key("identity", "lock", account_no, conversation_id)


def identity_failures(account_no: str, conversation_id: str) -> str:
    return key("identity", "fail", account_no, conversation_id)


def identity_account_failures(account_no: str) -> str:
    """Failed tries on an account across all conversations (the global ceiling)."""
    return key("identity", "account_fail", account_no)


def identity_account_cooldown(account_no: str) -> str:
    return key("identity", "account_cooldown", account_no)


def identity_client_failures(client: str) -> str:
    """Failed tries from one client address (`ip:…`, `wechat:…`) on any account."""
    return key("identity", "client_fail", client)


def identity_conversation_failures(conversation_id: str) -> str:
    return key("identity", "conversation_fail", conversation_id)


def identity_session(conversation_id: str) -> str:
    """The account verified in this conversation's current session (expires when idle)."""
    return key("identity", "session", conversation_id)


WECHAT_BINDING_PREFIX = "bind:wechat:"


def wechat_binding(openid: str) -> str:
    return key(WECHAT_BINDING_PREFIX + openid)


def wechat_choices(openid: str) -> str:
    """The payloads behind the numbered choices last shown to a WeChat user ("1" → payload)."""
    return key("choices", "wechat", openid)


def conversations_of_day(day: str) -> str:
    """HyperLogLog of the conversations that wrote on `day` (yyyymmdd), for the handoff rate."""
    return key("stats", "conversations", day)


PRESENCE = "presence"


def presence() -> str:
    """Sorted set agent id → until when (epoch seconds) the agent counts as on duty.

    Written by the console on every authenticated request and live-stream heartbeat, read by
    the bot to tell a queued resident whether anybody is there to answer.
    """
    return key(PRESENCE)


QUEUE_PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2}
_RANK_SPAN = 1e10  # larger than any epoch-seconds value we will see: rank first, then SLA due time


def queue_score(priority: str, sla_due_epoch: float) -> float:
    """Score of a ticket in the queue sorted set: the order the console works the queue
    (priority, then SLA due time), so the position the bot tells equals the console's."""
    return QUEUE_PRIORITY_RANK.get(priority, 3) * _RANK_SPAN + round(sla_due_epoch, 3)


def wechat_binding_pattern() -> str:
    """SCAN pattern of every WeChat binding (the console's reminders read them in bulk)."""
    return key(WECHAT_BINDING_PREFIX + "*")


def openid_of_binding(binding_key: str) -> str:
    return binding_key[len(key(WECHAT_BINDING_PREFIX)):]


def wechat_last_seen(openid: str) -> str:
    """Set by the router on every WeChat message, expiring with WeChat's 48-hour service window."""
    return key("wechat", "last_seen", openid)


def reminder_optouts() -> str:
    """Set of `<channel>:<address>` that replied 退订 (reminders stop until 恢复提醒)."""
    return key("remind", "optout")
