"""The REST channel of a running Rasa server under random input: never a 5xx, never a hang.

Straight to one Rasa server (nginx would turn a crash into its own 502). Bad bodies get 400;
any well-formed message gets 200 with a list of answers, however odd its text.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import LONG_TEXT, RESIDENT_TEXT, json_values, shaped
from tests.scale.cluster import Cluster

TIMEOUT = httpx.Timeout(30.0, connect=5.0)  # a turn takes well under a second; 30 s is a hang
FUZZ = settings(
    deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def rasa(cluster: Cluster) -> Any:
    with httpx.Client(base_url=cluster.rasa_url(0), timeout=TIMEOUT) as client:
        yield client
    assert httpx.get(cluster.rasa_url(0) + "/webhooks/rest/", timeout=10).status_code == 200


@settings(FUZZ, max_examples=60)
@given(body=st.one_of(st.binary(max_size=600), json_values().map(lambda v: json.dumps(v).encode())))
def test_any_body_is_answered_without_a_server_error(rasa: httpx.Client, body: bytes) -> None:
    answer = rasa.post("/webhooks/rest/webhook", content=body, headers={"Content-Type": "application/json"})
    # 403: a well-formed sender without its conversation's inbox token (issue 13).
    assert answer.status_code in (400, 403), (answer.status_code, answer.text[:300])
    if answer.status_code == 400:
        assert "error" in answer.json()


@settings(FUZZ, max_examples=40)
@given(body=shaped({
    "sender": st.text(min_size=1, max_size=130),
    "message": st.one_of(RESIDENT_TEXT, LONG_TEXT),
    "metadata": st.dictionaries(st.text(max_size=10), json_values(4), max_size=3),
}))
def test_message_shaped_bodies_are_answered_or_refused(rasa: httpx.Client, body: dict) -> None:
    answer = rasa.post("/webhooks/rest/webhook", json=body)
    # 200 for a sender's first message (its inbox token is issued with the answer); 403 for a sender
    # already known, without its conversation's inbox token (issue 13); 400 for a malformed body.
    assert answer.status_code in (200, 400, 403), (answer.status_code, answer.text[:300])
    if answer.status_code == 200:
        assert isinstance(answer.json(), list)


@settings(FUZZ, max_examples=25)
@given(text=RESIDENT_TEXT.filter(lambda t: t.strip()))
def test_any_resident_text_gets_an_answer_list(rasa: httpx.Client, text: str) -> None:
    sender = f"fuzz-{uuid.uuid4().hex[:10]}"
    answer = rasa.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text[:300]
    replies = answer.json()
    assert isinstance(replies, list)
    assert all(isinstance(item, dict) and item.get("recipient_id") == sender for item in replies)


@settings(FUZZ, max_examples=25)
@given(query=st.dictionaries(st.sampled_from(["sender", "x", "sender[]"]), st.text(max_size=200), max_size=2))
def test_the_inbox_never_fails(rasa: httpx.Client, query: dict) -> None:
    answer = rasa.get("/webhooks/rest/inbox", params=query)
    # 403: a well-formed sender without its conversation's inbox token (issue 13).
    assert answer.status_code in (400, 403), (answer.status_code, answer.text[:300])
