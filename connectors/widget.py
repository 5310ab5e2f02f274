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
a server-side transcript with message ids and replay from `last_message_id`
(`widget_protocol.transcript`), rooms shared by every Rasa process through
python-socketio's `AsyncRedisManager` (`widget_protocol.events`), `handoff_state`
(bot, queue or agent), a real `bot_typing` indicator, and agent replies from the
console (`bot.delivery`) as `bot_uttered` with `{"agent": name}` metadata. Every
user message goes through the handoff router (`connectors.base`); invalid
payloads get a polite Chinese `widget_error` (`widget_protocol.payloads`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint
from socketio import AsyncServer
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.streams import TicketResolved

from bot import messages
from bot.csat import CsatQuestion
from bot.delivery import Deliverable
from bot.handoff.router import HandoffRouter
from bot.settings import redis_keys
from connectors.base import HandoffInput, Send
from connectors.widget_protocol import events, notices
from connectors.widget_protocol.events import HandoffState, emit_bot, plain_room, rich_room
from connectors.widget_protocol.payloads import (
    Credential,
    IncomingMessage,
    InvalidPayload,
    conversation_id,
    extract_message,
    extract_session_request,
    session_of,
)
from connectors.widget_protocol.transcript import TranscriptEntry, TranscriptStore

logger = logging.getLogger(__name__)

#: A resolve notice has no message id; the console may re-run its outbox write within minutes.
RESOLVED_DEDUPE_SECONDS = 600


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


class WidgetInput(HandoffInput, SocketIOInput):
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
        router: Optional[HandoffRouter] = None,
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

    def store(self) -> TranscriptStore:
        if self._store is None:
            self._store = TranscriptStore(self.redis(), key_prefix=self.keys.prefix)
        return self._store

    def pubsub_channel(self) -> str:
        return events.pubsub_channel(self.keys, self.redis_url)

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
        await self._reply(events.EVENT_ERROR, {"code": error.code, "message": error.text, "client_id": client_id}, sid)

    async def _set_typing(self, session_id: str, on: bool) -> None:
        """Counts messages in flight per session, so the first answer does not hide the second's dots."""
        count = self._typing.get(session_id, 0) + (1 if on else -1)
        if count > 0:
            self._typing[session_id] = count
        else:
            self._typing.pop(session_id, None)
        if (on and count == 1) or (not on and count <= 0):
            await self._emit_rich(events.EVENT_TYPING, {"typing": on}, session_id)

    # -- agent replies (bot.delivery) ------------------------------------------------------

    async def deliver(self, conversation: str, text: str, outbox: Deliverable) -> None:
        """Agent replies and resolve notices from the console, emitted wherever the socket is;
        the rating question after a resolve as quick-reply buttons."""
        session_id = session_of(conversation)
        if session_id is None:
            logger.error("widget.deliver.not_a_widget_conversation conversation=%s", conversation)
            return
        if isinstance(outbox, CsatQuestion):
            await self._ask_rating(session_id, outbox)
            return
        if isinstance(outbox, TicketResolved):
            payload: Dict[str, Any] = {"text": text}
            dedupe = ("resolved", session_id, outbox.ticket_no)
            entry, created = await self.store().append(
                session_id, "bot", {"payload": payload}, dedupe=dedupe, dedupe_ttl=RESOLVED_DEDUPE_SECONDS
            )
            if created:
                await self._emit_bot(session_id, entry)
            await self._emit_rich(events.EVENT_HANDOFF, HandoffState("bot").as_event(), session_id)
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
        await self._emit_rich(events.EVENT_HANDOFF, state.as_event(), session_id)

    async def _ask_rating(self, session_id: str, question: CsatQuestion) -> None:
        """Rasa's quick-reply shape (rasa-webchat shows it too); once per ticket."""
        replies = [{"content_type": "text", **button} for button in question.buttons]
        entry, created = await self.store().append(
            session_id, "bot", {"payload": {"text": question.button_text, "quick_replies": replies}},
            dedupe=("csat", session_id, question.ticket_no), dedupe_ttl=RESOLVED_DEDUPE_SECONDS,
        )
        if created:
            await self._emit_bot(session_id, entry)

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
        request = extract_session_request(data)
        resumed = await self._open_session(sid, request.credential, request.rich)
        if resumed is None:
            return
        session_id, _ = await self._socket_session(sid) or ("", False)
        if request.rich:
            if resumed and request.last_message_id is not None:
                await self._replay(sid, session_id, request.last_message_id)
            await self._reply(events.EVENT_HANDOFF, (await self.handoff_state(session_id)).as_event(), sid)
        if resumed:  # a new session is bound to nobody; a reminder waits for a resumed one
            try:
                for entry in await notices.take_pending(self.redis(), self.keys, self.store(), session_id):
                    await self._emit_bot(session_id, entry)
            except RedisError as error:
                logger.error("widget.notice.failed session=%s error=%s", session_id, type(error).__name__)

    async def _replay(self, sid: str, session_id: str, after_id: int) -> None:
        try:
            entries = await self.store().since(session_id, after_id)
        except RedisError as error:
            logger.error("widget.replay.failed session=%s error=%s", session_id, type(error).__name__)
            return
        await self._reply(
            events.EVENT_TRANSCRIPT,
            {"session_id": session_id, "after": after_id, "messages": [entry.as_event() for entry in entries]},
            sid,
        )

    async def on_transcript_request(self, sid: str, data: Any) -> None:
        current = await self._socket_session(sid)
        if current is None:
            await self._emit_error(sid, InvalidPayload("no_session", messages.WIDGET_NO_SESSION))
            return
        await self._replay(sid, current[0], extract_session_request(data).last_message_id or 0)

    async def on_handoff_state_request(self, sid: str, data: Any) -> None:
        current = await self._socket_session(sid)
        if current is not None:
            await self._reply(events.EVENT_HANDOFF, (await self.handoff_state(current[0])).as_event(), sid)

    async def on_user_message(self, sid: str, data: Any, send: Send) -> None:
        """Validate, record, route, answer; every failure ends in a message to the resident."""
        client_id = data.get("client_id") if isinstance(data, dict) else None
        try:
            incoming = extract_message(data, self.metadata_key or "metadata")
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
        await self._emit_rich(events.EVENT_USER_ECHO, echo, session_id)
        if not created:
            return  # a resend after a reconnect: already answered (or being answered)
        await self._answer(session_id, incoming, rasa_message_id, send)

    async def _answer(
        self, session_id: str, incoming: IncomingMessage, message_id: str, send: Send
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
            await send(message)
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
            await self._emit_rich(events.EVENT_HANDOFF, after.as_event(), session_id)

    @staticmethod
    async def _apologise(output: Optional[WidgetOutput], conversation: str) -> None:
        if output is None:
            return
        try:
            await output.send_text_message(conversation, messages.WIDGET_SERVICE_ERROR)
        except RedisError as error:
            logger.error("widget.apology.failed conversation=%s error=%s", conversation, type(error).__name__)

    def make_blueprint(self) -> Blueprint:
        """The socket.io server, attached at `socketio_path` (health: `HandoffInput.health`)."""
        self.sio = events.socketio_server(self.redis_url, self.pubsub_channel())
        return SocketBlueprint(self.sio, self.socketio_path, "heatdesk_widget_webhook", __name__)

    def routes(self, webhook: Blueprint, send: Send) -> None:
        """Rasa's socket.io events and ours; `user_uttered` goes to Rasa through `send`."""
        sio = self._server_sio()

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            await self.on_session_request(sid, data)

        @sio.on(events.EVENT_TRANSCRIPT_REQUEST, namespace=self.namespace)
        async def transcript_request(sid: Text, data: Any = None) -> None:
            await self.on_transcript_request(sid, data)

        @sio.on(events.EVENT_HANDOFF_REQUEST, namespace=self.namespace)
        async def handoff_state_request(sid: Text, data: Any = None) -> None:
            await self.on_handoff_state_request(sid, data)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            await self.on_user_message(sid, data, send)
