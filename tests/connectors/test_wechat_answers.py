"""What the WeChat channel answers itself (`wechat_protocol.answers`) and numbered choices' rendering."""

from __future__ import annotations

from typing import Dict, List

import pytest

from bot import messages
from connectors.wechat_protocol.answers import fixed_reply, refusal_reason
from connectors.wechat_protocol.api import (
    AmbiguousSendError,
    OutsideServiceWindowError,
    QuotaExceededError,
    WeChatAPIError,
    WeChatTransportError,
)
from connectors.wechat_protocol.choices import numbered, payloads_of
from connectors.wechat_protocol.messages import message_from_fields


def _message(msg_type: str, **fields: str) -> Dict[str, str]:
    return {"ToUserName": "gh_test", "FromUserName": "oUser", "CreateTime": "1732700000", "MsgType": msg_type, **fields}


@pytest.mark.parametrize(
    "fields, expected",
    [
        (_message("event", Event="subscribe"), [messages.WECHAT_WELCOME]),
        (_message("voice", MediaId="m1", Format="amr"), [messages.WECHAT_VOICE_PLEASE_TYPE]),
        (_message("image", PicUrl="http://x/1.jpg", MediaId="m2"), [messages.WECHAT_IMAGE_RECEIVED]),
        (_message("event", Event="CLICK", EventKey="NO_SUCH_KEY"), [messages.WECHAT_UNKNOWN_MENU]),
        (_message("video", MediaId="m3"), [messages.WECHAT_UNSUPPORTED_MESSAGE]),
        (_message("text", Content=""), []),
        (_message("event", Event="unsubscribe"), []),
        (_message("event", Event="VIEW", EventKey="https://example.com"), []),
    ],
)
def test_fixed_replies_per_message_kind(fields: Dict[str, str], expected: List[str]) -> None:
    assert fixed_reply(message_from_fields(fields)) == expected


@pytest.mark.parametrize(
    "error, reason",
    [
        (OutsideServiceWindowError(45015), messages.WECHAT_AGENT_OUTSIDE_WINDOW),
        (QuotaExceededError(45047), messages.WECHAT_AGENT_QUOTA_EXCEEDED),
        (AmbiguousSendError(-2), messages.WECHAT_AGENT_SEND_UNCERTAIN),
        (WeChatTransportError(-1), messages.WECHAT_AGENT_SEND_FAILED.format(errcode=-1)),
        (WeChatAPIError(40001), messages.WECHAT_AGENT_SEND_FAILED.format(errcode=40001)),
    ],
)
def test_the_agent_reads_why_a_reply_did_not_arrive(error: WeChatAPIError, reason: str) -> None:
    assert refusal_reason(error) == reason


def test_buttons_become_numbered_lines_and_payloads_stay_on_the_server() -> None:
    buttons = [{"title": "查欠费", "payload": "/ask_balance"}, {"title": "转人工"}]
    assert numbered("请选择：", buttons) == ["请选择：", "1. 查欠费", "2. 转人工"]
    assert payloads_of(buttons) == ["/ask_balance", "转人工"]
