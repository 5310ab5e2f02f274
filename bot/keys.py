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
