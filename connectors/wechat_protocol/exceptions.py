"""Typed errors of the WeChat protocol, so the channel maps each to one HTTP answer."""

from __future__ import annotations


class WeChatProtocolError(Exception):
    """Base of every error raised by `connectors.wechat_protocol`."""


class InvalidSignatureError(WeChatProtocolError):
    """The request was not signed with our token (→ 403)."""


class StaleTimestampError(InvalidSignatureError):
    """The signed timestamp is too far from our clock: a replay or a broken clock (→ 403)."""


class CryptoError(WeChatProtocolError):
    """An encrypted payload could not be decrypted or did not decode to our layout."""


class InvalidPaddingError(CryptoError):
    """The PKCS#7 padding of a decrypted payload is not valid."""


class InvalidAppIdError(CryptoError):
    """The AppID at the end of a decrypted payload is not ours."""


class MessageParseError(WeChatProtocolError):
    """The XML is malformed, too large, or uses DTDs/entities (XML bombs) (→ 400)."""
