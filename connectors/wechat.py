"""The WeChat Official Account (公众号) channel: `/webhooks/wechat/webhook`.

WeChat calls us with signed XML (plain, or AES-encrypted in safe mode) and
gives us 5 seconds to answer. The bot runs at once; if it is done within
`reply_deadline` (about 4 s) its messages go back *passively* in the HTTP
answer, otherwise we answer `success` and the messages follow through the
customer-service API as the bot produces them. WeChat retries unanswered
callbacks, so every callback is claimed in Redis first: a retry never runs the
bot again and never causes a second answer.

The protocol itself (signatures, AES, XML, the API client, dedupe) lives in
`connectors.wechat_protocol`; this module only ties it to Rasa and Sanic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Set, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import messages
from bot.conversation import ForeignConversation, conversation_id, native_id
from bot.settings import redis_keys
from connectors.body import RequestTooLarge, read_limited
from connectors.wechat_protocol.api import (
    DEFAULT_API_BASE,
    AmbiguousSendError,
    OutsideServiceWindowError,
    QuotaExceededError,
    WeChatAPI,
    WeChatAPIError,
)
from connectors.wechat_protocol.crypto import RandomBytes, WeChatCrypto
from connectors.wechat_protocol.dedupe import (
    DONE,
    PASSIVE,
    PROCESSING,
    PUSHED,
    MessageDeduplicator,
    Outcome,
    dedupe_key,
)
from connectors.wechat_protocol.exceptions import (
    CryptoError,
    InvalidSignatureError,
    MessageParseError,
)
from connectors.wechat_protocol.messages import (
    ClickEvent,
    ImageMessage,
    SubscribeEvent,
    TextMessage,
    UnknownMessage,
    UnsubscribeEvent,
    VoiceMessage,
    WeChatMessage,
    message_from_fields,
    parse_xml_fields,
)
from connectors.wechat_protocol.replies import (
    MAX_TEXT_BYTES,
    SUCCESS,
    render_encrypted_envelope,
    render_text_reply,
    split_text,
)
from connectors.wechat_protocol.signature import Clock, check_signature
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.masking import mask_id
from heatdesk_contract.streams import OutboxEntry

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
#: Keeps the payloads of numbered choices shown to a user: (openid, payloads).
RememberChoices = Callable[[str, List[str]], Awaitable[None]]

#: Custom-menu CLICK keys → Rasa's `/intent` syntax (bypasses NLU, like a button payload).
CLICK_INTENTS: Dict[str, str] = {
    "QUERY_BALANCE": "/ask_balance",
    "LATE_FEE_HELP": "/ask_late_fee",
    "HUMAN": "/request_human",
}

#: What a resident types to revoke the OpenID → account binding (handled by the channel itself).
UNBIND_COMMANDS = frozenset({"解绑", "解除绑定", "取消绑定"})

DEFAULT_REPLY_DEADLINE = 4.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_TIMESTAMP_TOLERANCE = 300
#: Pause between a passive reply and the customer-service messages that continue it,
#: so WeChat shows them in order.
DEFAULT_OVERFLOW_DELAY = 0.5
#: How long a resident can answer numbered choices with their digit.
CHOICES_TTL_SECONDS = 30 * 60
_XML_CONTENT_TYPE = "application/xml; charset=utf-8"


def openid_of(recipient_id: str) -> str:
    """Rasa addresses the conversation (`wechat:<openid>`); WeChat's API wants the OpenID."""
    try:
        return native_id(WeChatOutput.name(), recipient_id)
    except ForeignConversation:
        return recipient_id  # already bare (the channel's own passive-window hand-over)


@dataclass(frozen=True)
class CallbackQuery:
    """The query string WeChat signs every callback with."""

    signature: Optional[str]
    timestamp: Optional[str]
    nonce: Optional[str]
    msg_signature: Optional[str]
    encrypt_type: str
    echostr: Optional[str]

    @property
    def encrypted(self) -> bool:
        return self.encrypt_type == "aes"


class WeChatOutput(OutputChannel):
    """Sends the bot's messages to one WeChat user.

    In *collecting* mode (while a passive reply is still possible) messages are
    kept for the HTTP answer; `start_pushing()` switches to the customer-service
    API for what was collected and everything after, strictly in order. Built
    without `collect`, it pushes directly (e.g. for Rasa's trigger-intent API).
    """

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    def __init__(
        self,
        api: Optional[WeChatAPI],
        *,
        collect: bool = False,
        max_text_bytes: int = MAX_TEXT_BYTES,
        remember_choices: Optional[RememberChoices] = None,
    ) -> None:
        self._api = api
        self._remember_choices = remember_choices
        self._collecting = collect
        self._collected: List[str] = []
        self._max_text_bytes = max_text_bytes
        self._outbox: "Optional[asyncio.Queue[Optional[tuple[str, str]]]]" = None
        self._worker: "Optional[asyncio.Task[None]]" = None

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        if not text or not text.strip():
            return
        if self._collecting:
            self._collected.append(text.strip())
        elif self._outbox is not None:
            self._outbox.put_nowait((recipient_id, text))
        else:
            await self.push(recipient_id, text)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """WeChat text has no buttons: numbered titles under the text, one message.

        The payloads stay on the server (`remember_choices`), so a reply "1" is mapped back
        to what the bot offered, never to anything the client could choose.
        """
        lines = [text] + [
            f"{index}. {button.get('title', '')}" for index, button in enumerate(buttons, start=1)
        ]
        if self._remember_choices is not None:
            payloads = [str(button.get("payload") or button.get("title") or "") for button in buttons]
            await self._remember_choices(recipient_id, payloads)
            lines.append(messages.WECHAT_CHOICE_HINT)
        await self.send_text_message(recipient_id, "\n".join(lines))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        """Images would need a media upload; a link in the text works everywhere."""
        await self.send_text_message(recipient_id, image)

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """Custom payloads are for other channels; never show raw JSON to a resident."""
        logger.debug("wechat.output.custom_json_skipped recipient=%s", recipient_id)

    def collected(self) -> List[str]:
        """The messages kept for the passive reply so far."""
        return list(self._collected)

    def start_pushing(self, recipient_id: str) -> None:
        """The passive window is over: deliver collected and later messages via the API."""
        self._collecting = False
        self._outbox = asyncio.Queue()
        for text in self._collected:
            self._outbox.put_nowait((recipient_id, text))
        self._collected = []
        self._worker = asyncio.get_running_loop().create_task(self._drain())

    async def close(self) -> None:
        """Wait until every pushed message was handed to WeChat (after the bot finished)."""
        if self._outbox is not None and self._worker is not None:
            self._outbox.put_nowait(None)
            await self._worker

    async def _drain(self) -> None:
        if self._outbox is None:
            return
        while True:
            item = await self._outbox.get()
            if item is None:
                return
            recipient_id, text = item
            try:
                await self.push(recipient_id, text)
            except WeChatAPIError as error:
                # Logged with the code only; the next message may still go through.
                logger.error(
                    "wechat.push.failed recipient=%s errcode=%s kind=%s",
                    mask_id(openid_of(recipient_id)),
                    error.errcode,
                    type(error).__name__,
                )

    async def push(self, recipient_id: str, text: str) -> None:
        """Send `text` now as one or more customer-service messages (to the bare OpenID)."""
        if self._api is None:
            raise WeChatAPIError(-1, "no AppID/AppSecret configured")
        openid = openid_of(recipient_id)
        for piece in split_text(text, self._max_text_bytes):
            await self._api.send_text(openid, piece)


class WeChatInput(InputChannel):
    """WeChat Official Account server: URL verification and message callbacks."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatInput":
        """credentials.yml keys, each falling back to the environment via `bot.settings`."""
        from bot.settings import get_settings

        settings = get_settings()
        creds = credentials or {}

        def pick(key: str, default: str) -> str:
            value = creds.get(key)
            return str(value) if value not in (None, "") else default

        deadline = creds.get("reply_deadline")
        return cls(
            token=pick("token", settings.wechat_token),
            appid=pick("appid", settings.wechat_appid),
            appsecret=pick("appsecret", settings.wechat_appsecret),
            aes_key=pick("aes_key", settings.wechat_aes_key),
            allow_plain=settings.wechat_allow_plain,
            previous_aes_key=pick("previous_aes_key", settings.wechat_previous_aes_key),
            api_base=pick("api_base", settings.wechat_api_base),
            redis_url=pick("redis_url", settings.redis_url),
            reply_deadline=(
                float(deadline) if deadline not in (None, "") else settings.wechat_reply_deadline
            ),
        )

    def __init__(
        self,
        token: str,
        appid: str = "",
        appsecret: str = "",
        aes_key: str = "",
        previous_aes_key: str = "",
        allow_plain: bool = False,
        api_base: str = DEFAULT_API_BASE,
        redis_url: str = "redis://localhost:6379/0",
        *,
        key_prefix: Optional[str] = None,
        reply_deadline: float = DEFAULT_REPLY_DEADLINE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timestamp_tolerance: Optional[int] = DEFAULT_TIMESTAMP_TOLERANCE,
        overflow_delay: float = DEFAULT_OVERFLOW_DELAY,
        click_intents: Optional[Mapping[str, str]] = None,
        clock: Clock = time.time,
        random_bytes: RandomBytes = os.urandom,
        redis: Optional[Redis] = None,
        router: Optional[Any] = None,
        api: Optional[WeChatAPI] = None,
        register_delivery: bool = True,
    ) -> None:
        """Validates configuration only; Redis, HTTP and the router are created on first use."""
        if reply_deadline <= 0:
            raise ValueError("reply_deadline must be positive")
        self.token = token
        self.appid = appid
        self.appsecret = appsecret
        self.api_base = api_base or DEFAULT_API_BASE
        self.redis_url = redis_url
        self.keys = KeySpace(key_prefix) if key_prefix is not None else redis_keys()
        self.reply_deadline = reply_deadline
        self.max_body_bytes = max_body_bytes
        self.timestamp_tolerance = timestamp_tolerance
        self.overflow_delay = overflow_delay
        self.click_intents: Dict[str, str] = dict(click_intents or CLICK_INTENTS)
        self.clock = clock
        self.random_bytes = random_bytes
        self.register_delivery = register_delivery
        # With a key configured, plain callbacks are refused: a signed query string seen
        # once could otherwise carry any body and any FromUserName (migration: WECHAT_ALLOW_PLAIN).
        self.allow_plain = allow_plain or not aes_key
        # Safe mode needs both the key and the AppID; a bad key fails here, at start-up.
        self.crypto: Optional[WeChatCrypto] = (
            WeChatCrypto(
                token,
                aes_key,
                appid,
                previous_encoding_aes_key=previous_aes_key or None,
                random_bytes=random_bytes,
            )
            if aes_key
            else None
        )
        self._redis = redis
        self._router = router
        self._api = api
        self._dedupe: Optional[MessageDeduplicator] = None
        self._background: Set["asyncio.Task[Any]"] = set()
        if not token:
            logger.warning("WeChat channel has no token: every callback will be refused (403)")

    def __repr__(self) -> str:  # never show the token or secrets
        return f"WeChatInput(appid={self.appid!r}, safe_mode={self.crypto is not None})"

    # -- lazily created collaborators ------------------------------------------------

    def redis(self) -> Redis:
        if self._redis is None:
            self._redis = Redis.from_url(
                self.redis_url,
                decode_responses=True,
                socket_timeout=2.0,
                socket_connect_timeout=2.0,
            )
        return self._redis

    def dedupe(self) -> MessageDeduplicator:
        if self._dedupe is None:
            self._dedupe = MessageDeduplicator(self.redis(), key_prefix=self.keys.prefix)
        return self._dedupe

    def api(self) -> Optional[WeChatAPI]:
        """The customer-service API client, or None when AppID/AppSecret are not set."""
        if self._api is None and self.appid and self.appsecret:
            self._api = WeChatAPI(
                self.appid,
                self.appsecret,
                self.redis(),
                base_url=self.api_base,
                key_prefix=self.keys.prefix,
            )
        return self._api

    def router(self) -> Any:
        """The handoff router shared by all connectors (one per channel)."""
        if self._router is None:
            from bot.handoff.router import HandoffRouter

            self._router = HandoffRouter.from_settings()
        return self._router

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For messages Rasa sends on its own (trigger-intent API): push directly."""
        return WeChatOutput(self.api(), remember_choices=self.remember_choices)

    # -- numbered choices --------------------------------------------------------------

    async def remember_choices(self, conversation: str, payloads: List[str]) -> None:
        """Keeps what "1", "2", … mean for this conversation (`wechat:<openid>`) until its next message."""
        try:
            await self.redis().set(
                redis_keys().wechat_choices(conversation), json.dumps(payloads, ensure_ascii=False), ex=CHOICES_TTL_SECONDS
            )
        except RedisError as error:
            logger.error("wechat.choices.not_saved user=%s error=%s", mask_id(conversation), type(error).__name__)

    async def resolve_choice(self, openid: str, text: str) -> str:
        """A digit answering the last numbered choices becomes the offered payload.

        The offer is used up by the next message, whatever it is: an old "1" later in the
        conversation is just text again.
        """
        key = redis_keys().wechat_choices(conversation_id(self.name(), openid))
        try:
            async with self.redis().pipeline(transaction=True) as pipe:
                stored, _ = await pipe.get(key).delete(key).execute()
        except RedisError as error:
            logger.error("wechat.choices.unavailable user=%s error=%s", mask_id(openid), type(error).__name__)
            return text
        if not stored:
            return text
        answer = unicodedata.normalize("NFKC", text).strip().rstrip(".。、")
        try:
            payloads = [str(item) for item in json.loads(stored)]
        except (ValueError, TypeError):
            return text
        if answer.isdecimal() and 1 <= int(answer) <= len(payloads):
            return payloads[int(answer) - 1]
        return text

    # -- request parsing ---------------------------------------------------------------

    @staticmethod
    def _extract_query(request: Request) -> CallbackQuery:
        args = request.args
        return CallbackQuery(
            signature=args.get("signature"),
            timestamp=args.get("timestamp"),
            nonce=args.get("nonce"),
            msg_signature=args.get("msg_signature"),
            encrypt_type=(args.get("encrypt_type") or "raw").lower(),
            echostr=args.get("echostr"),
        )

    async def _extract_body(self, request: Request) -> bytes:
        """Read the body, refusing (early) anything over `max_body_bytes`."""
        return await read_limited(request, self.max_body_bytes)

    def _verify(self, query: CallbackQuery) -> None:
        check_signature(
            self.token,
            query.signature,
            query.timestamp,
            query.nonce,
            now=self.clock(),
            max_skew=self.timestamp_tolerance,
        )

    def _extract_message(self, query: CallbackQuery, body: bytes) -> WeChatMessage:
        """Authenticate, decrypt (safe mode) and parse one callback.

        Raises `InvalidSignatureError` (403), `CryptoError` or `MessageParseError` (400).
        In plain mode the signature is checked before the body is parsed at all.
        """
        if not query.encrypted:
            if not self.allow_plain:
                raise InvalidSignatureError("plain callback refused: safe mode is configured")
            self._verify(query)
            return message_from_fields(parse_xml_fields(body))
        if self.crypto is None:
            raise CryptoError("encrypted callback but no EncodingAESKey configured")
        if query.signature:
            self._verify(query)
        envelope = parse_xml_fields(body)
        encrypted = envelope.get("Encrypt")
        if not encrypted:
            raise MessageParseError("safe-mode callback without Encrypt")
        xml = self.crypto.decrypt_message(
            query.msg_signature,
            query.timestamp,
            query.nonce,
            encrypted,
            now=self.clock(),
            max_skew=self.timestamp_tolerance,
        )
        return message_from_fields(parse_xml_fields(xml))

    def _extract_echo(self, query: CallbackQuery) -> str:
        """The text that proves to WeChat we own the token (URL verification)."""
        if query.echostr is None:
            raise InvalidSignatureError("echostr missing")
        if query.signature:
            # Official Accounts echo the plain echostr, in safe mode too.
            self._verify(query)
            return query.echostr
        if query.msg_signature and self.crypto is not None:
            # WeCom-style verification: an encrypted echostr signed with msg_signature.
            return self.crypto.check_echo(
                query.msg_signature,
                query.timestamp,
                query.nonce,
                query.echostr,
                now=self.clock(),
                max_skew=self.timestamp_tolerance,
            )
        raise InvalidSignatureError("no signature")

    def _extract_text(self, message: WeChatMessage) -> Optional[str]:
        """What Rasa should read for this message, or None when the channel answers itself."""
        if isinstance(message, TextMessage):
            return message.content.strip() or None
        if isinstance(message, VoiceMessage):
            return (message.recognition or "").strip() or None
        if isinstance(message, ClickEvent):
            return self.click_intents.get(message.event_key)
        return None

    @staticmethod
    def _fixed_reply(message: WeChatMessage) -> List[str]:
        """The channel's own answer for messages that never reach Rasa."""
        if isinstance(message, SubscribeEvent):
            return [messages.WECHAT_WELCOME]
        if isinstance(message, VoiceMessage):
            return [messages.WECHAT_VOICE_PLEASE_TYPE]
        if isinstance(message, ImageMessage):
            return [messages.WECHAT_IMAGE_RECEIVED]
        if isinstance(message, ClickEvent):
            return [messages.WECHAT_UNKNOWN_MENU]
        if isinstance(message, TextMessage):
            return []  # empty text: nothing to say
        if isinstance(message, UnsubscribeEvent):
            return []
        if isinstance(message, UnknownMessage) and message.msg_type != "event":
            return [messages.WECHAT_UNSUPPORTED_MESSAGE]
        return []  # other events (VIEW, SCAN, LOCATION, …) need no answer

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """Metadata is built from the parsed message instead (see `_metadata`)."""
        return None

    @staticmethod
    def _metadata(message: WeChatMessage) -> Dict[str, Any]:
        return {"channel": "wechat", "openid": message.from_user}

    # -- answering ---------------------------------------------------------------------

    def _nonce(self) -> str:
        return str(int.from_bytes(self.random_bytes(4), "big"))

    def _render(self, message: WeChatMessage, query: CallbackQuery, text: Optional[str]) -> HTTPResponse:
        """The HTTP answer: passive reply XML (encrypted if the callback was) or `success`."""
        if not text:
            return response.text(SUCCESS)
        now = int(self.clock())
        xml = render_text_reply(message.from_user, message.to_user, text, now)
        if query.encrypted and self.crypto is not None:
            envelope = self.crypto.encrypt_message(xml, self._nonce(), str(now))
            xml = render_encrypted_envelope(envelope)
        return response.text(xml, content_type=_XML_CONTENT_TYPE)

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        """Run work that outlives the HTTP answer, keeping a reference so it is not GC'd."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self, timeout: float = 10.0) -> None:
        """Wait for deliveries still in flight (tests and graceful shutdown)."""
        pending = [task for task in self._background if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def _record(self, key: str, outcome: Outcome) -> None:
        """Remember the outcome for retries; shielded, so a hang-up cannot leave it `processing`."""
        try:
            await asyncio.shield(self.dedupe().record(key, outcome))
        except RedisError as error:
            logger.error("wechat.dedupe.record_failed key=%s error=%s", key, type(error).__name__)

    async def _claim(self, key: str) -> bool:
        try:
            return await self.dedupe().claim(key)
        except RedisError as error:
            # Same choice as the handoff router: without Redis, answering beats silence.
            logger.error("wechat.dedupe.unavailable key=%s error=%s", key, type(error).__name__)
            return True

    async def _answer_retry(self, key: str) -> Optional[str]:
        """A retry of a callback another request owns: wait briefly for its outcome."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reply_deadline
        while True:
            try:
                outcome = await self.dedupe().outcome(key)
            except RedisError:
                return None
            if outcome is None or outcome.state != PROCESSING or loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        if outcome is not None and outcome.state == PASSIVE:
            return outcome.reply
        return None

    async def _unbind(self, openid: str) -> str:
        """「解绑」: the OpenID → account binding is the resident's to revoke, at any time."""
        try:
            removed = await self.redis().delete(redis_keys().wechat_binding(openid))
        except RedisError as error:
            logger.error("wechat.unbind.unavailable error=%s", type(error).__name__)
            return messages.WECHAT_SERVICE_ERROR
        logger.info("wechat.unbind openid=%s removed=%s", mask_id(openid), bool(removed))
        return messages.WECHAT_UNBOUND if removed else messages.WECHAT_NOT_BOUND

    async def _fresh_nonce(self, query: CallbackQuery, message: WeChatMessage) -> bool:
        """A (timestamp, nonce) pair signs one message only, for the whole timestamp window."""
        if not query.nonce or not query.timestamp:
            return True
        window = 2 * (self.timestamp_tolerance or DEFAULT_TIMESTAMP_TOLERANCE)
        try:
            return await self.dedupe().claim_nonce(query.timestamp, query.nonce, dedupe_key(message), window)
        except RedisError as error:
            logger.error("wechat.nonce.unavailable error=%s", type(error).__name__)
            return True  # same choice as the dedupe: answering beats silence

    async def _handle(self, message: WeChatMessage, on_new_message: OnNewMessage) -> Optional[str]:
        """Process one authenticated callback once; returns the passive reply text, if any."""
        key = dedupe_key(message)
        if not await self._claim(key):
            logger.info("wechat.callback.duplicate key=%s", key)
            return await self._answer_retry(key)
        text = self._extract_text(message)
        if text is not None and isinstance(message, TextMessage):
            text = await self.resolve_choice(message.from_user, text)
        if text is None:
            texts = self._fixed_reply(message)
        elif text in UNBIND_COMMANDS:
            texts = [await self._unbind(message.from_user)]
        else:
            texts = await self._run_bot(message, text, on_new_message, key)
            if texts is None:
                await self._record(key, Outcome(PUSHED))
                return None
        pieces = split_text("\n\n".join(texts)) if texts else []
        if not pieces:
            await self._record(key, Outcome(DONE))
            return None
        first, rest = pieces[0], pieces[1:]
        await self._record(key, Outcome(PASSIVE, first))
        if rest:
            self._spawn(self._push_overflow(message.from_user, rest))
        return first

    async def _route(self, user_message: UserMessage, on_new_message: OnNewMessage) -> None:
        await self.router().route(user_message, on_new_message)

    async def _run_bot(
        self, message: WeChatMessage, text: str, on_new_message: OnNewMessage, key: str
    ) -> Optional[List[str]]:
        """Run the bot; its messages if done within the deadline, else None (they get pushed)."""
        output = WeChatOutput(self.api(), collect=True, remember_choices=self.remember_choices)
        user_message = UserMessage(
            text,
            output,
            conversation_id(self.name(), message.from_user),
            input_channel=self.name(),
            message_id=message.msg_id,
            metadata=self._metadata(message),
        )
        task = asyncio.ensure_future(self._route(user_message, on_new_message))
        try:
            await asyncio.wait({task}, timeout=self.reply_deadline)
        except asyncio.CancelledError:
            # WeChat hung up before our deadline (Sanic cancels the handler): the bot
            # goes on, and its answer must still reach the user, exactly once.
            logger.warning("wechat.callback.hung_up openid=%s", mask_id(message.from_user))
            self._defer(task, output, message.from_user)
            self._spawn(self._record(key, Outcome(PUSHED)))
            raise
        if not task.done():
            # Nothing awaited since the check: no bot message can slip in between.
            self._defer(task, output, message.from_user)
            return None
        if task.cancelled() or task.exception() is not None:
            logger.error(
                "wechat.bot.failed openid=%s",
                mask_id(message.from_user),
                exc_info=None if task.cancelled() else task.exception(),
            )
            return output.collected() or [messages.WECHAT_SERVICE_ERROR]
        return output.collected()

    def _defer(self, task: "asyncio.Future[Any]", output: WeChatOutput, openid: str) -> None:
        """From now on the bot's messages go through the customer-service API."""
        output.start_pushing(openid)
        self._spawn(self._finish_in_background(task, output, openid))
        logger.info("wechat.reply.deferred openid=%s", mask_id(openid))

    async def _finish_in_background(
        self, task: "asyncio.Future[Any]", output: WeChatOutput, openid: str
    ) -> None:
        try:
            await task
        except asyncio.CancelledError:
            logger.error("wechat.bot.cancelled openid=%s", mask_id(openid))
        except Exception:  # noqa: BLE001 - the bot's failure must not kill delivery
            logger.exception("wechat.bot.failed openid=%s", mask_id(openid))
        finally:
            await output.close()

    async def _push_overflow(self, openid: str, pieces: Iterable[str]) -> None:
        """The parts of a long answer that did not fit in the passive reply."""
        api = self.api()
        if api is None:
            logger.error("wechat.overflow.dropped openid=%s reason=no_api_credentials", mask_id(openid))
            return
        await asyncio.sleep(self.overflow_delay)
        for piece in pieces:
            try:
                await api.send_text(openid, piece)
            except WeChatAPIError as error:
                logger.error("wechat.overflow.failed openid=%s errcode=%s", mask_id(openid), error.errcode)
                return

    # -- handoff delivery --------------------------------------------------------------

    async def deliver(self, conversation_id: str, text: str, entry: OutboxEntry) -> None:
        """An agent's reply (or a resolve notice) from the console, as customer-service messages.

        Raises `bot.delivery.DeliveryRejected` with a reason the agent can read.
        """
        from bot.delivery import DeliveryRejected

        api = self.api()
        if api is None:
            raise DeliveryRejected(messages.WECHAT_AGENT_NOT_CONFIGURED)
        try:
            openid = native_id(self.name(), conversation_id)
        except ForeignConversation as error:
            raise DeliveryRejected(messages.WECHAT_AGENT_NOT_WECHAT) from error
        try:
            for piece in split_text(text):
                await api.send_text(openid, piece)
        except OutsideServiceWindowError as error:
            raise DeliveryRejected(messages.WECHAT_AGENT_OUTSIDE_WINDOW) from error
        except QuotaExceededError as error:
            raise DeliveryRejected(messages.WECHAT_AGENT_QUOTA_EXCEEDED) from error
        except AmbiguousSendError as error:
            raise DeliveryRejected(messages.WECHAT_AGENT_SEND_UNCERTAIN) from error
        except WeChatAPIError as error:
            raise DeliveryRejected(
                messages.WECHAT_AGENT_SEND_FAILED.format(errcode=error.errcode)
            ) from error

    # -- Sanic -------------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """GET verification, POST callbacks and a health check under `/webhooks/wechat/`."""
        webhook = Blueprint(f"heatdesk_wechat_webhook_{id(self)}", __name__)
        if self.register_delivery:
            from bot.delivery import register_deliverer, start_worker

            register_deliverer(self.name(), self.deliver)

            @webhook.listener("after_server_start")
            async def start_delivery(app: Any, _loop: Any) -> None:
                agent = getattr(app.ctx, "agent", None)
                if agent is not None:
                    start_worker(agent)

        @webhook.listener("before_server_stop")
        async def flush(_app: Any, _loop: Any) -> None:
            await self.wait_background()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            try:
                await self.redis().ping()
            except RedisError:
                return response.json({"status": "unavailable", "redis": False}, status=503)
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            query = self._extract_query(request)
            if query.echostr is None:
                return response.text("missing echostr", status=400)
            try:
                echo = self._extract_echo(query)
            except (InvalidSignatureError, CryptoError) as error:
                logger.warning("wechat.verify.rejected reason=%s", error)
                return response.text("invalid signature", status=403)
            return response.text(echo)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = await self._extract_body(request)
            except RequestTooLarge:
                return response.text("request body too large", status=413)
            query = self._extract_query(request)
            try:
                message = self._extract_message(query, body)
            except InvalidSignatureError as error:
                logger.warning("wechat.callback.rejected reason=%s", error)
                return response.text("invalid signature", status=403)
            except (CryptoError, MessageParseError) as error:
                logger.warning("wechat.callback.bad_request reason=%s", error)
                return response.text("bad request", status=400)
            if not message.from_user:
                return response.text(SUCCESS)
            if not await self._fresh_nonce(query, message):
                logger.warning("wechat.callback.replayed_nonce")
                return response.text("invalid signature", status=403)
            text = await self._handle(message, on_new_message)
            return self._render(message, query, text)

        return webhook

