"""Attack 5 (plain XML in safe mode, issue 13).

With an EncodingAESKey configured, an unencrypted callback is refused even with a valid
plain signature (WECHAT_ALLOW_PLAIN=1 is the migration switch); and in any mode a signed
(timestamp, nonce) carries one message only: replayed with another body or another
FromUserName it is refused, while WeChat's own retry of the same message is still answered
once (the MsgId dedupe).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Iterator

import pytest

from connectors.wechat_protocol.crypto import WeChatCrypto
from connectors.wechat_protocol.signature import compute_signature
from tests.security.conftest import WeChatSender, new_openid
from tests.stack import Stack

AES_KEY = base64.b64encode(hashlib.sha256(b"HeatDesk security EncodingAESKey").digest()).decode()[:43]


@pytest.fixture(scope="module")
def safe_mode_rasa(stack: Stack) -> Iterator[Stack]:
    """A second Rasa server of the same stack, configured for safe mode (AES key set)."""
    safe = Stack.create(**{name: stack.env[name] for name in (
        "REDIS_URL", "ACTION_PORT", "BILLING_URL", "ACTION_SERVER_TOKEN", "RASA_TOKEN", "WECHAT_TOKEN",
        "WECHAT_APPID", "WECHAT_APPSECRET")}, WECHAT_AES_KEY=AES_KEY)
    try:
        safe.start(["rasa"])
        yield safe
    finally:
        safe.stop_all()


def test_plain_callback_is_refused_when_a_key_is_configured(safe_mode_rasa: Stack) -> None:
    platform = WeChatSender(safe_mode_rasa)
    openid = new_openid()
    try:
        plain = platform.post(platform.text_xml(openid, "查欠费"))
        assert plain.status_code == 403, plain.text
        # The same message encrypted, as WeChat sends it in safe mode, is answered.
        crypto = WeChatCrypto(safe_mode_rasa.env["WECHAT_TOKEN"], AES_KEY, safe_mode_rasa.env["WECHAT_APPID"])
        encrypted = crypto.encrypt(platform.text_xml(openid, "你好"))
        query = platform.signed_query()
        query.update(encrypt_type="aes", msg_signature=compute_signature(
            safe_mode_rasa.env["WECHAT_TOKEN"], query["timestamp"], query["nonce"], encrypted))
        body = f"<xml><ToUserName><![CDATA[gh_security]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        answer = platform.http.post("/webhooks/wechat/webhook", params=query, content=body.encode())
        assert answer.status_code == 200 and "<Encrypt>" in answer.text, answer.text
    finally:
        platform.close()


def test_a_signed_query_string_carries_one_message_only(wechat: WeChatSender) -> None:
    query = wechat.signed_query()
    victim, attacker = new_openid(), new_openid()
    msg_id = str(secrets.randbelow(9 * 10**18) + 10**18)
    first = wechat.post(wechat.text_xml(victim, "你好", msg_id), query)
    assert first.status_code == 200
    # WeChat's retry of the same callback: same query, same message → answered (dedupe).
    assert wechat.post(wechat.text_xml(victim, "你好", msg_id), query).status_code == 200
    # The query string replayed with another body or sender inside the timestamp window → refused.
    replay = wechat.post(wechat.text_xml(attacker, "查欠费 2024000001 5678"), query)
    assert replay.status_code == 403, replay.text
    other = wechat.post(wechat.text_xml(victim, "查欠费"), query)
    assert other.status_code == 403
    # A fresh signature still works for everyone.
    assert wechat.post(wechat.text_xml(attacker, "你好")).status_code == 200

