"""What widget clients send, validated: `session_request` and `user_uttered` payloads.

Lenient where Rasa's socket.io channel is (a missing or malformed credential
starts a new session) and strict where the resident must be told (`InvalidPayload`
carries the Chinese answer, sent as a `widget_error` event, never an exception).
Pure functions of the payload, so tests call them directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from bot import messages
from bot.handoff.policy import OWNER_METADATA_KEY
from connectors.base import MAX_TEXT, text_too_long

MAX_CLIENT_ID = 64
MAX_DISPLAY = 200
MAX_METADATA_BYTES = 4096
SESSION_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: What `session_request` asks for to get message ids, timestamps, handoff state and replay.
PROTOCOL_RICH = "heatdesk/2"
#: Conversation ids are owned by their channel: no other channel can name a widget conversation.
CONVERSATION_PREFIX = "widget:"
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,%d}$" % MAX_CLIENT_ID)
#: Metadata keys only the server may set (the router marks agent-owned messages with them).
RESERVED_METADATA_KEYS = frozenset({OWNER_METADATA_KEY, "ticket_no", "agent"})


class InvalidPayload(ValueError):
    """A client event we cannot act on; `text` is what the resident is told."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(code)
        self.code = code
        self.text = text


@dataclass(frozen=True)
class Credential:
    """A session id and the resume token that proves the client was given it."""

    session_id: str
    token: str

    def plain(self) -> str:
        """The one opaque string a plain Rasa client stores as its session id."""
        return f"{self.session_id}.{self.token}"


@dataclass(frozen=True)
class SessionRequest:
    """`session_request` data: the client's credential (if any), protocol and last message it has."""

    credential: Optional[Credential]
    last_message_id: Optional[int]
    rich: bool = False


@dataclass(frozen=True)
class IncomingMessage:
    """A validated `user_uttered` event."""

    credential: Optional[Credential]
    text: str
    client_id: Optional[str]
    metadata: Dict[str, Any] = field(default_factory=dict)
    #: What the resident saw (a quick-reply title) when `text` is a payload such as `/ask_balance`.
    display: Optional[str] = None

    @property
    def shown(self) -> str:
        return self.display or self.text



def conversation_id(session_id: str) -> str:
    """The Rasa sender id (and ticket conversation id) of a widget session."""
    return CONVERSATION_PREFIX + session_id


def session_of(conversation: str) -> Optional[str]:
    """The session id inside a widget conversation id; None for another channel's id."""
    if conversation.startswith(CONVERSATION_PREFIX):
        return _valid_session_id(conversation[len(CONVERSATION_PREFIX):])
    return None


def _valid_session_id(value: Any) -> Optional[str]:
    if isinstance(value, str) and SESSION_ID_PATTERN.match(value):
        return value
    return None


def extract_credential(data: Dict[str, Any]) -> Optional[Credential]:
    """`session_id` + `resume_token` (rich clients) or `session_id = "<id>.<token>"` (plain ones)."""
    raw = data.get("session_id")
    if not isinstance(raw, str):
        return None
    session_id, _, token = raw.partition(".")
    if not token:
        token = data.get("resume_token") if isinstance(data.get("resume_token"), str) else ""
    if _valid_session_id(session_id) and TOKEN_PATTERN.match(token):
        return Credential(session_id, token)
    return None


def extract_session_request(data: Any) -> SessionRequest:
    """Lenient: a missing or malformed credential means "start a new session" (as in Rasa)."""
    if not isinstance(data, dict):
        return SessionRequest(None, None)
    last = data.get("last_message_id")
    valid_last = last if isinstance(last, int) and not isinstance(last, bool) and last >= 0 else None
    return SessionRequest(extract_credential(data), valid_last, data.get("protocol") == PROTOCOL_RICH)


def extract_metadata(raw: Any) -> Dict[str, Any]:
    """Client metadata is advisory: anything too big or not an object is dropped, never fatal."""
    if isinstance(raw, str):
        if len(raw) > MAX_METADATA_BYTES:
            return {}
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, dict):
        return {}
    try:
        size = len(json.dumps(raw, ensure_ascii=False))
    except (TypeError, ValueError):
        return {}
    if size > MAX_METADATA_BYTES:
        return {}
    return {key: value for key, value in raw.items() if key not in RESERVED_METADATA_KEYS}


def extract_message(data: Any, metadata_key: str = "metadata") -> IncomingMessage:
    """Validates a `user_uttered` event; raises `InvalidPayload` with the Chinese answer."""
    if not isinstance(data, dict):
        raise InvalidPayload("invalid_payload", messages.WIDGET_INVALID_MESSAGE)
    text = data.get("message")
    if not isinstance(text, str):
        raise InvalidPayload("invalid_message", messages.WIDGET_INVALID_MESSAGE)
    text = text.strip()
    if not text:
        raise InvalidPayload("empty_message", messages.WIDGET_EMPTY_MESSAGE)
    if text_too_long(text):
        raise InvalidPayload("message_too_long", messages.WIDGET_MESSAGE_TOO_LONG.format(limit=MAX_TEXT))
    client_id = data.get("client_id")
    if not (isinstance(client_id, str) and CLIENT_ID_PATTERN.match(client_id)):
        client_id = None
    display = data.get("display")
    display = display.strip() if isinstance(display, str) else ""
    return IncomingMessage(
        credential=extract_credential(data),
        text=text,
        client_id=client_id,
        metadata=extract_metadata(data.get(metadata_key)),
        display=display if 0 < len(display) <= MAX_DISPLAY else None,
    )

