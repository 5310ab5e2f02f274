"""The widget's socket.io events beyond Rasa's, and how a bot message reaches a session's sockets.

Sockets join a room per session and protocol, so an emit from any Rasa process
(through python-socketio's Redis manager) reaches them: plain Rasa clients get
exactly Rasa's `bot_uttered` shapes, `heatdesk/2` clients the same plus
`message_id` and `ts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import urlparse

from socketio import AsyncRedisManager, AsyncServer

from connectors.widget_protocol.payloads import PROTOCOL_RICH
from connectors.widget_protocol.transcript import TranscriptEntry
from heatdesk_contract.keys import KeySpace

#: Engine.IO refuses bigger packets outright; our own limit (MAX_TEXT) answers politely below it.
MAX_PACKET_BYTES = 64 * 1024

# Events beyond Rasa's protocol (rasa-webchat ignores them).
EVENT_TRANSCRIPT = "transcript"
EVENT_USER_ECHO = "user_echo"
EVENT_TYPING = "bot_typing"
EVENT_HANDOFF = "handoff_state"
EVENT_ERROR = "widget_error"
EVENT_HANDOFF_REQUEST = "handoff_state_request"
EVENT_TRANSCRIPT_REQUEST = "transcript_request"


@dataclass(frozen=True)
class HandoffState:
    """Who answers the conversation, as the widget shows it."""

    status: str  # "bot" | "queued" | "agent"
    ticket_no: str = ""
    position: Optional[int] = None
    agent: str = ""

    def as_event(self) -> Dict[str, Any]:
        return {"status": self.status, "ticket_no": self.ticket_no, "position": self.position, "agent": self.agent}


def plain_room(session_id: str) -> str:
    """The room of a session's plain Rasa clients."""
    return session_id


def rich_room(session_id: str) -> str:
    """The room of a session's `heatdesk/2` clients."""
    return f"{PROTOCOL_RICH}:{session_id}"


def _plain_payload(payload: Dict[str, Any]) -> Any:
    """Exactly what Rasa's SocketIOOutput emits for this message."""
    if "custom" in payload:
        custom = payload["custom"]
        # Rasa spreads the custom dict into emit(): its `data` is what the client receives.
        return custom.get("data", custom) if isinstance(custom, dict) else custom
    return {key: value for key, value in payload.items() if key != "metadata"}


async def emit_bot(
    sio: AsyncServer,
    event: str,
    session_id: str,
    payload: Dict[str, Any],
    entry: Optional[TranscriptEntry],
    namespace: Optional[str] = None,
) -> None:
    """One bot message to both rooms: Rasa's shape to plain clients, id and time added for rich ones."""
    await sio.emit(event, _plain_payload(payload), room=plain_room(session_id), namespace=namespace)
    rich = dict(payload)
    if entry is not None:
        rich["message_id"] = entry.id
        rich["ts"] = entry.data.get("ts")
    await sio.emit(event, rich, room=rich_room(session_id), namespace=namespace)


def pubsub_channel(keys: KeySpace, redis_url: str) -> str:
    """Redis pub/sub ignores database numbers: keep test stacks (db 9) apart from the demo (db 0)."""
    database = (urlparse(redis_url).path or "/0").lstrip("/") or "0"
    return keys.widget_socketio(database)


def socketio_server(redis_url: str, channel: str) -> AsyncServer:
    """The socket.io server whose emits reach a room's sockets in any process (`AsyncRedisManager`)."""
    manager = AsyncRedisManager(redis_url, channel=channel)
    # cors_allowed_origins=[]: Sanic-CORS (`rasa run --cors`) answers CORS, as in Rasa's channel.
    return AsyncServer(
        async_mode="sanic",
        client_manager=manager,
        cors_allowed_origins=[],
        max_http_buffer_size=MAX_PACKET_BYTES,
    )
