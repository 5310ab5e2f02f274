"""Attack 5 (plain XML in safe mode, issue 13).

The shared stack runs WeChat in safe mode (an EncodingAESKey is configured, as in
production). A callback with a valid plain `signature` but an unencrypted body — which
anyone who saw one signed query string in the last 300 s could send, with any body and
any FromUserName — is refused (WECHAT_ALLOW_PLAIN=1 is only the migration switch).
The replayed-nonce defence for plain mode is tested where plain mode runs:
tests/e2e/test_wechat.py::test_a_signed_query_string_carries_one_message_only.
"""

from __future__ import annotations

from tests.security.conftest import WeChatSender, new_openid


def test_plain_callback_is_refused_when_a_key_is_configured(wechat: WeChatSender) -> None:
    openid = new_openid()
    plain = wechat.post_plain(wechat.text_xml(openid, "查欠费 2024000001 5678"))
    assert plain.status_code == 403, plain.text
    assert "1509.00" not in plain.text
    # The same kind of message encrypted, as WeChat sends it in safe mode, is answered.
    answer = wechat.post(wechat.text_xml(openid, "你好"))
    assert answer.status_code == 200 and "<Encrypt>" in answer.text, answer.text
