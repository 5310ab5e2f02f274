"""The website chat widget channel: socket.io at `/socket.io`, Rasa's SocketIOInput protocol.

The wire protocol is Rasa's own (`session_request` → `session_confirm`,
`user_uttered`, `bot_uttered`), so rasa-webchat works against it too. What we
add, for a resident who reloads the page or loses the network mid-conversation:

* every user and bot message of a session is kept in a server-side transcript
  in Redis with a monotonically increasing id; `session_request` may carry
  `last_message_id` and gets the missed messages back (`transcript` event);
  each `bot_uttered` carries its `message_id` so the client never shows one twice;
* python-socketio's `AsyncRedisManager`: sockets join a room named after the
  session id, so an emit from *any* Rasa process (the delivery worker that read
  an agent's reply, a second server) reaches the socket;
* every user message goes through the handoff router; agent replies from the
  console arrive through `bot.delivery` and go out as `bot_uttered` with
  `{"agent": name}` metadata; `handoff_state` tells the widget whether the bot,
  the queue or an agent owns the conversation; `bot_typing` is a real typing
  indicator (on while Rasa works on the message, off when it is done);
* invalid payloads get a polite Chinese `widget_error`, never an exception.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
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

from bot import keys
from bot.delivery import register_deliverer, start_worker
from bot.handoff.policy import OWNER_METADATA_KEY
from bot import messages

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

MAX_TEXT = 2000
MAX_CLIENT_ID = 64
MAX_DISPLAY = 200
MAX_METADATA_BYTES = 4096
#: Engine.IO refuses bigger packets outright; our own limit (MAX_TEXT) answers politely below it.
MAX_PACKET_BYTES = 64 * 1024
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
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
class SessionRequest:
    """`session_request` data: the stored session id (if any) and the last message the client has."""

    session_id: Optional[str]
    last_message_id: Optional[int]


@dataclass(frozen=True)
class IncomingMessage:
    """A validated `user_uttered` event."""

    session_id: Optional[str]
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


def _valid_session_id(value: Any) -> Optional[str]:
    if isinstance(value, str) and SESSION_ID_PATTERN.match(value):
        return value
    return None


def _extract_session_request(data: Any) -> SessionRequest:
    """Lenient: a missing or malformed session id means "start a new session" (as in Rasa)."""
    if not isinstance(data, dict):
        return SessionRequest(None, None)
    last = data.get("last_message_id")
    valid_last = last if isinstance(last, int) and not isinstance(last, bool) and last >= 0 else None
    return SessionRequest(_valid_session_id(data.get("session_id")), valid_last)


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
        session_id=_valid_session_id(data.get("session_id")),
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


class TranscriptStore:
    """Per-session transcript in Redis: a counter and a sorted set scored by message id."""

    def __init__(
        self,
        redis: Redis,
        key_prefix: str = keys.PREFIX,
        limit: int = TRANSCRIPT_LIMIT,
        ttl_seconds: int = TRANSCRIPT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.redis = redis
        self.key_prefix = key_prefix
        self.limit = limit
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def _key(self, *parts: str) -> str:
        return self.key_prefix + ":".join(("widget",) + parts)

    def seq_key(self, session_id: str) -> str:
        return self._key("seq", session_id)

    def transcript_key(self, session_id: str) -> str:
        return self._key("transcript", session_id)

    def dedupe_key(self, *parts: str) -> str:
        return self._key("seen", *parts)

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


class WidgetOutput(SocketIOOutput):
    """Sends bot messages to a session's room and records them in its transcript first."""

    @classmethod
    def name(cls) -> Text:
        return "widget"

    def __init__(self, sio: AsyncServer, bot_message_evt: Text, store: TranscriptStore) -> None:
        super().__init__(sio, bot_message_evt)
        self.store = store

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        """`socket_id` is the session id (the room): the transcript id makes replays exact."""
        payload = dict(response) if isinstance(response, dict) else {"text": str(response)}
        try:
            entry, _ = await self.store.append(socket_id, "bot", {"payload": payload})
        except RedisError as error:
            # Better an unnumbered live message than none at all.
            logger.error("widget.transcript.append_failed session=%s error=%s", socket_id, type(error).__name__)
            await self.sio.emit(self.bot_message_evt, payload, room=socket_id)
            return
        await self.sio.emit(self.bot_message_evt, _bot_event(entry), room=socket_id)

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """Rasa's version spreads the dict into `emit` arguments; we send it as one payload."""
        await self._send_message(recipient_id, {"custom": json_message})


def _bot_event(entry: TranscriptEntry) -> Dict[str, Any]:
    """A transcript bot entry as Rasa's `bot_uttered` payload, plus its id and time."""
    payload = dict(entry.data.get("payload") or {})
    payload["message_id"] = entry.id
    payload["ts"] = entry.data.get("ts")
    return payload


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
        key_prefix: str = keys.PREFIX,
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
        self.key_prefix = key_prefix
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
            self._store = TranscriptStore(self.redis(), key_prefix=self.key_prefix)
        return self._store

    def router(self) -> Any:
        if self._router is None:
            from bot.handoff.router import HandoffRouter

            self._router = HandoffRouter(self._redis) if self._redis is not None else HandoffRouter.from_settings()
        return self._router

    def pubsub_channel(self) -> str:
        """Redis pub/sub ignores database numbers: keep test stacks (db 9) apart from the demo (db 0)."""
        database = (urlparse(self.redis_url).path or "/0").lstrip("/") or "0"
        return f"{self.key_prefix}widget:socketio:{database}"

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
            owner = await self.router().owner(session_id)
            if owner.owner != "agent":
                return HandoffState("bot")
            if owner.agent:
                return HandoffState("agent", owner.ticket_no, None, owner.agent)
            rank = await self.redis().zrank(keys.queue(), owner.ticket_no) if owner.ticket_no else None
            return HandoffState("queued", owner.ticket_no, None if rank is None else int(rank) + 1)
        except RedisError as error:
            logger.error("widget.handoff_state.failed session=%s error=%s", session_id, type(error).__name__)
            return HandoffState("bot")

    async def _emit(self, event: str, data: Any, room: str) -> None:
        """To a session's room, through Redis: its sockets may live in any process."""
        if self.sio is None:
            raise RuntimeError("the widget channel has no socket.io server yet")
        await self.sio.emit(event, data, room=room, namespace=self.namespace)

    async def _reply(self, event: str, data: Any, sid: str) -> None:
        """To the socket whose event we are handling: it is in this process, so skip Redis
        (an error still reaches the resident while Redis is down)."""
        if self.sio is None:
            raise RuntimeError("the widget channel has no socket.io server yet")
        await self.sio.emit(event, data, to=sid, namespace=self.namespace, ignore_queue=True)

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
            await self._emit(EVENT_TYPING, {"typing": on}, session_id)

    # -- agent replies (bot.delivery) ------------------------------------------------------

    async def deliver(self, conversation_id: str, text: str, fields: Dict[str, str]) -> None:
        """Agent replies and resolve notices from the console, emitted wherever the socket is."""
        if fields.get("type") == "ticket.resolved":
            payload: Dict[str, Any] = {"text": text}
            dedupe = ("resolved", conversation_id, fields.get("ticket_no", ""))
            entry, created = await self.store().append(
                conversation_id, "bot", {"payload": payload}, dedupe=dedupe, dedupe_ttl=RESOLVED_DEDUPE_SECONDS
            )
            if created:
                await self._emit(self.bot_message_evt, _bot_event(entry), conversation_id)
            await self._emit(EVENT_HANDOFF, HandoffState("bot").as_event(), conversation_id)
            return
        agent = fields.get("agent_name", "")
        payload = {"text": text, "metadata": {"agent": agent, "ticket_no": fields.get("ticket_no", "")}}
        message_id = fields.get("message_id") or uuid.uuid4().hex
        entry, created = await self.store().append(
            conversation_id, "bot", {"payload": payload, "agent": agent}, dedupe=("agent", message_id)
        )
        if not created:
            logger.info("widget.deliver.duplicate message_id=%s", message_id)
            return
        await self._emit(self.bot_message_evt, _bot_event(entry), conversation_id)
        state = HandoffState("agent", fields.get("ticket_no", ""), None, agent)
        await self._emit(EVENT_HANDOFF, state.as_event(), conversation_id)

    # -- socket.io handlers ----------------------------------------------------------------------

    async def _session_id_for(self, sid: str, requested: Optional[str]) -> Optional[str]:
        """The message's own session id, else the one this socket confirmed."""
        if not self.session_persistence:
            return sid
        if requested:
            return requested
        if self.sio is None:
            return None
        session = await self.sio.get_session(sid, namespace=self.namespace)
        return session.get("session_id") if isinstance(session, dict) else None

    async def on_session_request(self, sid: str, data: Any) -> None:
        if self.sio is None:
            return
        request = _extract_session_request(data)
        session_id = request.session_id or uuid.uuid4().hex
        await self.sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
        if self.session_persistence:
            # Join before reading the transcript: anything appended later arrives live.
            await self.sio.enter_room(sid, session_id, namespace=self.namespace)
        await self._reply("session_confirm", session_id, sid)
        if request.last_message_id is not None:
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
        request = _extract_session_request(data)
        session_id = await self._session_id_for(sid, request.session_id)
        if session_id is None:
            await self._emit_error(sid, InvalidPayload("no_session", messages.WIDGET_NO_SESSION))
            return
        await self._replay(sid, session_id, request.last_message_id or 0)

    async def on_handoff_state_request(self, sid: str, data: Any) -> None:
        request = _extract_session_request(data)
        session_id = await self._session_id_for(sid, request.session_id)
        if session_id is not None:
            await self._reply(EVENT_HANDOFF, (await self.handoff_state(session_id)).as_event(), sid)

    async def on_user_message(self, sid: str, data: Any, on_new_message: OnNewMessage) -> None:
        """Validate, record, route, answer; every failure ends in a message to the resident."""
        client_id = data.get("client_id") if isinstance(data, dict) else None
        try:
            incoming = _extract_message(data, self.metadata_key or "metadata")
        except InvalidPayload as error:
            await self._emit_error(sid, error, client_id if isinstance(client_id, str) else None)
            return
        session_id = await self._session_id_for(sid, incoming.session_id)
        if session_id is None:
            await self._emit_error(sid, InvalidPayload("no_session", messages.WIDGET_NO_SESSION), incoming.client_id)
            return
        if self.session_persistence and self.sio is not None:
            # A socket that sends before its session_request was answered still gets the reply.
            await self.sio.enter_room(sid, session_id, namespace=self.namespace)
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
        await self._emit(EVENT_USER_ECHO, echo, session_id)
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
        message = UserMessage(
            incoming.text,
            output,
            session_id,
            input_channel=self.name(),
            metadata={**incoming.metadata, "channel": self.name()},
            message_id=message_id,
        )
        try:
            await self.router().route(message, on_new_message)
        except asyncio.CancelledError:
            logger.error("widget.message.cancelled session=%s", session_id)
            await self._apologise(output, session_id)
            raise
        except Exception:  # noqa: BLE001 - the resident gets an apology, never silence
            logger.exception("widget.message.failed session=%s", session_id)
            await self._apologise(output, session_id)
        finally:
            await self._set_typing(session_id, False)
        after = await self.handoff_state(session_id)
        if after != before or after.status != "bot":
            await self._emit(EVENT_HANDOFF, after.as_event(), session_id)

    @staticmethod
    async def _apologise(output: Optional[WidgetOutput], session_id: str) -> None:
        if output is None:
            return
        try:
            await output.send_text_message(session_id, messages.WIDGET_SERVICE_ERROR)
        except RedisError as error:
            logger.error("widget.apology.failed session=%s error=%s", session_id, type(error).__name__)

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
