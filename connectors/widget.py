"""The website chat widget channel: socket.io at `/socket.io`, Rasa's SocketIOInput protocol.

The wire protocol is Rasa's own (`session_request` → `session_confirm`,
`user_uttered`, `bot_uttered`), so rasa-webchat and Rasa's documented clients
work against it: by default every `bot_uttered` is exactly what Rasa's channel
sends (`text`, `quick_replies`, `attachment`, custom JSON). A client that asks
for `{"protocol": "heatdesk/2"}` in `session_request` (our widget) gets more.

Sessions are issued by the server, never chosen by the client: a new session
gets a random id and a resume token (only its SHA-256 is kept in Redis). A
`session_request` or `user_uttered` must present both to resume, replay or send;
a bare or unknown id starts a new session, so knowing someone's session id
(it is the conversation id `widget:<id>` seen in tickets and logs) is worth
nothing. Rich clients get `{"session_id", "resume_token"}` in `session_confirm`;
plain Rasa clients, which store one opaque string, get `"<id>.<token>"` and send
it back as their `session_id`.

What a rich client gets, for a resident who reloads the page or loses the network:

* every user and bot message of a session is kept in a server-side transcript
  in Redis with a monotonically increasing id; `session_request` may carry
  `last_message_id` and gets the missed messages back (`transcript` event);
  each `bot_uttered` carries its `message_id` so the client never shows one twice;
* python-socketio's `AsyncRedisManager`: sockets join a room named after the
  session id (one room per protocol), so an emit from *any* Rasa process (the
  delivery worker that read an agent's reply, a second server) reaches the socket;
* every user message goes through the handoff router; agent replies from the
  console arrive through `bot.delivery` and go out as `bot_uttered` with
  `{"agent": name}` metadata; `handoff_state` tells the widget whether the bot,
  the queue or an agent owns the conversation; `bot_typing` is a real typing
  indicator (on while Rasa works on the message, off when it is done);
* invalid payloads get a polite Chinese `widget_error`, never an exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple
from urllib.parse import urlparse

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot.delivery import register_deliverer, start_worker
from bot.handoff.policy import OWNER_METADATA_KEY
from bot import messages
from bot.settings import redis_keys
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.streams import OutboxEntry, TicketResolved

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

MAX_TEXT = 2000
MAX_CLIENT_ID = 64
MAX_DISPLAY = 200
MAX_METADATA_BYTES = 4096
#: Engine.IO refuses bigger packets outright; our own limit (MAX_TEXT) answers politely below it.
MAX_PACKET_BYTES = 64 * 1024
SESSION_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: What `session_request` asks for to get message ids, timestamps, handoff state and replay.
PROTOCOL_RICH = "heatdesk/2"
#: Conversation ids are owned by their channel: no other channel can name a widget conversation.
CONVERSATION_PREFIX = "widget:"
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,%d}$" % MAX_CLIENT_ID)
#: Metadata keys only the server may set (the router marks agent-owned messages with them).
RESERVED_METADATA_KEYS = frozenset({OWNER_METADATA_KEY, "ticket_no", "agent"})

TRANSCRIPT_LIMIT = 500
TRANSCRIPT_TTL_SECONDS = 30 * 24 * 3600
DELIVERED_TTL_SECONDS = 7 * 24 * 3600
#: A resolve notice has no message id; the console may re-run its outbox write within minutes.
RESOLVED_DEDUPE_SECONDS = 600

# Events beyond Rasa's protocol (rasa-webchat ignores them).
EVENT_TRANSCRIPT = "transcript"
EVENT_USER_ECHO = "user_echo"
EVENT_TYPING = "bot_typing"
EVENT_HANDOFF = "handoff_state"
EVENT_ERROR = "widget_error"
EVENT_HANDOFF_REQUEST = "handoff_state_request"
EVENT_TRANSCRIPT_REQUEST = "transcript_request"


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


@dataclass(frozen=True)
class TranscriptEntry:
    """One message of a session as kept in Redis and replayed to the widget."""

    id: int
    role: str  # "user" | "bot"
    data: Dict[str, Any]

    def as_event(self) -> Dict[str, Any]:
        return {"id": self.id, "role": self.role, **self.data}


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


def _extract_credential(data: Dict[str, Any]) -> Optional[Credential]:
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


def _extract_session_request(data: Any) -> SessionRequest:
    """Lenient: a missing or malformed credential means "start a new session" (as in Rasa)."""
    if not isinstance(data, dict):
        return SessionRequest(None, None)
    last = data.get("last_message_id")
    valid_last = last if isinstance(last, int) and not isinstance(last, bool) and last >= 0 else None
    return SessionRequest(_extract_credential(data), valid_last, data.get("protocol") == PROTOCOL_RICH)


def _extract_metadata(raw: Any) -> Dict[str, Any]:
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


def _extract_message(data: Any, metadata_key: str = "metadata") -> IncomingMessage:
    """Validates a `user_uttered` event; raises `InvalidPayload` with the Chinese answer."""
    if not isinstance(data, dict):
        raise InvalidPayload("invalid_payload", messages.WIDGET_INVALID_MESSAGE)
    text = data.get("message")
    if not isinstance(text, str):
        raise InvalidPayload("invalid_message", messages.WIDGET_INVALID_MESSAGE)
    text = text.strip()
    if not text:
        raise InvalidPayload("empty_message", messages.WIDGET_EMPTY_MESSAGE)
    if len(text) > MAX_TEXT:
        raise InvalidPayload("message_too_long", messages.WIDGET_MESSAGE_TOO_LONG.format(limit=MAX_TEXT))
    client_id = data.get("client_id")
    if not (isinstance(client_id, str) and CLIENT_ID_PATTERN.match(client_id)):
        client_id = None
    display = data.get("display")
    display = display.strip() if isinstance(display, str) else ""
    return IncomingMessage(
        credential=_extract_credential(data),
        text=text,
        client_id=client_id,
        metadata=_extract_metadata(data.get(metadata_key)),
        display=display if 0 < len(display) <= MAX_DISPLAY else None,
    )


# Appends one entry atomically: the id is taken and the entry becomes visible in one
# step, so a replay never sees id n+1 without id n. With a dedupe key, a repeated
# append returns the first id instead of adding a second entry.
_APPEND = """
if KEYS[3] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {tonumber(seen), 0} end
end
local id = redis.call('INCR', KEYS[1])
local member = '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2)
redis.call('ZADD', KEYS[2], id, member)
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(limit + 1))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], id, 'EX', ARGV[4]) end
return {id, 1}
"""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class TranscriptStore:
    """Per-session transcript in Redis: a counter and a sorted set scored by message id."""

    def __init__(
        self,
        redis: Redis,
        key_prefix: Optional[str] = None,
        limit: int = TRANSCRIPT_LIMIT,
        ttl_seconds: int = TRANSCRIPT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.redis = redis
        self.keys = KeySpace(key_prefix) if key_prefix is not None else redis_keys()
        self.limit = limit
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def seq_key(self, session_id: str) -> str:
        return self.keys.widget_seq(session_id)

    def transcript_key(self, session_id: str) -> str:
        return self.keys.widget_transcript(session_id)

    def dedupe_key(self, *parts: str) -> str:
        return self.keys.widget_seen(*parts)

    def session_key(self, session_id: str) -> str:
        return self.keys.widget_session(session_id)

    async def new_session(self) -> Credential:
        """A fresh session; Redis keeps only the token's digest, as long as the transcript."""
        credential = Credential(uuid.uuid4().hex, secrets.token_urlsafe(32))
        await self.redis.set(self.session_key(credential.session_id), _digest(credential.token), ex=self.ttl_seconds)
        return credential

    async def resume(self, credential: Credential) -> bool:
        """True when the token is the one issued with this session id (constant-time check)."""
        key = self.session_key(credential.session_id)
        stored = await self.redis.get(key)
        if isinstance(stored, bytes):
            stored = stored.decode("ascii", "replace")
        if not stored or not hmac.compare_digest(stored, _digest(credential.token)):
            return False
        await self.redis.expire(key, self.ttl_seconds)
        return True

    async def append(
        self,
        session_id: str,
        role: str,
        data: Dict[str, Any],
        *,
        dedupe: Optional[Tuple[str, ...]] = None,
        dedupe_ttl: int = DELIVERED_TTL_SECONDS,
    ) -> Tuple[TranscriptEntry, bool]:
        """Adds a message; returns it and whether it is new (False: `dedupe` was seen before)."""
        body = {"role": role, "ts": round(self.clock(), 3), **data}
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        result = await self.redis.eval(
            _APPEND,
            3,
            self.seq_key(session_id),
            self.transcript_key(session_id),
            self.dedupe_key(*dedupe) if dedupe else "",
            raw,
            self.limit,
            self.ttl_seconds,
            dedupe_ttl,
        )
        message_id, created = int(result[0]), bool(int(result[1]))
        return TranscriptEntry(message_id, role, {k: v for k, v in body.items() if k != "role"}), created

    async def since(self, session_id: str, after_id: int = 0) -> List[TranscriptEntry]:
        """Every kept message with an id above `after_id`, oldest first."""
        members = await self.redis.zrangebyscore(self.transcript_key(session_id), f"({int(after_id)}", "+inf")
        entries: List[TranscriptEntry] = []
        for member in members:
            try:
                item = json.loads(member)
                entries.append(TranscriptEntry(int(item.pop("id")), str(item.pop("role")), item))
            except (ValueError, KeyError, TypeError):
                logger.warning("widget.transcript.bad_entry session=%s", session_id)
        return entries

    async def last_id(self, session_id: str) -> int:
        value = await self.redis.get(self.seq_key(session_id))
        return int(value or 0)


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


class WidgetOutput(SocketIOOutput):
    """Sends bot messages to a session's rooms and records them in its transcript first."""

    @classmethod
    def name(cls) -> Text:
        return "widget"

    def __init__(self, sio: AsyncServer, bot_message_evt: Text, store: TranscriptStore) -> None:
        super().__init__(sio, bot_message_evt)
        self.store = store

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        """`socket_id` is Rasa's recipient, the conversation id `widget:<session id>`."""
        session_id = session_of(socket_id)
        if session_id is None:
            logger.error("widget.output.not_a_widget_conversation recipient=%s", socket_id)
            return
        payload = dict(response) if isinstance(response, dict) else {"text": str(response)}
        entry: Optional[TranscriptEntry] = None
        try:
            entry, _ = await self.store.append(session_id, "bot", {"payload": payload})
        except RedisError as error:
            # Better an unnumbered live message than none at all.
            logger.error("widget.transcript.append_failed session=%s error=%s", session_id, type(error).__name__)
        await emit_bot(self.sio, self.bot_message_evt, session_id, payload, entry)

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """Rasa's version spreads the dict into `emit` arguments; we record it and send its `data`."""
        await self._send_message(recipient_id, {"custom": json_message})


class WidgetInput(SocketIOInput):
    """Rasa's socket.io channel with a transcript, the handoff router and Redis-backed rooms."""

    @classmethod
    def name(cls) -> Text:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WidgetInput":
        """Maps credentials.yml keys; Redis comes from REDIS_URL via `bot.settings`."""
        from bot.settings import get_settings

        creds = credentials or {}
        return cls(
            user_message_evt=str(creds.get("user_message_evt") or "user_uttered"),
            bot_message_evt=str(creds.get("bot_message_evt") or "bot_uttered"),
            namespace=creds.get("namespace"),
            session_persistence=bool(creds.get("session_persistence", True)),
            socketio_path=str(creds.get("socketio_path") or "/socket.io"),
            metadata_key=str(creds.get("metadata_key") or "metadata"),
            redis_url=str(creds.get("redis_url") or get_settings().redis_url),
        )

    def __init__(
        self,
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        namespace: Optional[Text] = None,
        session_persistence: bool = True,
        socketio_path: Optional[Text] = "/socket.io",
        metadata_key: Optional[Text] = "metadata",
        redis_url: str = "redis://localhost:6379/0",
        *,
        key_prefix: Optional[str] = None,
        redis: Optional[Redis] = None,
        router: Optional[Any] = None,
        register_delivery: bool = True,
    ) -> None:
        """Configuration only; Redis, the socket.io server and the router are created later."""
        super().__init__(
            user_message_evt,
            bot_message_evt,
            namespace,
            session_persistence,
            socketio_path,
            None,
            "HS256",
            metadata_key,
        )
        self.redis_url = redis_url
        self.keys = KeySpace(key_prefix) if key_prefix is not None else redis_keys()
        self.register_delivery = register_delivery
        self._redis = redis
        self._router = router
        self._store: Optional[TranscriptStore] = None
        self._typing: Dict[str, int] = {}

    def __repr__(self) -> str:
        return f"WidgetInput(path={self.socketio_path!r}, persistence={self.session_persistence})"

    # -- collaborators -----------------------------------------------------------------

    def redis(self) -> Redis:
        if self._redis is None:
            from bot.redis_client import get_redis

            self._redis = get_redis()
        return self._redis

    def store(self) -> TranscriptStore:
        if self._store is None:
            self._store = TranscriptStore(self.redis(), key_prefix=self.keys.prefix)
        return self._store

    def router(self) -> Any:
        if self._router is None:
            from bot.handoff.router import HandoffRouter

            self._router = HandoffRouter(self._redis) if self._redis is not None else HandoffRouter.from_settings()
        return self._router

    def pubsub_channel(self) -> str:
        """Redis pub/sub ignores database numbers: keep test stacks (db 9) apart from the demo (db 0)."""
        database = (urlparse(self.redis_url).path or "/0").lstrip("/") or "0"
        return self.keys.widget_socketio(database)

    def _server(self) -> AsyncServer:
        manager = AsyncRedisManager(self.redis_url, channel=self.pubsub_channel())
        # cors_allowed_origins=[]: Sanic-CORS (`rasa run --cors`) answers CORS, as in Rasa's channel.
        return AsyncServer(
            async_mode="sanic",
            client_manager=manager,
            cors_allowed_origins=[],
            max_http_buffer_size=MAX_PACKET_BYTES,
        )

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For messages Rasa sends on its own (trigger-intent API, reminders)."""
        if self.sio is None:
            return None
        return WidgetOutput(self.sio, self.bot_message_evt, self.store())

    # -- state shown in the widget --------------------------------------------------------

    async def handoff_state(self, session_id: str) -> HandoffState:
        """Owner hash + queue rank; a Redis outage shows the bot (the router does the same)."""
        try:
            owner = await self.router().owner(conversation_id(session_id))
            if not owner.is_agent:
                return HandoffState("bot")
            if owner.agent:
                return HandoffState("agent", owner.ticket_no, None, owner.agent)
            rank = await self.redis().zrank(self.keys.queue(), owner.ticket_no) if owner.ticket_no else None
            return HandoffState("queued", owner.ticket_no, None if rank is None else int(rank) + 1)
        except RedisError as error:
            logger.error("widget.handoff_state.failed session=%s error=%s", session_id, type(error).__name__)
            return HandoffState("bot")

    def _server_sio(self) -> AsyncServer:
        if self.sio is None:
            raise RuntimeError("the widget channel has no socket.io server yet")
        return self.sio

    async def _emit_rich(self, event: str, data: Any, session_id: str) -> None:
        """A HeatDesk event to the session's rich clients, through Redis (their sockets may be anywhere)."""
        await self._server_sio().emit(event, data, room=rich_room(session_id), namespace=self.namespace)

    async def _emit_bot(self, session_id: str, entry: TranscriptEntry) -> None:
        payload = dict(entry.data.get("payload") or {})
        await emit_bot(self._server_sio(), self.bot_message_evt, session_id, payload, entry, self.namespace)

    async def _reply(self, event: str, data: Any, sid: str) -> None:
        """To the socket whose event we are handling: it is in this process, so skip Redis
        (an error still reaches the resident while Redis is down)."""
        await self._server_sio().emit(event, data, to=sid, namespace=self.namespace, ignore_queue=True)

    async def _emit_error(self, sid: str, error: InvalidPayload, client_id: Optional[str] = None) -> None:
        await self._reply(EVENT_ERROR, {"code": error.code, "message": error.text, "client_id": client_id}, sid)

    async def _set_typing(self, session_id: str, on: bool) -> None:
        """Counts messages in flight per session, so the first answer does not hide the second's dots."""
        count = self._typing.get(session_id, 0) + (1 if on else -1)
        if count > 0:
            self._typing[session_id] = count
        else:
            self._typing.pop(session_id, None)
        if (on and count == 1) or (not on and count <= 0):
            await self._emit_rich(EVENT_TYPING, {"typing": on}, session_id)

    # -- agent replies (bot.delivery) ------------------------------------------------------

    async def deliver(self, conversation: str, text: str, outbox: OutboxEntry) -> None:
        """Agent replies and resolve notices from the console, emitted wherever the socket is."""
        session_id = session_of(conversation)
        if session_id is None:
            logger.error("widget.deliver.not_a_widget_conversation conversation=%s", conversation)
            return
        if isinstance(outbox, TicketResolved):
            payload: Dict[str, Any] = {"text": text}
            dedupe = ("resolved", session_id, outbox.ticket_no)
            entry, created = await self.store().append(
                session_id, "bot", {"payload": payload}, dedupe=dedupe, dedupe_ttl=RESOLVED_DEDUPE_SECONDS
            )
            if created:
                await self._emit_bot(session_id, entry)
            await self._emit_rich(EVENT_HANDOFF, HandoffState("bot").as_event(), session_id)
            return
        agent = getattr(outbox, "agent_name", "")
        payload = {"text": text, "metadata": {"agent": agent, "ticket_no": outbox.ticket_no}}
        message_id = getattr(outbox, "message_id", "") or uuid.uuid4().hex
        entry, created = await self.store().append(
            session_id, "bot", {"payload": payload, "agent": agent}, dedupe=("agent", message_id)
        )
        if not created:
            logger.info("widget.deliver.duplicate message_id=%s", message_id)
            return
        await self._emit_bot(session_id, entry)
        state = HandoffState("agent", outbox.ticket_no, None, agent)
        await self._emit_rich(EVENT_HANDOFF, state.as_event(), session_id)

    # -- socket.io handlers ----------------------------------------------------------------------

    async def _socket_session(self, sid: str) -> Optional[Tuple[str, bool]]:
        """(session id, rich) this socket was confirmed, if any: the only session it may act on."""
        state = await self._server_sio().get_session(sid, namespace=self.namespace)
        if isinstance(state, dict) and isinstance(state.get("session_id"), str):
            return state["session_id"], bool(state.get("rich"))
        return None

    async def _open_session(self, sid: str, credential: Optional[Credential], rich: bool) -> Optional[bool]:
        """Resumes the presented session if its token is right, else issues a new one; confirms it.

        Returns whether an existing session was resumed (None: Redis failed, the client was told).
        """
        sio = self._server_sio()
        try:
            resumed = credential is not None and await self.store().resume(credential)
            granted = credential if resumed and credential is not None else await self.store().new_session()
        except RedisError as error:
            logger.error("widget.session.failed error=%s", type(error).__name__)
            await self._emit_error(sid, InvalidPayload("unavailable", messages.WIDGET_TEMPORARILY_UNAVAILABLE))
            return None
        previous = await self._socket_session(sid)
        if previous is not None:
            await sio.leave_room(sid, (rich_room if previous[1] else plain_room)(previous[0]), namespace=self.namespace)
        await sio.save_session(sid, {"session_id": granted.session_id, "rich": rich}, namespace=self.namespace)
        # Join before reading the transcript: anything appended later arrives live.
        await sio.enter_room(sid, (rich_room if rich else plain_room)(granted.session_id), namespace=self.namespace)
        confirm: Any = {"session_id": granted.session_id, "resume_token": granted.token} if rich else granted.plain()
        await self._reply("session_confirm", confirm, sid)
        return resumed

    async def on_session_request(self, sid: str, data: Any) -> None:
        request = _extract_session_request(data)
        resumed = await self._open_session(sid, request.credential, request.rich)
        if resumed is None or not request.rich:
            return
        session_id, _ = await self._socket_session(sid) or ("", False)
        if resumed and request.last_message_id is not None:
            await self._replay(sid, session_id, request.last_message_id)
        await self._reply(EVENT_HANDOFF, (await self.handoff_state(session_id)).as_event(), sid)

    async def _replay(self, sid: str, session_id: str, after_id: int) -> None:
        try:
            entries = await self.store().since(session_id, after_id)
        except RedisError as error:
            logger.error("widget.replay.failed session=%s error=%s", session_id, type(error).__name__)
            return
        await self._reply(
            EVENT_TRANSCRIPT,
            {"session_id": session_id, "after": after_id, "messages": [entry.as_event() for entry in entries]},
            sid,
        )

    async def on_transcript_request(self, sid: str, data: Any) -> None:
        current = await self._socket_session(sid)
        if current is None:
            await self._emit_error(sid, InvalidPayload("no_session", messages.WIDGET_NO_SESSION))
            return
        await self._replay(sid, current[0], _extract_session_request(data).last_message_id or 0)

    async def on_handoff_state_request(self, sid: str, data: Any) -> None:
        current = await self._socket_session(sid)
        if current is not None:
            await self._reply(EVENT_HANDOFF, (await self.handoff_state(current[0])).as_event(), sid)

    async def on_user_message(self, sid: str, data: Any, on_new_message: OnNewMessage) -> None:
        """Validate, record, route, answer; every failure ends in a message to the resident."""
        client_id = data.get("client_id") if isinstance(data, dict) else None
        try:
            incoming = _extract_message(data, self.metadata_key or "metadata")
        except InvalidPayload as error:
            await self._emit_error(sid, error, client_id if isinstance(client_id, str) else None)
            return
        # The socket's confirmed session, never the id in the message: an id is not a key.
        current = await self._socket_session(sid)
        if current is None:
            # Sent before any session_request (or to a server that lost the socket): the
            # message's credential may resume its session, anything else starts a new one.
            if await self._open_session(sid, incoming.credential, rich=False) is None:
                return
            current = await self._socket_session(sid)
        session_id = current[0] if current else ""
        rasa_message_id = uuid.uuid4().hex
        try:
            entry, created = await self.store().append(
                session_id,
                "user",
                {"text": incoming.shown, "client_id": incoming.client_id, "message_id": rasa_message_id},
                dedupe=("client", session_id, incoming.client_id) if incoming.client_id else None,
            )
        except RedisError as error:
            logger.error("widget.transcript.append_failed session=%s error=%s", session_id, type(error).__name__)
            await self._emit_error(
                sid, InvalidPayload("unavailable", messages.WIDGET_TEMPORARILY_UNAVAILABLE), incoming.client_id
            )
            return
        echo = {"id": entry.id, "text": incoming.shown, "client_id": incoming.client_id, "ts": entry.data.get("ts")}
        await self._emit_rich(EVENT_USER_ECHO, echo, session_id)
        if not created:
            return  # a resend after a reconnect: already answered (or being answered)
        await self._answer(session_id, incoming, rasa_message_id, on_new_message)

    async def _answer(
        self, session_id: str, incoming: IncomingMessage, message_id: str, on_new_message: OnNewMessage
    ) -> None:
        before = await self.handoff_state(session_id)
        # The bot answers queued residents too (actions/queue.py), so the dots show every time.
        await self._set_typing(session_id, True)
        output = WidgetOutput(self.sio, self.bot_message_evt, self.store()) if self.sio else None
        conversation = conversation_id(session_id)
        message = UserMessage(
            incoming.text,
            output,
            conversation,
            input_channel=self.name(),
            metadata={**incoming.metadata, "channel": self.name()},
            message_id=message_id,
        )
        try:
            await self.router().route(message, on_new_message)
        except asyncio.CancelledError:
            logger.error("widget.message.cancelled session=%s", session_id)
            await self._apologise(output, conversation)
            raise
        except Exception:  # noqa: BLE001 - the resident gets an apology, never silence
            logger.exception("widget.message.failed session=%s", session_id)
            await self._apologise(output, conversation)
        finally:
            await self._set_typing(session_id, False)
        after = await self.handoff_state(session_id)
        if after != before or after.status != "bot":
            await self._emit_rich(EVENT_HANDOFF, after.as_event(), session_id)

    @staticmethod
    async def _apologise(output: Optional[WidgetOutput], conversation: str) -> None:
        if output is None:
            return
        try:
            await output.send_text_message(conversation, messages.WIDGET_SERVICE_ERROR)
        except RedisError as error:
            logger.error("widget.apology.failed conversation=%s error=%s", conversation, type(error).__name__)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The socket.io server (attached at `socketio_path`) and `GET /webhooks/widget/`."""
        sio = self._server()
        self.sio = sio
        webhook = SocketBlueprint(sio, self.socketio_path, "heatdesk_widget_webhook", __name__)
        if self.register_delivery:
            register_deliverer(self.name(), self.deliver)

        @webhook.listener("after_server_start")
        async def start_delivery(app: Any, _loop: Any) -> None:
            agent = getattr(app.ctx, "agent", None)
            if agent is not None and self.register_delivery:
                start_worker(agent)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            """200 only when Redis (transcripts, rooms across processes) answers."""
            try:
                redis_ready = bool(await self.redis().ping())
            except RedisError:
                redis_ready = False
            return response.json(
                {"status": "ok" if redis_ready else "unavailable", "redis": redis_ready},
                status=200 if redis_ready else 503,
            )

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            await self.on_session_request(sid, data)

        @sio.on(EVENT_TRANSCRIPT_REQUEST, namespace=self.namespace)
        async def transcript_request(sid: Text, data: Any = None) -> None:
            await self.on_transcript_request(sid, data)

        @sio.on(EVENT_HANDOFF_REQUEST, namespace=self.namespace)
        async def handoff_state_request(sid: Text, data: Any = None) -> None:
            await self.on_handoff_state_request(sid, data)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            await self.on_user_message(sid, data, on_new_message)

        return webhook
