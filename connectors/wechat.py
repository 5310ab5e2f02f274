"""The WeChat Official Account (公众号) channel: `/webhooks/wechat/webhook`.

WeChat calls us with signed XML (plain, or AES-encrypted in safe mode) and
gives us 5 seconds to answer. The bot runs at once; if it is done within
`reply_deadline` (about 4 s) its messages go back *passively* in the HTTP
answer, otherwise we answer `success` and the messages follow through the
customer-service API as the bot produces them. WeChat retries unanswered
callbacks, so every callback is claimed in Redis first: a retry never runs the
bot again and never causes a second answer.

The protocol and its state live in `connectors.wechat_protocol` (signatures,
AES, XML, the callback codec, dedupe, the passive-reply state machine, pushes,
numbered choices, the channel's own answers, the API client); this module only
ties them to Rasa and Sanic, through the channel seam `connectors.base`.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import messages
from bot.conversation import ForeignConversation, conversation_id, native_id
from bot.csat import CsatQuestion
from bot.delivery import Deliverable, DeliveryRejected
from bot.handoff.router import HandoffRouter
from bot.settings import redis_keys
from connectors.base import MAX_TEXT, HandoffInput, Send, text_too_long
from connectors.body import RequestTooLarge, read_limited
from connectors.wechat_protocol.answers import CLICK_INTENTS, UNBIND_COMMANDS, fixed_reply, refusal_reason
from connectors.wechat_protocol.api import DEFAULT_API_BASE, WeChatAPI, WeChatAPIError
from connectors.wechat_protocol.callback import CallbackCodec, CallbackQuery
from connectors.wechat_protocol.choices import NumberedChoices, numbered, payloads_of
from connectors.wechat_protocol.crypto import RandomBytes, WeChatCrypto
from connectors.wechat_protocol.dedupe import MessageDeduplicator, dedupe_key
from connectors.wechat_protocol.exceptions import CryptoError, InvalidSignatureError, MessageParseError
from connectors.wechat_protocol.messages import ClickEvent, TextMessage, VoiceMessage, WeChatMessage
from connectors.wechat_protocol.passive import PassiveReplies
from connectors.wechat_protocol.push import TurnMessages, send_pieces
from connectors.wechat_protocol.replies import MAX_TEXT_BYTES, SUCCESS, split_text
from connectors.wechat_protocol.signature import Clock
from heatdesk_contract.keys import KeySpace
from heatdesk_contract.masking import mask_id

logger = logging.getLogger(__name__)

#: Keeps the payloads of numbered choices shown to a user: (openid, payloads).
RememberChoices = Callable[[str, List[str]], Awaitable[None]]

DEFAULT_REPLY_DEADLINE = 4.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_TIMESTAMP_TOLERANCE = 300
#: Pause between a passive reply and the customer-service messages that continue it,
#: so WeChat shows them in order.
DEFAULT_OVERFLOW_DELAY = 0.5
_XML_CONTENT_TYPE = "application/xml; charset=utf-8"


def openid_of(recipient_id: str) -> str:
    """Rasa addresses the conversation (`wechat:<openid>`); WeChat's API wants the OpenID."""
    try:
        return native_id(WeChatOutput.name(), recipient_id)
    except ForeignConversation:
        return recipient_id  # already bare (the channel's own passive-window hand-over)


class WeChatOutput(OutputChannel):
    """Sends the bot's messages to one WeChat user, as text (WeChat text has no buttons).

    Built with `collect`, messages are kept for the passive reply until the channel
    calls `turn.start_pushing()` (`wechat_protocol.push.TurnMessages`); without,
    it pushes directly (e.g. for Rasa's trigger-intent API).
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
        self.turn = TurnMessages(api, collect=collect, max_text_bytes=max_text_bytes)
        self._remember_choices = remember_choices

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        if text and text.strip():
            await self.turn.add(openid_of(recipient_id), text)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Numbered titles under the text, one message; the payloads stay on the server
        (`wechat_protocol.choices`), so a reply "1" means what the bot offered."""
        lines = numbered(text, buttons)
        if self._remember_choices is not None:
            await self._remember_choices(recipient_id, payloads_of(buttons))
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


class WeChatInput(HandoffInput):
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
        router: Optional[HandoffRouter] = None,
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
        self.click_intents: Dict[str, str] = dict(click_intents or CLICK_INTENTS)
        self.register_delivery = register_delivery
        # Safe mode needs both the key and the AppID; a bad key fails here, at start-up.
        self.crypto: Optional[WeChatCrypto] = (
            WeChatCrypto(token, aes_key, appid, previous_encoding_aes_key=previous_aes_key or None,
                         random_bytes=random_bytes)
            if aes_key
            else None
        )
        # With a key configured, plain callbacks are refused (migration: WECHAT_ALLOW_PLAIN).
        self.callbacks = CallbackCodec(
            token, self.crypto, allow_plain=allow_plain or not aes_key, clock=clock,
            random_bytes=random_bytes, timestamp_tolerance=timestamp_tolerance,
        )
        self.passive = PassiveReplies(
            self.dedupe, self.api, reply_deadline=reply_deadline, overflow_delay=overflow_delay,
            failure_text=messages.WECHAT_SERVICE_ERROR,
        )
        self.choices = NumberedChoices(self.redis, self.keys.wechat_choices)
        self._redis = redis  # injected (tests); else `_own_redis` is made from `redis_url`
        self._own_redis: Optional[Redis] = None
        self._router = router
        self._api = api
        self._dedupe: Optional[MessageDeduplicator] = None
        if not token:
            logger.warning("WeChat channel has no token: every callback will be refused (403)")

    def __repr__(self) -> str:  # never show the token or secrets
        return f"WeChatInput(appid={self.appid!r}, safe_mode={self.crypto is not None})"

    # -- lazily created collaborators ------------------------------------------------

    def redis(self) -> Redis:
        """The channel's own client (`redis_url`): dedupe, access token, choices, bindings."""
        if self._own_redis is None:
            self._own_redis = self._redis or Redis.from_url(
                self.redis_url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0
            )
        return self._own_redis

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

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For messages Rasa sends on its own (trigger-intent API): push directly."""
        return WeChatOutput(self.api(), remember_choices=self.remember_choices)

    # -- numbered choices (`wechat_protocol.choices`) -------------------------------------

    async def remember_choices(self, conversation: str, payloads: List[str]) -> None:
        await self.choices.remember(conversation, payloads)

    async def resolve_choice(self, openid: str, text: str) -> str:
        return await self.choices.resolve(conversation_id(self.name(), openid), text)

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

    def _extract_message(self, query: CallbackQuery, body: bytes) -> WeChatMessage:
        """Authenticate, decrypt (safe mode) and parse one callback (`CallbackCodec.message`)."""
        return self.callbacks.message(query, body)

    def _extract_echo(self, query: CallbackQuery) -> str:
        """The text that proves to WeChat we own the token (URL verification)."""
        return self.callbacks.echo(query)

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
    def _metadata(message: WeChatMessage) -> Dict[str, Any]:
        return {"channel": "wechat", "openid": message.from_user}

    # -- answering ---------------------------------------------------------------------

    def _render(self, message: WeChatMessage, query: CallbackQuery, text: Optional[str]) -> HTTPResponse:
        """The HTTP answer: passive reply XML (encrypted if the callback was) or `success`."""
        if not text:
            return response.text(SUCCESS)
        return response.text(self.callbacks.reply(message, query, text), content_type=_XML_CONTENT_TYPE)

    async def wait_background(self, timeout: float = 10.0) -> None:
        """Wait for deliveries still in flight (tests and graceful shutdown)."""
        await self.passive.wait_background(timeout)

    async def _unbind(self, openid: str) -> str:
        """「解绑」: the OpenID → account binding is the resident's to revoke, at any time."""
        try:
            removed = await self.redis().delete(redis_keys().wechat_binding(openid))
        except RedisError as error:
            logger.error("wechat.unbind.unavailable error=%s", type(error).__name__)
            return messages.WECHAT_SERVICE_ERROR
        logger.info("wechat.unbind openid=%s removed=%s", mask_id(openid), bool(removed))
        return messages.WECHAT_UNBOUND if removed else messages.WECHAT_NOT_BOUND

    async def _handle(self, message: WeChatMessage, send: Send) -> Optional[str]:
        """Process one authenticated callback once; returns the passive reply text, if any."""
        key = dedupe_key(message)
        if not await self.passive.claim(key):
            logger.info("wechat.callback.duplicate key=%s", key)
            return await self.passive.retry_answer(key)
        text = self._extract_text(message)
        if text is not None and isinstance(message, TextMessage):
            text = await self.resolve_choice(message.from_user, text)
        texts: Optional[List[str]]
        if text is None:
            texts = fixed_reply(message)
        elif text in UNBIND_COMMANDS:
            texts = [await self._unbind(message.from_user)]
        elif text_too_long(text):
            texts = [messages.WECHAT_MESSAGE_TOO_LONG.format(limit=MAX_TEXT)]
        else:
            texts = await self._run_bot(message, text, send, key)
        return await self.passive.reply(key, message.from_user, texts)

    async def _run_bot(self, message: WeChatMessage, text: str, send: Send, key: str) -> Optional[List[str]]:
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
        return await self.passive.run(send(user_message), output.turn, message.from_user, key)

    # -- handoff delivery --------------------------------------------------------------

    async def deliver(self, conversation_id: str, text: str, entry: Deliverable) -> None:
        """An agent's reply (or a resolve notice, or the rating question) as customer-service messages.

        Raises `bot.delivery.DeliveryRejected` with a reason the agent can read. The rating
        question is numbered text answered with a digit: no older numbered offer may claim it.
        """
        api = self.api()
        if api is None:
            raise DeliveryRejected(messages.WECHAT_AGENT_NOT_CONFIGURED)
        try:
            openid = native_id(self.name(), conversation_id)
        except ForeignConversation as error:
            raise DeliveryRejected(messages.WECHAT_AGENT_NOT_WECHAT) from error
        if isinstance(entry, CsatQuestion):
            await self.choices.forget(conversation_id)
        try:
            await send_pieces(api, openid, split_text(text))
        except WeChatAPIError as error:
            raise DeliveryRejected(refusal_reason(error)) from error

    # -- Sanic -------------------------------------------------------------------------

    def routes(self, webhook: Blueprint, send: Send) -> None:
        """GET verification and POST callbacks under `/webhooks/wechat/`."""

        @webhook.listener("before_server_stop")
        async def flush(_app: Any, _loop: Any) -> None:
            await self.wait_background()

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
            window = 2 * (self.timestamp_tolerance or DEFAULT_TIMESTAMP_TOLERANCE)
            if not await self.passive.fresh_nonce(query.timestamp, query.nonce, dedupe_key(message), window):
                logger.warning("wechat.callback.replayed_nonce")
                return response.text("invalid signature", status=403)
            text = await self._handle(message, send)
            return self._render(message, query, text)

