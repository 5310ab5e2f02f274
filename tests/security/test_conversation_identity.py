"""Attack 1 (cross-channel ride) and identity that expires (issue 13).

A resident verifies in WeChat; an attacker who knows the OpenID posts to the REST
channel as that sender, or as `wechat:<openid>`. Conversation ids belong to their
channel, so the attacker lands in a conversation of their own and is asked to verify.
A verification holds for one session: not after `/session_start`, not after the
idle timeout, and only the WeChat channel reads the WeChat binding (revocable: 解绑).
"""

from __future__ import annotations

import httpx
from redis import Redis

from heatdesk_contract.keys import DEFAULT as keys
from tests.security.conftest import BALANCE_OF_0001, RestUser, WeChatSender, new_openid
from tests.stack import Stack

ASKS_ACCOUNT = "请告诉我您的供热户号"


def _verified_in_wechat(wechat: WeChatSender) -> str:
    openid = new_openid()
    wechat.say(openid, "查欠费")
    assert BALANCE_OF_0001 in wechat.say(openid, "2024000001 5678")
    return openid


def test_rest_client_cannot_ride_a_wechat_users_verified_conversation(stack: Stack, wechat: WeChatSender) -> None:
    openid = _verified_in_wechat(wechat)
    for sender in (openid, f"wechat:{openid}"):
        attacker = RestUser(stack, sender=sender)
        try:
            answer = attacker.say("查欠费")
            assert BALANCE_OF_0001 not in answer and "滞纳金" not in answer, answer
            assert ASKS_ACCOUNT in answer, answer
        finally:
            attacker.close()
    # The WeChat user's tracker lives under the channel's own id; the REST ones under theirs.
    tracker = httpx.get(f"{stack.url('rasa')}/conversations/wechat:{openid}/tracker",
                        params={"token": stack.env["RASA_TOKEN"]}, timeout=10).json()
    assert tracker["slots"]["verified_account"] == "2024000001"


def test_openids_are_not_written_in_full_to_the_logs(stack: Stack, wechat: WeChatSender, redis: Redis) -> None:
    openid = new_openid()
    wechat.say(openid, "你好")
    logs = "".join((stack.workdir / f"{name}.log").read_text(errors="replace") for name in ("rasa", "actions"))
    assert openid not in logs


def test_verification_is_not_carried_into_a_new_session(rest_user: RestUser) -> None:
    rest_user.say("查欠费")
    assert BALANCE_OF_0001 in rest_user.say("2024000001 5678")
    assert BALANCE_OF_0001 in rest_user.say("查欠费")  # the same session: still verified
    rest_user.say("/session_start")
    answer = rest_user.say("查欠费")
    assert BALANCE_OF_0001 not in answer and ASKS_ACCOUNT in answer, answer


def test_verification_ends_when_the_session_is_idle(rest_user: RestUser, redis: Redis) -> None:
    rest_user.say("查欠费")
    assert BALANCE_OF_0001 in rest_user.say("2024000001 5678")
    session_key = keys.identity_session(f"rest:{rest_user.sender}")
    ttl = redis.ttl(session_key)
    assert 0 < ttl <= 30 * 60, ttl  # config/city.yml: identity.session_idle_minutes = 30
    redis.pexpire(session_key, 1)  # thirty idle minutes, without waiting for them
    answer = rest_user.say("查欠费")
    assert BALANCE_OF_0001 not in answer and ASKS_ACCOUNT in answer, answer


def test_wechat_binding_survives_a_new_session_until_the_resident_unbinds(wechat: WeChatSender) -> None:
    openid = _verified_in_wechat(wechat)
    wechat.say(openid, "/session_start")
    assert BALANCE_OF_0001 in wechat.say(openid, "查欠费")  # the explicit WeChat binding
    assert "已解除" in wechat.say(openid, "解绑")
    wechat.say(openid, "/session_start")
    answer = wechat.say(openid, "查欠费")
    assert BALANCE_OF_0001 not in answer and ASKS_ACCOUNT in answer, answer
