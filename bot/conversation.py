"""Conversation ids that belong to their channel (DESIGN.md, "Conversation ids belong to their channel").

A client names itself (a REST `sender`, a WeChat OpenID, a widget session); the
channel turns that into `<channel>:<id>`, so the tracker, the handoff owner, the
tickets and the identity state of a WeChat user can never be reached by a REST
client that posts the same string, and the other way round. The prefix is added
by the channel that received the message, never taken from the client.
"""

from __future__ import annotations

SEPARATOR = ":"
#: Message metadata key the channel sets (overwriting whatever a client sent) to the
#: client's address (`ip:<address>`, `wechat:<openid>`), for the verification rate limits.
CLIENT_METADATA_KEY = "heatdesk_client"


class ForeignConversation(ValueError):
    """A conversation id that does not belong to the channel asked about."""


def conversation_id(channel: str, native_id: str) -> str:
    """`rest` + `alice` → `rest:alice` (the native id may itself contain colons)."""
    return f"{channel}{SEPARATOR}{native_id}"


def native_id(channel: str, conversation: str) -> str:
    """The id the channel itself knows (e.g. the OpenID), for delivery through that channel."""
    prefix = channel + SEPARATOR
    if not conversation.startswith(prefix):
        raise ForeignConversation(f"conversation is not on channel {channel!r}")
    return conversation[len(prefix):]


def channel_of(conversation: str) -> str:
    """The channel a conversation id belongs to ('' for an id without a channel)."""
    head, separator, _rest = conversation.partition(SEPARATOR)
    return head if separator else ""

