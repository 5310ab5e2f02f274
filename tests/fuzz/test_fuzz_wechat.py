"""The WeChat callback of a running Rasa server under random input (tests/connectors fuzzes the
channel in-process; this is the same door on the real server, signed as WeChat signs).

Never a 5xx, and always an answer within WeChat's 5-second limit.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any, Dict
from xml.sax.saxutils import escape

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import RESIDENT_TEXT
from tests.scale.cluster import Cluster

WECHAT_DEADLINE = 5.0
FUZZ = settings(
    deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MSG_TYPES = st.one_of(
    st.just("text"),  # most callbacks are text: let most examples reach the bot
    st.sampled_from(["text", "event", "image", "voice", "location", "link", "video", "", "未知", "text "]),
)
EVENTS = st.sampled_from(["subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", "LOCATION", "", "bogus"])


def signed_query(token: str) -> Dict[str, str]:
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, "openid": "fuzz"}


def xml_message(fields: Dict[str, str]) -> bytes:
    inner = "".join(f"<{name}><![CDATA[{value.replace(']]>', '')}]]></{name}>" for name, value in fields.items())
    return f"<xml>{inner}</xml>".encode("utf-8")


@pytest.fixture(scope="module")
def wechat(cluster: Cluster) -> Any:
    with httpx.Client(base_url=cluster.rasa_url(1), timeout=httpx.Timeout(15.0, connect=5.0)) as client:
        yield client
    assert httpx.get(cluster.rasa_url(1) + "/webhooks/wechat/", timeout=10).status_code == 200


def _post(wechat: httpx.Client, token: str, body: bytes) -> httpx.Response:
    started = time.monotonic()
    answer = wechat.post("/webhooks/wechat/webhook", params=signed_query(token), content=body,
                         headers={"Content-Type": "text/xml"})
    assert time.monotonic() - started < WECHAT_DEADLINE, "slower than WeChat waits"
    assert answer.status_code in (200, 400, 403, 413), (answer.status_code, answer.text[:300])
    return answer


@settings(FUZZ, max_examples=40)
@given(
    fields=st.fixed_dictionaries(
        {
            "ToUserName": st.just("gh_heatdesk"),
            "MsgType": MSG_TYPES,
            "FromUserName": st.one_of(st.from_regex(r"o[A-Za-z0-9_-]{27}", fullmatch=True), st.text(max_size=40)),
            "Content": RESIDENT_TEXT,
        },
        optional={
            "CreateTime": st.one_of(st.integers(0, 2**40).map(str), st.text(max_size=12)),
            "MsgId": st.one_of(st.integers(0, 2**64).map(str), st.text(max_size=20)),
            "Event": EVENTS,
            "EventKey": st.text(max_size=30),
            "MediaId": st.text(max_size=30),
            "Recognition": RESIDENT_TEXT,
        },
    )
)
def test_signed_messages_of_any_shape(cluster: Cluster, wechat: httpx.Client, fields: Dict[str, str]) -> None:
    answer = _post(wechat, cluster.env["WECHAT_TOKEN"], xml_message(fields))
    if answer.status_code == 200 and answer.text not in ("", "success"):
        assert answer.text.startswith("<xml>"), answer.text[:200]


@settings(FUZZ, max_examples=30)
@given(body=st.one_of(
    st.binary(max_size=800),
    st.text(max_size=300).map(lambda t: f"<xml><Content>{escape(t)}</Content></xml>".encode()),
    st.sampled_from([
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><xml>&b;</xml>',
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><xml><Content>&x;</Content></xml>',
        b"<xml><xml><xml></xml></xml>", b"<xml>" * 2000, b"",
    ]),
))
def test_signed_garbage_is_refused_politely(cluster: Cluster, wechat: httpx.Client, body: bytes) -> None:
    _post(wechat, cluster.env["WECHAT_TOKEN"], body)


def test_unsigned_and_oversized_requests(cluster: Cluster, wechat: httpx.Client) -> None:
    assert wechat.post("/webhooks/wechat/webhook", content=b"<xml/>").status_code in (400, 403)
    assert wechat.get("/webhooks/wechat/webhook", params={"echostr": "x", "signature": "0" * 40,
                                                          "timestamp": "1", "nonce": "n"}).status_code == 403
    assert _post(wechat, cluster.env["WECHAT_TOKEN"], b"<xml>" + b"a" * 70_000 + b"</xml>").status_code == 413
