"""The satisfaction question after resolve (`bot.csat`), at the handoff router every channel passes:
a rating within the window is recorded once on the tickets stream and thanked, anything else ends
the wait and reaches the bot. Real Redis (HEATDESK_TEST_REDIS_DB), flushed per test; Rasa itself
is stood in for by the `on_new_message` the router is handed."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Coroutine, Iterator, List

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot import messages
from bot.csat import begin, rating_of
from bot.handoff.router import HandoffRouter
from bot.settings import get_settings, redis_keys
from heatdesk_contract.owner import AGENT
from heatdesk_contract.streams import TicketCsat, TicketResolved, parse_ticket_entry
from tests.stack import TEST_REDIS_DB

CONVERSATION = "rest:csat-user"
TICKET = "GD202502150042"


@pytest.mark.parametrize("text, score", [
    ("5", 5), ("５", 5), ("5分", 5), ("4。", 4), (" 3 ", 3), ("非常满意", 5), ("2 不满意", 2), ("非常不满意", 1),
    ("0", None), ("6", None), ("12", None), ("2024000001", None), ("好的，谢谢", None), ("5678", None), ("", None),
])
def test_what_counts_as_a_rating(text: str, score: Any) -> None:
    assert rating_of(text) == score


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    base = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    url = f"{base}/{TEST_REDIS_DB}"
    monkeypatch.setenv("REDIS_URL", url)
    get_settings.cache_clear()
    client = Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
    get_settings.cache_clear()


class Bot:
    """What the router hands a message to when it is not the rating (Rasa, in production)."""

    def __init__(self) -> None:
        self.received: List[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message.text or "")
        await message.output_channel.send_response(message.sender_id, {"text": "机器人的回答"})


def run(url: str, scenario: Callable[[AsyncRedis, HandoffRouter, Bot], Coroutine[Any, Any, Any]]) -> Any:
    async def main() -> Any:
        client = AsyncRedis.from_url(url, decode_responses=True)
        try:
            return await scenario(client, HandoffRouter(client), Bot())
        finally:
            await client.close()

    return asyncio.run(main())


async def say(router: HandoffRouter, bot: Bot, text: str) -> List[str]:
    output = CollectingOutputChannel()
    await router.route(UserMessage(text, output, CONVERSATION, input_channel="rest"), bot)
    return [m.get("text", "") for m in output.messages]


async def ratings(client: AsyncRedis) -> List[TicketCsat]:
    entries = [parse_ticket_entry(f) for _id, f in await client.xrange(redis_keys().tickets_stream())]
    return [e for e in entries if isinstance(e, TicketCsat)]


def test_a_rating_is_recorded_once_and_thanked(redis_url: str) -> None:
    async def scenario(client: AsyncRedis, router: HandoffRouter, bot: Bot) -> None:
        question = await begin(client, TicketResolved(TICKET, CONVERSATION, "rest"))
        assert question is not None and "回复1-5为本次服务评分" in question.text
        assert [b["payload"] for b in question.buttons] == ["5", "4", "3", "2", "1"]
        assert await say(router, bot, "5") == [messages.CSAT_THANKS]
        assert bot.received == []
        [rating] = await ratings(client)
        assert (rating.ticket_no, rating.score, rating.idempotency_key) == (TICKET, 5, f"csat:{TICKET}")
        # The same "5" again is an ordinary message for the bot, and nothing more is recorded.
        assert await say(router, bot, "5") == ["机器人的回答"]
        assert bot.received == ["5"] and len(await ratings(client)) == 1
        # A resolve notice read twice (a crash) asks no second time.
        assert await begin(client, TicketResolved(TICKET, CONVERSATION, "rest")) is None

    run(redis_url, scenario)


def test_a_low_rating_is_thanked_with_the_way_back_to_a_person(redis_url: str) -> None:
    async def scenario(client: AsyncRedis, router: HandoffRouter, bot: Bot) -> None:
        await begin(client, TicketResolved(TICKET, CONVERSATION, "rest"))
        assert await say(router, bot, "非常不满意") == [messages.CSAT_THANKS_LOW]
        assert [r.score for r in await ratings(client)] == [1]

    run(redis_url, scenario)


def test_any_other_message_ends_the_wait_and_goes_to_the_bot(redis_url: str) -> None:
    async def scenario(client: AsyncRedis, router: HandoffRouter, bot: Bot) -> None:
        await begin(client, TicketResolved(TICKET, CONVERSATION, "rest"))
        assert await say(router, bot, "暖气费怎么交") == ["机器人的回答"]
        assert await client.exists(redis_keys().csat_pending(CONVERSATION)) == 0
        assert await say(router, bot, "5") == ["机器人的回答"]  # too late: just a message now
        assert bot.received == ["暖气费怎么交", "5"] and await ratings(client) == []

    run(redis_url, scenario)


def test_a_person_answering_again_ends_the_wait(redis_url: str) -> None:
    async def scenario(client: AsyncRedis, router: HandoffRouter, bot: Bot) -> None:
        await begin(client, TicketResolved(TICKET, CONVERSATION, "rest"))
        await client.hset(redis_keys().owner(CONVERSATION), mapping={"owner": AGENT, "ticket_no": "GD202502150043"})
        await say(router, bot, "5")
        assert bot.received == ["5"] and await ratings(client) == []
        assert await client.exists(redis_keys().csat_pending(CONVERSATION)) == 0

    run(redis_url, scenario)


def test_no_question_without_a_person_or_with_the_window_off(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def nobody_answered(client: AsyncRedis, router: HandoffRouter, bot: Bot) -> None:
        assert await begin(client, TicketResolved(TICKET, CONVERSATION, "rest", ask_csat=False)) is None
        assert await say(router, bot, "5") == ["机器人的回答"]

    run(redis_url, nobody_answered)
    monkeypatch.setenv("CSAT_WINDOW_MINUTES", "0")
    get_settings.cache_clear()

    async def switched_off(client: AsyncRedis, router: HandoffRouter, bot: Bot) -> None:
        assert await begin(client, TicketResolved("GD202502150044", CONVERSATION, "rest")) is None

    run(redis_url, switched_off)


def test_the_window_is_the_pending_keys_lifetime(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSAT_WINDOW_MINUTES", "7")
    get_settings.cache_clear()

    async def scenario(client: AsyncRedis, router: HandoffRouter, bot: Bot) -> int:
        await begin(client, TicketResolved(TICKET, CONVERSATION, "rest"))
        return int(await client.ttl(redis_keys().csat_pending(CONVERSATION)))

    assert 7 * 60 - 5 <= run(redis_url, scenario) <= 7 * 60
