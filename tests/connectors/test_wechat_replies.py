"""Passive reply XML: `]]>` escaped in CDATA, long text split on natural boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.wechat_protocol.messages import parse_xml_fields
from connectors.wechat_protocol.replies import (
    MAX_TEXT_BYTES,
    cdata,
    render_text_reply,
    split_text,
)


def test_text_reply_round_trips() -> None:
    xml = render_text_reply("oUser", "gh_heating", "您好，户号是多少？", 1732700000)
    assert parse_xml_fields(xml) == {
        "ToUserName": "oUser",
        "FromUserName": "gh_heating",
        "CreateTime": "1732700000",
        "MsgType": "text",
        "Content": "您好，户号是多少？",
    }


@pytest.mark.parametrize("content", ["a]]>b", "]]>", "]]>]]>", "x]]]>y", "<xml>&amp;</xml>", "]]"])
def test_cdata_end_is_escaped(content: str) -> None:
    xml = render_text_reply("o", "gh", content, 0)
    assert parse_xml_fields(xml)["Content"] == content
    assert cdata(content).count("<![CDATA[") == content.count("]]>") + 1


@settings(max_examples=200, deadline=1000)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=300))
def test_any_printable_text_survives_the_reply(content: str) -> None:
    xml = render_text_reply("o", "gh", content, 0)
    assert parse_xml_fields(xml)["Content"] == content.strip()


def test_short_text_is_one_piece() -> None:
    assert split_text("  您的欠费为 1509.00 元。  ") == ["您的欠费为 1509.00 元。"]
    assert split_text("") == [] and split_text("  \n ") == []


def test_long_text_splits_on_paragraphs() -> None:
    paragraph = "供热" * 300  # 1800 bytes
    text = "\n\n".join([paragraph + "。", paragraph + "！", paragraph])
    pieces = split_text(text)
    assert pieces == [paragraph + "。", paragraph + "！", paragraph]


def test_long_text_splits_on_sentences_without_breaking_characters() -> None:
    sentence = "您的账户在2024-2025采暖季尚有欠费，请尽快缴纳以免产生滞纳金。"
    text = sentence * 60
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(piece.encode("utf-8")) <= MAX_TEXT_BYTES for piece in pieces)
    assert all(piece.endswith("。") for piece in pieces)
    assert "".join(pieces) == text


def test_text_without_boundaries_is_cut_at_character_boundaries() -> None:
    text = "热" * 2000  # 6000 bytes, no punctuation
    pieces = split_text(text)
    assert all(len(piece.encode("utf-8")) <= MAX_TEXT_BYTES for piece in pieces)
    assert "".join(pieces) == text


def test_emoji_are_never_cut() -> None:
    text = "🔥" * 1000  # 4-byte characters
    pieces = split_text(text, limit=10)
    assert all(piece == "🔥🔥" for piece in pieces)


@settings(max_examples=200, deadline=1000)
@given(st.text(max_size=3000), st.integers(min_value=4, max_value=2048))
def test_split_respects_the_limit_and_keeps_every_visible_character(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(0 < len(piece.encode("utf-8")) <= limit for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())
