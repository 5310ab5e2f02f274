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


def wechat_binding(openid: str) -> str:
    return key("bind", "wechat", openid)


def wechat_choices(openid: str) -> str:
    """The payloads behind the numbered choices last shown to a WeChat user ("1" → payload)."""
    return key("choices", "wechat", openid)


def conversations_of_day(day: str) -> str:
    """HyperLogLog of the conversations that wrote on `day` (yyyymmdd), for the handoff rate."""
    return key("stats", "conversations", day)
