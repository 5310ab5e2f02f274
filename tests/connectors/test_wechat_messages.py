"""Parsing WeChat callback XML: every type, XML bombs refused, fuzzing never escapes our error."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.wechat_protocol.exceptions import MessageParseError
from connectors.wechat_protocol.messages import (
    ClickEvent,
    ImageMessage,
    SubscribeEvent,
    TextMessage,
    UnknownMessage,
    UnsubscribeEvent,
    VoiceMessage,
    WeChatMessage,
    parse_message,
)


def callback(msg_type: str, **fields: str) -> str:
    extra = "".join(f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items())
    return (
        "<xml><ToUserName><![CDATA[gh_heating]]></ToUserName>"
        "<FromUserName><![CDATA[oUser123]]></FromUserName>"
        "<CreateTime>1732700000</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{extra}</xml>"
    )


def test_text() -> None:
    message = parse_message(callback("text", Content="我家欠费多少？", MsgId="1234567890123456"))
    assert isinstance(message, TextMessage)
    assert (message.to_user, message.from_user, message.create_time) == ("gh_heating", "oUser123", 1732700000)
    assert message.content == "我家欠费多少？"
    assert message.msg_id == "1234567890123456"


def test_text_accepts_bytes_with_an_encoding_declaration() -> None:
    xml = '<?xml version="1.0" encoding="utf-8"?>' + callback("text", Content="暖气不热", MsgId="1")
    message = parse_message(xml.encode("utf-8"))
    assert isinstance(message, TextMessage) and message.content == "暖气不热"


def test_voice_with_and_without_recognition() -> None:
    recognised = parse_message(
        callback("voice", MediaId="m1", Format="amr", Recognition="查询欠费", MsgId="2")
    )
    assert isinstance(recognised, VoiceMessage)
    assert recognised.recognition == "查询欠费" and recognised.format == "amr"
    silent = parse_message(callback("voice", MediaId="m1", Format="amr", MsgId="3"))
    assert isinstance(silent, VoiceMessage) and silent.recognition is None


def test_image() -> None:
    message = parse_message(callback("image", PicUrl="http://example.invalid/p.jpg", MediaId="m2", MsgId="4"))
    assert isinstance(message, ImageMessage) and message.media_id == "m2"


@pytest.mark.parametrize(
    "event, key, expected",
    [
        ("subscribe", "", SubscribeEvent),
        ("subscribe", "qrscene_123", SubscribeEvent),
        ("unsubscribe", "", UnsubscribeEvent),
        ("CLICK", "QUERY_BALANCE", ClickEvent),
    ],
)
def test_events(event: str, key: str, expected: type) -> None:
    message = parse_message(callback("event", Event=event, EventKey=key))
    assert isinstance(message, expected)
    assert message.msg_id is None
    assert message.event_key == key  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "xml",
    [
        callback("video", MediaId="v", MsgId="5"),
        callback("location", Location_X="45.75", Location_Y="126.63", MsgId="6"),
        callback("event", Event="VIEW", EventKey="https://example.invalid"),
        callback("event", Event="TEMPLATESENDJOBFINISH"),
        "<xml><Foo>bar</Foo></xml>",
    ],
)
def test_unknown_types_fall_back_instead_of_raising(xml: str) -> None:
    assert isinstance(parse_message(xml), UnknownMessage)


def test_bad_create_time_does_not_raise() -> None:
    xml = callback("text", Content="hi", MsgId="7").replace("1732700000", "yesterday")
    assert parse_message(xml).create_time == 0


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><MsgType>text</MsgType><Content>&lol9;</Content></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><MsgType>text</MsgType><Content>&xxe;</Content></xml>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<xml><Content>x</Content></xml>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">
<xml><Content>x</Content></xml>"""

QUADRATIC_BLOWUP = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "' + "A" * 10_000 + '">]><xml><Content>'
    + "&a;" * 1000
    + "</Content></xml>"
)


@pytest.mark.parametrize(
    "xml",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY, EXTERNAL_DTD, QUADRATIC_BLOWUP],
    ids=["billion-laughs", "external-entity", "parameter-entity", "external-dtd", "quadratic-blowup"],
)
def test_xml_bombs_are_rejected_quickly(xml: str) -> None:
    started = dt.datetime.now()
    with pytest.raises(MessageParseError):
        parse_message(xml)
    assert (dt.datetime.now() - started).total_seconds() < 1


@pytest.mark.parametrize(
    "xml",
    [
        b"",
        b"   ",
        b"<xml>",
        b"<xml><Content>unclosed</xml>",
        b"not xml at all",
        b"\xff\xfe\x00<",
        "<xml><Content>\x00</Content></xml>".encode(),
        b'<?xml version="1.0" encoding="no-such-codec"?><xml/>',
        b"<xml>" + b"x" * (300 * 1024) + b"</xml>",
    ],
)
def test_malformed_xml_raises_our_typed_error(xml: bytes) -> None:
    with pytest.raises(MessageParseError):
        parse_message(xml)


def test_deep_nesting_is_harmless() -> None:
    xml = "<xml>" + "<a>" * 5000 + "</a>" * 5000 + "<MsgType>text</MsgType></xml>"
    assert isinstance(parse_message(xml), TextMessage)


def _parse_or_typed_error(data: object) -> None:
    try:
        result = parse_message(data)  # type: ignore[arg-type]
    except MessageParseError:
        return
    assert isinstance(result, WeChatMessage)


FUZZ = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parse_or_typed_error(data)


@FUZZ
@given(st.text(max_size=2048))
def test_fuzz_random_text(data: str) -> None:
    _parse_or_typed_error(data)


_TAGS = st.sampled_from(
    ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey",
     "Recognition", "!DOCTYPE", "!ENTITY", "?xml", "![CDATA["]
)
_PIECES = st.one_of(
    _TAGS.map(lambda tag: f"<{tag}>"),
    _TAGS.map(lambda tag: f"</{tag}>"),
    st.sampled_from(["&lol;", "&amp;", "&#0;", "&#x110000;", "]]>", "<![CDATA[", "%x;", "SYSTEM \"file:///etc/passwd\"",
                     "text", "event", "subscribe", "CLICK", "\x00", "\ud7ff", "<xml>", "</xml>"]),
    st.text(max_size=20),
)


@FUZZ
@given(st.lists(_PIECES, max_size=40))
def test_fuzz_xml_like_documents(pieces: list) -> None:
    _parse_or_typed_error("<xml>" + "".join(pieces) + "</xml>")
    _parse_or_typed_error("".join(pieces))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey", "Recognition"]),
        st.text(max_size=50).filter(lambda value: "]]>" not in value),
        max_size=9,
    )
)
def test_fuzz_well_formed_callbacks_always_parse(fields: dict) -> None:
    from connectors.wechat_protocol.replies import cdata

    body = "".join(f"<{name}>{cdata(value)}</{name}>" for name, value in fields.items())
    try:
        message = parse_message("<xml>" + body + "</xml>")
    except MessageParseError:
        # Only characters XML itself forbids (e.g. control characters) may fail.
        assert any(ord(ch) < 0x20 and ch not in "\t\n\r" or 0xD800 <= ord(ch) <= 0xDFFF or ch in "\ufffe\uffff" for value in fields.values() for ch in value)
        return
    assert isinstance(message, WeChatMessage)
