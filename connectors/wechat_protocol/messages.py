"""Parsing of WeChat callback XML into typed messages.

Only `defusedxml` touches the bytes: DTDs, entity declarations and external
references are refused outright (billion laughs, XXE), and so is anything
malformed or oversized. Those are the only failures and all are
`MessageParseError`. Well-formed XML of a type we do not handle becomes an
`UnknownMessage`, never an exception, so a new WeChat feature cannot crash
the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Union
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from connectors.wechat_protocol.exceptions import MessageParseError

#: Larger than any real callback (the channel refuses bodies over 64 KiB before this).
MAX_XML_BYTES = 256 * 1024


def parse_xml_fields(xml: Union[bytes, str]) -> dict[str, str]:
    """The direct children of the root element as `{tag: text}` (flat, like WeChat's XML)."""
    data = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    if len(data) > MAX_XML_BYTES:
        raise MessageParseError("XML document too large")
    if not data.strip():
        raise MessageParseError("empty XML document")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as error:
        raise MessageParseError(f"rejected XML: {type(error).__name__}") from error
    except (ValueError, UnicodeError, LookupError) as error:
        # e.g. an encoding declaration naming an unknown or unusable codec
        raise MessageParseError(f"undecodable XML: {type(error).__name__}") from error
    fields: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and child.tag not in fields:
            fields[child.tag] = (child.text or "").strip()
    return fields


@dataclass(frozen=True)
class WeChatMessage:
    """Fields every callback shares; `raw` keeps all fields for logging and later use."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    msg_id: Optional[str] = None
    raw: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class TextMessage(WeChatMessage):
    content: str = ""


@dataclass(frozen=True)
class VoiceMessage(WeChatMessage):
    media_id: str = ""
    format: str = ""
    recognition: Optional[str] = None  # speech-to-text, only when enabled for the account


@dataclass(frozen=True)
class ImageMessage(WeChatMessage):
    pic_url: str = ""
    media_id: str = ""


@dataclass(frozen=True)
class EventMessage(WeChatMessage):
    event: str = ""
    event_key: str = ""


@dataclass(frozen=True)
class SubscribeEvent(EventMessage):
    """A user followed the account (event_key is `qrscene_…` when via a parametric QR code)."""


@dataclass(frozen=True)
class UnsubscribeEvent(EventMessage):
    """A user unfollowed: nothing can be sent to them any more."""


@dataclass(frozen=True)
class ClickEvent(EventMessage):
    """A custom-menu CLICK button; `event_key` is the button's key."""


@dataclass(frozen=True)
class UnknownMessage(WeChatMessage):
    """Anything else (video, location, link, VIEW/SCAN/LOCATION events, …)."""

    event: str = ""


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def message_from_fields(fields: Mapping[str, str]) -> WeChatMessage:
    """Build the typed message for already-parsed fields (never raises)."""
    common = dict(
        to_user=fields.get("ToUserName", ""),
        from_user=fields.get("FromUserName", ""),
        create_time=_int(fields.get("CreateTime", "")),
        msg_type=fields.get("MsgType", "").lower(),
        msg_id=fields.get("MsgId") or None,
        raw=dict(fields),
    )
    msg_type = common["msg_type"]
    if msg_type == "text":
        return TextMessage(**common, content=fields.get("Content", ""))  # type: ignore[arg-type]
    if msg_type == "voice":
        return VoiceMessage(  # type: ignore[arg-type]
            **common,
            media_id=fields.get("MediaId", ""),
            format=fields.get("Format", ""),
            recognition=fields.get("Recognition") or None,
        )
    if msg_type == "image":
        return ImageMessage(  # type: ignore[arg-type]
            **common, pic_url=fields.get("PicUrl", ""), media_id=fields.get("MediaId", "")
        )
    if msg_type == "event":
        event = fields.get("Event", "")
        event_fields = dict(event=event, event_key=fields.get("EventKey", ""))
        kind = event.lower()
        if kind == "subscribe":
            return SubscribeEvent(**common, **event_fields)  # type: ignore[arg-type]
        if kind == "unsubscribe":
            return UnsubscribeEvent(**common, **event_fields)  # type: ignore[arg-type]
        if kind == "click":
            return ClickEvent(**common, **event_fields)  # type: ignore[arg-type]
        return UnknownMessage(**common, event=event)  # type: ignore[arg-type]
    return UnknownMessage(**common)  # type: ignore[arg-type]


def parse_message(xml: Union[bytes, str]) -> WeChatMessage:
    """Parse one (decrypted) callback; raises only `MessageParseError`."""
    return message_from_fields(parse_xml_fields(xml))
