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


def identity_lock(channel: str, account_no: str) -> str:
    return key("identity", "lock", channel, account_no)


def identity_failures(channel: str, account_no: str) -> str:
    return key("identity", "fail", channel, account_no)


WECHAT_BINDING_PREFIX = "bind:wechat:"


def wechat_binding(openid: str) -> str:
    return key(WECHAT_BINDING_PREFIX + openid)


def conversations_of_day(day: str) -> str:
    """HyperLogLog of the conversations that wrote on `day` (yyyymmdd), for the handoff rate."""
    return key("stats", "conversations", day)


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
