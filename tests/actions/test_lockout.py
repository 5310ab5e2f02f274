"""The verification limits (actions/lockout.py) on real Redis: every try is counted before billing is
asked, so concurrent guesses cannot slip past, and the figures come from `identity:` in config/city.yml."""

from __future__ import annotations

import asyncio
from typing import List

from redis import Redis

from actions import lockout
from bot.settings import redis_keys
from tests.actions.support import run_async

ACCOUNT = "2024000001"


def test_limits_come_from_the_city_file() -> None:
    limits = lockout.Limits.from_city()
    assert (limits.max_failures, limits.lock_seconds, limits.account_ceiling) == (3, 900, 10)
    assert (limits.cooldown_seconds, limits.client_ceiling, limits.conversation_ceiling) == (300, 20, 10)


def test_the_third_failure_locks_for_fifteen_minutes(redis: Redis) -> None:
    async def tries() -> List[object]:
        seen: List[object] = []
        for _ in range(3):
            seen.append(await lockout.begin(ACCOUNT, "rest:a", "ip:1"))
            seen.append(await lockout.failed(ACCOUNT, "rest:a", "ip:1"))
        seen.append(await lockout.begin(ACCOUNT, "rest:a", "ip:1"))
        return seen

    assert run_async(tries) == [lockout.GO, 2, lockout.GO, 1, lockout.GO, 0, lockout.LOCKED]
    assert 890 < redis.ttl(redis_keys().identity_lock(ACCOUNT, "rest:a")) <= 900


def test_concurrent_guesses_reach_billing_at_most_three_times(redis: Redis) -> None:
    async def guesses() -> List[str]:
        return list(await asyncio.gather(*(lockout.begin(ACCOUNT, "rest:a", "ip:1") for _ in range(12))))

    verdicts = run_async(guesses)
    assert verdicts.count(lockout.GO) == 3 and verdicts.count(lockout.LOCKED) == 9
    assert redis.exists(redis_keys().identity_lock(ACCOUNT, "rest:a"))


def test_many_conversations_cool_the_account_down_for_everyone_briefly(redis: Redis) -> None:
    async def spread() -> List[str]:
        verdicts = []
        for n in range(11):
            verdict = await lockout.begin(ACCOUNT, f"rest:guesser-{n}", f"ip:{n}")
            verdicts.append(verdict)
            if verdict == lockout.GO:
                await lockout.failed(ACCOUNT, f"rest:guesser-{n}", f"ip:{n}")
        verdicts.append(await lockout.begin(ACCOUNT, "rest:the-owner", "ip:home"))
        return verdicts

    verdicts = run_async(spread)
    assert verdicts[:10] == [lockout.GO] * 10
    assert verdicts[10:] == [lockout.BUSY, lockout.BUSY]  # the owner waits too, but only the cooldown
    assert 0 < redis.ttl(redis_keys().identity_account_cooldown(ACCOUNT)) <= 300
    assert not redis.exists(redis_keys().identity_lock(ACCOUNT, "rest:the-owner"))


def test_one_client_address_is_limited_across_accounts(redis: Redis) -> None:
    async def sweep() -> List[str]:
        return [await lockout.begin(f"20240001{n:02d}", f"rest:c{n}", "ip:6.6.6.6") for n in range(21)]

    verdicts = run_async(sweep)
    assert verdicts[:20] == [lockout.GO] * 20 and verdicts[20] == lockout.BUSY


def test_a_refund_gives_the_try_back_everywhere(redis: Redis) -> None:
    async def refunded() -> None:
        await lockout.begin(ACCOUNT, "rest:a", "ip:1")
        await lockout.refund(ACCOUNT, "rest:a", "ip:1", verified=False)

    run_async(refunded)
    counters = [redis_keys().identity_failures(ACCOUNT, "rest:a"), redis_keys().identity_account_failures(ACCOUNT),
                redis_keys().identity_client_failures("ip:1"), redis_keys().identity_conversation_failures("rest:a")]
    assert [redis.get(key) for key in counters] == ["0", "0", "0", "0"]
