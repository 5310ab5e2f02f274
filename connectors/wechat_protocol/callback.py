"""A WeChat callback in and its passive reply out: signatures, safe mode, XML.

In plain mode the signature is checked before the body is parsed at all; with an
EncodingAESKey, plain callbacks are refused unless explicitly allowed (a signed
query string seen once could otherwise carry any body and any FromUserName).
The passive reply is encrypted when the callback was. Time and randomness are
parameters (`clock`, `random_bytes`), so known-answer tests are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from connectors.wechat_protocol.crypto import RandomBytes, WeChatCrypto
from connectors.wechat_protocol.exceptions import CryptoError, InvalidSignatureError, MessageParseError
from connectors.wechat_protocol.messages import WeChatMessage, message_from_fields, parse_xml_fields
from connectors.wechat_protocol.replies import render_encrypted_envelope, render_text_reply
from connectors.wechat_protocol.signature import Clock, check_signature


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


class CallbackCodec:
    """Turns an authentic callback into a `WeChatMessage` (or the URL-verification echo), and a text into its reply."""

    def __init__(
        self,
        token: str,
        crypto: Optional[WeChatCrypto],
        *,
        allow_plain: bool,
        clock: Clock,
        random_bytes: RandomBytes,
        timestamp_tolerance: Optional[int],
    ) -> None:
        self.token = token
        self.crypto = crypto
        self.allow_plain = allow_plain
        self.clock = clock
        self.random_bytes = random_bytes
        self.timestamp_tolerance = timestamp_tolerance

    def verify(self, query: CallbackQuery) -> None:
        check_signature(
            self.token,
            query.signature,
            query.timestamp,
            query.nonce,
            now=self.clock(),
            max_skew=self.timestamp_tolerance,
        )

    def message(self, query: CallbackQuery, body: bytes) -> WeChatMessage:
        """Authenticate, decrypt (safe mode) and parse one callback.

        Raises `InvalidSignatureError` (403), `CryptoError` or `MessageParseError` (400).
        """
        if not query.encrypted:
            if not self.allow_plain:
                raise InvalidSignatureError("plain callback refused: safe mode is configured")
            self.verify(query)
            return message_from_fields(parse_xml_fields(body))
        if self.crypto is None:
            raise CryptoError("encrypted callback but no EncodingAESKey configured")
        if query.signature:
            self.verify(query)
        envelope = parse_xml_fields(body)
        encrypted = envelope.get("Encrypt")
        if not encrypted:
            raise MessageParseError("safe-mode callback without Encrypt")
        return message_from_fields(parse_xml_fields(self._signed(self.crypto.decrypt_message, query, encrypted)))

    def _signed(self, open_: Callable[..., str], query: CallbackQuery, encrypted: str) -> str:
        """A safe-mode payload (a message or a WeCom echostr) opened with the query's `msg_signature`
        at our clock (`open_`: the crypto's ``decrypt_message`` or ``check_echo``)."""
        return open_(
            query.msg_signature,
            query.timestamp,
            query.nonce,
            encrypted,
            now=self.clock(),
            max_skew=self.timestamp_tolerance,
        )

    def echo(self, query: CallbackQuery) -> str:
        """The text that proves to WeChat we own the token (URL verification)."""
        if query.echostr is None:
            raise InvalidSignatureError("echostr missing")
        if query.signature:
            # Official Accounts echo the plain echostr, in safe mode too.
            self.verify(query)
            return query.echostr
        if query.msg_signature and self.crypto is not None:
            # WeCom-style verification: an encrypted echostr signed with msg_signature.
            return self._signed(self.crypto.check_echo, query, query.echostr)
        raise InvalidSignatureError("no signature")

    def reply(self, message: WeChatMessage, query: CallbackQuery, text: str) -> str:
        """The passive reply XML for `text` to `message`, encrypted if the callback was."""
        now = int(self.clock())
        xml = render_text_reply(message.from_user, message.to_user, text, now)
        if query.encrypted and self.crypto is not None:
            nonce = str(int.from_bytes(self.random_bytes(4), "big"))
            xml = render_encrypted_envelope(self.crypto.encrypt_message(xml, nonce, str(now)))
        return xml
