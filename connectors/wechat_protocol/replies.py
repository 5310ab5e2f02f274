"""Passive reply XML and text splitting.

A passive reply is one XML document in the HTTP answer to WeChat's callback.
Text goes in CDATA, where the only thing that needs escaping is `]]>` (split
across two CDATA sections). WeChat truncates or refuses text over 2048 bytes,
so long answers are split on paragraph, line or sentence boundaries, never in
the middle of a UTF-8 character.
"""

from __future__ import annotations

from typing import Iterator

from connectors.wechat_protocol.crypto import EncryptedMessage

#: WeChat's limit for the Content of a text message, in UTF-8 bytes.
MAX_TEXT_BYTES = 2048

#: Body that tells WeChat "received, no passive reply, do not retry".
SUCCESS = "success"

_CDATA_END = "]]>"
# Preferred split points, strongest first; each is kept with the text before it.
_BOUNDARIES = ("\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", "，", ",", " ")


def cdata(value: str) -> str:
    """`value` as CDATA, with `]]>` split so it cannot close the section early."""
    return "<![CDATA[" + value.replace(_CDATA_END, "]]]]><![CDATA[>") + "]]>"


def render_text_reply(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """A passive text reply: `to_user` is the user's OpenID, `from_user` our account id."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def render_encrypted_envelope(message: EncryptedMessage) -> str:
    """The safe-mode answer that carries an encrypted passive reply."""
    return (
        "<xml>"
        f"<Encrypt>{cdata(message.encrypt)}</Encrypt>"
        f"<MsgSignature>{cdata(message.msg_signature)}</MsgSignature>"
        f"<TimeStamp>{message.timestamp}</TimeStamp>"
        f"<Nonce>{cdata(message.nonce)}</Nonce>"
        "</xml>"
    )


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _prefix_within(text: str, limit: int) -> int:
    """Largest number of characters of `text` whose UTF-8 encoding fits in `limit` bytes."""
    encoded = text.encode("utf-8")[:limit]
    return len(encoded.decode("utf-8", errors="ignore"))


def _split_once(text: str, limit: int) -> tuple[str, str]:
    cut = _prefix_within(text, limit)
    window = text[:cut]
    for boundary in _BOUNDARIES:
        position = window.rfind(boundary)
        # Only accept a boundary that keeps the piece reasonably full.
        if position > 0 and position + len(boundary) >= cut // 3:
            end = position + len(boundary)
            return text[:end], text[end:]
    return window, text[cut:]


def _pieces(text: str, limit: int) -> Iterator[str]:
    rest = text
    while _byte_len(rest) > limit:
        head, rest = _split_once(rest, limit)
        yield head
    yield rest


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Split `text` into pieces of at most `limit` UTF-8 bytes, on natural boundaries.

    Whitespace at the cut is dropped; empty pieces are never returned.
    """
    if limit < 4:
        raise ValueError("limit must hold at least one UTF-8 character")
    pieces = [piece.strip() for piece in _pieces(text.strip(), limit)]
    return [piece for piece in pieces if piece]
