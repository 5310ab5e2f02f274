"""The WeChat API client against a real local fake WeChat server and real Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, List, TypeVar

import httpx
import pytest
from redis.asyncio import Redis

from connectors.wechat_protocol.api import (
    AmbiguousSendError,
    OutsideServiceWindowError,
    QuotaExceededError,
    WeChatAPI,
    WeChatAPIError,
    WeChatTransportError,
)
from tests.connectors.conftest import REDIS_URL
from tests.connectors.fake_wechat import FakeWeChat
from tests.connectors.sanic_server import free_port

T = TypeVar("T")


def run_with_apis(
    fake: FakeWeChat,
    prefix: str,
    body: Callable[[List[WeChatAPI], Redis], Awaitable[T]],
    *,
    count: int = 1,
    **kwargs: Any,
) -> T:
    """Run `body` with `count` API clients (as if in `count` processes) sharing one Redis."""

    base_url = kwargs.pop("base_url", fake.base_url)

    async def main() -> T:
        redis = Redis.from_url(REDIS_URL, decode_responses=True)
        clients = [Redis.from_url(REDIS_URL, decode_responses=True) for _ in range(count)]
        apis = [
            WeChatAPI(
                fake.state.appid,
                fake.state.secret,
                client,
                base_url=base_url,
                key_prefix=prefix,
                **kwargs,
            )
            for client in clients
        ]
        try:
            return await body(apis, redis)
        finally:
            for api, client in zip(apis, clients):
                await api.aclose()
                await client.close()
            await redis.close()

    return asyncio.run(main())


def test_send_text_posts_the_customer_service_message(fake_wechat: FakeWeChat, redis_prefix: str) -> None:
    async def body(apis: List[WeChatAPI], redis: Redis) -> None:
        await apis[0].send_text("oUser1", "您好，您的欠费为 1509.00 元。")

    run_with_apis(fake_wechat, redis_prefix, body)
    (sent,) = fake_wechat.sends()
    assert sent.query["access_token"] == "TOKEN-1"
    assert sent.body["touser"] == "oUser1"
    assert sent.body["msgtype"] == "text"
    assert sent.body["text"] == {"content": "您好，您的欠费为 1509.00 元。"}
    (fetch,) = fake_wechat.token_fetches()
    assert fetch.path == "/cgi-bin/stable_token"
    assert fetch.body["force_refresh"] is False


def test_one_token_for_all_processes_even_under_contention(fake_wechat: FakeWeChat, redis_prefix: str) -> None:
    fake_wechat.set_token_delay(0.3)

    async def body(apis: List[WeChatAPI], redis: Redis) -> List[str]:
        tokens = await asyncio.gather(*(api.get_access_token() for api in apis for _ in range(4)))
        assert await redis.exists(apis[0].lock_key) == 0  # lock released
        ttl = await redis.ttl(apis[0].token_key)
        assert 7200 - 300 - 5 <= ttl <= 7200 - 300
        return list(tokens)

    tokens = run_with_apis(fake_wechat, redis_prefix, body, count=3)
    assert set(tokens) == {"TOKEN-1"}
    assert len(fake_wechat.token_fetches()) == 1


def test_classic_token_endpoint_when_asked(fake_wechat: FakeWeChat, redis_prefix: str) -> None:
    async def body(apis: List[WeChatAPI], redis: Redis) -> str:
        return await apis[0].get_access_token()

    assert run_with_apis(fake_wechat, redis_prefix, body, use_stable_token=False) == "TOKEN-1"
    (fetch,) = fake_wechat.token_fetches()
    assert fetch.path == "/cgi-bin/token" and fetch.method == "GET"


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_rejected_token_is_refreshed_once(fake_wechat: FakeWeChat, redis_prefix: str, errcode: int) -> None:
    fake_wechat.fail_next_sends(errcode)

    async def body(apis: List[WeChatAPI], redis: Redis) -> str:
        await apis[0].send_text("oUser1", "hello")
        return await redis.get(apis[0].token_key)

    assert run_with_apis(fake_wechat, redis_prefix, body) == "TOKEN-2"
    assert [r.query["access_token"] for r in fake_wechat.sends()] == ["TOKEN-1", "TOKEN-2"]
    assert len(fake_wechat.delivered()) == 1
    assert len(fake_wechat.token_fetches()) == 2


def test_token_invalidated_elsewhere_is_refreshed(fake_wechat: FakeWeChat, redis_prefix: str) -> None:
    async def body(apis: List[WeChatAPI], redis: Redis) -> None:
        await apis[0].send_text("oUser1", "one")
        fake_wechat.invalidate_tokens()  # e.g. someone called /cgi-bin/token with our AppID
        await apis[1].send_text("oUser1", "two")

    run_with_apis(fake_wechat, redis_prefix, body, count=2)
    assert [d["text"]["content"] for d in fake_wechat.delivered()] == ["one", "two"]


def test_refresh_happens_only_once(fake_wechat: FakeWeChat, redis_prefix: str) -> None:
    fake_wechat.fail_next_sends(40001, 40001, 40001)

    async def body(apis: List[WeChatAPI], redis: Redis) -> None:
        with pytest.raises(WeChatAPIError) as raised:
            await apis[0].send_text("oUser1", "hello")
        assert raised.value.errcode == 40001

    run_with_apis(fake_wechat, redis_prefix, body)
    assert len(fake_wechat.sends()) == 2
    assert fake_wechat.delivered() == []


@pytest.mark.parametrize(
    "errcode, error_type", [(45015, OutsideServiceWindowError), (45047, QuotaExceededError)]
)
def test_window_and_quota_errors_are_typed(
    fake_wechat: FakeWeChat, redis_prefix: str, errcode: int, error_type: type
) -> None:
    fake_wechat.fail_next_sends(errcode)

    async def body(apis: List[WeChatAPI], redis: Redis) -> None:
        with pytest.raises(error_type) as raised:
            await apis[0].send_text("oUser1", "hello")
        assert raised.value.errcode == errcode

    run_with_apis(fake_wechat, redis_prefix, body)
    assert len(fake_wechat.sends()) == 1


def test_timeout_after_sending_is_ambiguous_and_never_retried(
    fake_wechat: FakeWeChat, redis_prefix: str
) -> None:
    fake_wechat.set_send_delay(1.0)

    async def body(apis: List[WeChatAPI], redis: Redis) -> None:
        await apis[0].get_access_token()
        with pytest.raises(AmbiguousSendError):
            await apis[0].send_text("oUser1", "maybe delivered")

    run_with_apis(fake_wechat, redis_prefix, body, timeout=0.3)
    time.sleep(1.2)  # let the slow fake finish: it did deliver the one request
    assert len(fake_wechat.sends()) == 1
    assert len(fake_wechat.delivered()) == 1


def test_unreachable_api_is_a_transport_error(redis_prefix: str, fake_wechat: FakeWeChat) -> None:
    async def body(apis: List[WeChatAPI], redis: Redis) -> None:
        await redis.set(apis[0].token_key, "TOKEN-X", ex=60)
        with pytest.raises(WeChatTransportError):
            await apis[0].send_text("oUser1", "hello")

    run_with_apis(fake_wechat, redis_prefix, body, base_url=f"http://127.0.0.1:{free_port()}")


def test_bad_credentials_raise_without_caching(fake_wechat: FakeWeChat, redis_prefix: str) -> None:
    async def main() -> None:
        redis = Redis.from_url(REDIS_URL, decode_responses=True)
        api = WeChatAPI(fake_wechat.state.appid, "wrong", redis, base_url=fake_wechat.base_url, key_prefix=redis_prefix)
        try:
            with pytest.raises(WeChatAPIError) as raised:
                await api.get_access_token()
            assert raised.value.errcode == 40125
            assert await redis.exists(api.token_key) == 0
            assert await redis.exists(api.lock_key) == 0
        finally:
            await api.aclose()
            await redis.close()

    asyncio.run(main())


def test_tokens_and_secret_never_reach_the_logs(
    fake_wechat: FakeWeChat, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def body(apis: List[WeChatAPI], redis: Redis) -> None:
        await apis[0].send_text("oUser1", "hello")
        assert fake_wechat.state.secret not in repr(apis[0])

    run_with_apis(fake_wechat, redis_prefix, body, use_stable_token=False)
    text = caplog.text
    assert "HTTP Request" in text  # httpx did log the requests…
    assert "TOKEN-1" not in text  # …with the token masked
    assert fake_wechat.state.secret not in text


def test_non_json_answer_is_an_api_error(redis_prefix: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    async def main() -> None:
        redis = Redis.from_url(REDIS_URL, decode_responses=True)
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        api = WeChatAPI("wxapp", "secret", redis, key_prefix=redis_prefix, http_client=client)
        try:
            with pytest.raises(WeChatAPIError):
                await api.get_access_token()
        finally:
            await client.aclose()
            await redis.close()

    asyncio.run(main())
