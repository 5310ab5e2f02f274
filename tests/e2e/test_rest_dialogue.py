"""The foundation through the real REST endpoint of a running Rasa server (Redis tracker store)."""

from __future__ import annotations

import re

import httpx
import pytest
from redis import Redis

from heatdesk_contract.keys import DEFAULT as KEYS
from tests.e2e.conftest import Resident
from tests.stack import Stack

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_greeting_is_answered_in_chinese(resident: Resident) -> None:
    replies = resident.say("你好")
    assert replies and CHINESE.search(replies[0])
    assert "智能客服" in replies[0]


def test_bot_challenge_is_answered_honestly(resident: Resident) -> None:
    replies = resident.say("你是机器人吗")
    assert any("机器人" in reply for reply in replies)


def test_price_question_answers_from_the_city_file(resident: Resident) -> None:
    replies = resident.say("一平米多少钱啊")
    assert any("26.00 元" in reply for reply in replies), replies


@pytest.mark.parametrize(
    "question, expected",
    [
        ("啥时候开始供暖", "采暖期"),
        ("微信能交暖气费吗", "微信公众号"),
        ("最晚啥时候交", "12月31日"),
        ("我家没人住想报停", "报停"),
        ("电子发票在哪下载", "发票"),
    ],
)
def test_faq_intents_get_their_answer(resident: Resident, question: str, expected: str) -> None:
    replies = resident.say(question)
    assert any(expected in reply for reply in replies), replies


def test_out_of_scope_steers_back(resident: Resident) -> None:
    replies = resident.say("帮我充一下话费")
    assert any("查欠费" in reply for reply in replies), replies


def test_conversation_is_kept_in_redis(stack: Stack, resident: Resident) -> None:
    resident.say("你好")
    redis = Redis.from_url(stack.env["REDIS_URL"])
    assert redis.exists(f"{KEYS.rasa_store_prefix()}:tracker:{resident.conversation_id}")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"sender": "", "message": "hi"}', b'{"sender": "u", "message": 5}',
     b'{"sender": "u"}', b'{"sender": "u", "message": "x", "metadata": []}'],
)
def test_malformed_rest_bodies_get_a_clear_400(stack: Stack, body: bytes) -> None:
    answer = httpx.post(stack.url("rasa") + "/webhooks/rest/webhook", content=body, timeout=10)
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_health_reports_model_and_redis(stack: Stack) -> None:
    answer = httpx.get(stack.url("rasa") + "/webhooks/rest/", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert {key: body.get(key) for key in ("status", "model", "redis")} == {"status": "ok", "model": True, "redis": True}
    assert body["tracker_store_fallbacks"] == 0  # Rasa never fell back to its in-memory tracker store
