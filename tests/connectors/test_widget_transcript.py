"""A widget session's transcript and resume token in real Redis (`connectors.widget_protocol.transcript`).

Keys live under a unique prefix (`redis_prefix`), cleaned up afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from connectors.widget_protocol.payloads import Credential
from connectors.widget_protocol.transcript import TranscriptStore
from tests.connectors.conftest import REDIS_URL

SESSION = "0123456789abcdef0123456789abcdef"


@pytest.fixture
async def store(redis_prefix: str) -> Any:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield TranscriptStore(client, key_prefix=redis_prefix, limit=50)
    await client.aclose() if hasattr(client, "aclose") else await client.close()


async def test_transcript_ids_increase_and_replay_is_exclusive(store: TranscriptStore) -> None:
    first, created = await store.append(SESSION, "user", {"text": "你好"})
    second, _ = await store.append(SESSION, "bot", {"payload": {"text": "您好，我是供热智能客服。"}})
    third, _ = await store.append(SESSION, "user", {"text": "查欠费"})
    assert created and (first.id, second.id, third.id) == (1, 2, 3)
    assert [entry.id for entry in await store.since(SESSION, 0)] == [1, 2, 3]
    assert [entry.id for entry in await store.since(SESSION, 2)] == [3]
    assert await store.since(SESSION, 3) == []
    replayed = await store.since(SESSION, 1)
    assert replayed[0].role == "bot" and replayed[0].data["payload"] == {"text": "您好，我是供热智能客服。"}
    assert await store.last_id(SESSION) == 3


async def test_a_session_resumes_only_with_its_own_token(store: TranscriptStore) -> None:
    issued = await store.new_session()
    other = await store.new_session()
    assert issued.session_id != other.session_id and issued.token != other.token
    assert await store.resume(issued)
    assert not await store.resume(Credential(issued.session_id, other.token))
    assert not await store.resume(Credential(SESSION, issued.token))  # never issued
    assert 0 < await store.redis.ttl(store.session_key(issued.session_id)) <= store.ttl_seconds


async def test_sessions_are_separate(store: TranscriptStore) -> None:
    other = "fedcba9876543210fedcba9876543210"
    await store.append(SESSION, "user", {"text": "甲"})
    entry, _ = await store.append(other, "user", {"text": "乙"})
    assert entry.id == 1
    assert [e.data["text"] for e in await store.since(other)] == ["乙"]


async def test_dedupe_key_returns_the_first_id_and_adds_nothing(store: TranscriptStore) -> None:
    first, created = await store.append(SESSION, "bot", {"payload": {"text": "我是客服小王"}}, dedupe=("agent", "m-1"))
    again, created_again = await store.append(SESSION, "bot", {"payload": {"text": "我是客服小王"}}, dedupe=("agent", "m-1"))
    assert created and not created_again
    assert again.id == first.id
    assert len(await store.since(SESSION)) == 1


async def test_concurrent_appends_get_unique_contiguous_ids(store: TranscriptStore) -> None:
    results = await asyncio.gather(*(store.append(SESSION, "user", {"text": f"消息{i}"}) for i in range(40)))
    ids = sorted(entry.id for entry, _ in results)
    assert ids == list(range(1, 41))
    assert [e.id for e in await store.since(SESSION)] == ids


async def test_transcript_keeps_the_newest_messages_only(store: TranscriptStore) -> None:
    for i in range(60):
        await store.append(SESSION, "user", {"text": str(i)})
    kept = await store.since(SESSION)
    assert len(kept) == 50
    assert kept[0].id == 11 and kept[-1].id == 60


async def test_transcript_keys_expire(store: TranscriptStore) -> None:
    await store.append(SESSION, "user", {"text": "你好"})
    ttl = await store.redis.ttl(store.transcript_key(SESSION))
    assert 0 < ttl <= store.ttl_seconds


async def test_chinese_and_json_special_characters_survive(store: TranscriptStore) -> None:
    text = '含"引号"、\\反斜杠、换行\n和 emoji 🙂 的消息 ]]> </script>'
    await store.append(SESSION, "user", {"text": text})
    assert (await store.since(SESSION))[0].data["text"] == text
