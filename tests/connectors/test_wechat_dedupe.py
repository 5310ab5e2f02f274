"""Callback dedupe in real Redis: one owner per MsgId (or event identity) across processes."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from connectors.wechat_protocol.dedupe import (
    PASSIVE,
    PROCESSING,
    MessageDeduplicator,
    Outcome,
    dedupe_key,
)
from connectors.wechat_protocol.messages import parse_message
from tests.connectors.conftest import REDIS_URL


def _event(event: str, create_time: int = 1732700000, user: str = "oUser", key: str = "") -> str:
    return (
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{user}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>event</MsgType>"
        f"<Event>{event}</Event><EventKey>{key}</EventKey></xml>"
    )


def test_keys() -> None:
    text = parse_message("<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><MsgType>text</MsgType><MsgId>42</MsgId></xml>")
    assert dedupe_key(text) == "msg:gh:42"
    assert dedupe_key(parse_message(_event("subscribe"))) == "evt:oUser:1732700000:subscribe"
    # Retries of one event share a key; another second or user or event does not.
    assert dedupe_key(parse_message(_event("CLICK", key="HUMAN"))) == dedupe_key(parse_message(_event("CLICK", key="HUMAN")))
    assert len({
        dedupe_key(parse_message(_event("CLICK"))),
        dedupe_key(parse_message(_event("CLICK", create_time=1732700001))),
        dedupe_key(parse_message(_event("CLICK", user="other"))),
        dedupe_key(parse_message(_event("subscribe"))),
    }) == 4
    long_id = parse_message(f"<xml><ToUserName>gh</ToUserName><MsgId>{'9' * 500}</MsgId></xml>")
    assert len(dedupe_key(long_id)) < 100


def test_exactly_one_claim_wins_across_processes(redis_prefix: str) -> None:
    async def main() -> None:
        clients = [Redis.from_url(REDIS_URL, decode_responses=True) for _ in range(5)]
        dedupers = [MessageDeduplicator(client, key_prefix=redis_prefix, ttl_seconds=30) for client in clients]
        try:
            wins = await asyncio.gather(*(d.claim("msg:gh:1") for d in dedupers for _ in range(4)))
            assert sum(wins) == 1
            assert await dedupers[1].outcome("msg:gh:1") == Outcome(PROCESSING)
            await dedupers[0].record("msg:gh:1", Outcome(PASSIVE, "您好]]>"))
            assert await dedupers[2].outcome("msg:gh:1") == Outcome(PASSIVE, "您好]]>")
            assert await dedupers[3].outcome("msg:gh:unknown") is None
            ttl = await clients[0].ttl(dedupers[0].redis_key("msg:gh:1"))
            assert 0 < ttl <= 30
        finally:
            for client in clients:
                await client.close()

    asyncio.run(main())
