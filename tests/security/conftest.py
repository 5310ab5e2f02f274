"""Attacks on the running stack (issue 13): real sockets, real HTTP, the shared `stack` fixture.

Each attacker and each test's residents speak from a loopback address of their own
(127.0.0.x, all of which reach the stack's servers), so the per-client-address limits
they run into are theirs and never throttle the other tests of the session.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional

import httpx
import pytest
from redis import Redis

from connectors.wechat_protocol.crypto import WeChatCrypto
from connectors.wechat_protocol.messages import parse_xml_fields
from connectors.wechat_protocol.signature import compute_signature
from heatdesk_contract.keys import DEFAULT as keys
from tests.conftest import INBOX_TOKEN_HEADER
from tests.stack import Stack, wait_until

_addresses = itertools.count(20)
TICKET_NO = re.compile(r"GD\d{12}")
ADMIN = {"username": "admin", "password": "admin-test-password"}
#: Seeded accounts (tests/data/billing_seed.json): number → the phone tail on file.
ACCOUNTS = {"2024000001": "5678", "2024000002": "1234", "2024000003": "1111"}
BALANCE_OF_0001 = "1509.00"


def new_address() -> str:
    """A loopback address no other client of this session uses."""
    return f"127.0.{next(_addresses)}.{secrets.randbelow(200) + 20}"


def client_from(address: str, base_url: str, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=base_url, transport=httpx.HTTPTransport(local_address=address), **kwargs)


class RestUser:
    """A REST client (resident or attacker) speaking from its own address."""

    def __init__(self, stack: Stack, sender: Optional[str] = None, address: Optional[str] = None) -> None:
        self.sender = sender or f"sec-{uuid.uuid4().hex[:12]}"
        self.address = address or new_address()
        self.http = client_from(self.address, stack.url("rasa"), timeout=60)
        self.token = ""

    def post(self, text: str, **body: Any) -> httpx.Response:
        headers = {INBOX_TOKEN_HEADER: self.token} if self.token else {}
        answer = self.http.post("/webhooks/rest/webhook", json={"sender": self.sender, "message": text, **body},
                                headers=headers)
        self.token = self.token or answer.headers.get(INBOX_TOKEN_HEADER, "")
        return answer

    def say(self, text: str) -> str:
        answer = self.post(text)
        assert answer.status_code == 200, (answer.status_code, answer.text)
        return "\n".join(item.get("text", "") for item in answer.json())

    def close(self) -> None:
        self.http.close()


class WeChatSender:
    """Posts signed WeChat callbacks as WeChat's servers would: safe mode (AES), like the stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = httpx.Client(base_url=stack.url("rasa"), timeout=60)
        self.token = stack.env["WECHAT_TOKEN"]
        self.crypto = WeChatCrypto(self.token, stack.env["WECHAT_AES_KEY"], stack.env["WECHAT_APPID"])

    def signed_query(self) -> Dict[str, str]:
        ts, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        return {"signature": compute_signature(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}

    @staticmethod
    def text_xml(openid: str, content: str, msg_id: Optional[str] = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[gh_security]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id or secrets.randbelow(9 * 10**18) + 10**18}</MsgId></xml>"
        )

    def post_plain(self, xml: str, query: Optional[Dict[str, str]] = None) -> httpx.Response:
        return self.http.post("/webhooks/wechat/webhook", params=query or self.signed_query(),
                              content=xml.encode(), headers={"Content-Type": "text/xml"})

    def post(self, xml: str) -> httpx.Response:
        """The message encrypted and signed (msg_signature), as WeChat sends it in safe mode."""
        encrypted = self.crypto.encrypt(xml)
        query = self.signed_query()
        query.update(encrypt_type="aes",
                     msg_signature=compute_signature(self.token, query["timestamp"], query["nonce"], encrypted))
        body = f"<xml><ToUserName><![CDATA[gh_security]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        return self.post_plain(body, query)

    def say(self, openid: str, text: str) -> str:
        """What the bot answered, read from the tracker (passive reply or pushed, both count)."""
        answer = self.post(self.text_xml(openid, text))
        assert answer.status_code == 200, (answer.status_code, answer.text)
        if text in ("解绑",):  # answered by the channel itself, never reaches Rasa
            fields = parse_xml_fields(answer.content)
            inner = self.crypto.decrypt_message(fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"],
                                                fields["Encrypt"], now=time.time())
            return parse_xml_fields(inner)["Content"]
        return wait_until(lambda: self._answer_to(openid, text), timeout=30)

    def _answer_to(self, openid: str, text: str) -> Optional[str]:
        tracker = self.http.get(f"/conversations/wechat:{openid}/tracker",
                                params={"token": self.stack.env["RASA_TOKEN"]}).json()
        events = tracker.get("events") or []
        users = [i for i, e in enumerate(events) if e.get("event") == "user"]
        if not users or events[users[-1]].get("text") != text:
            return None
        after = events[users[-1] + 1:]
        if not after or after[-1].get("event") != "action" or after[-1].get("name") != "action_listen":
            return None
        return "\n".join(e.get("text") or "" for e in after if e.get("event") == "bot") or " "

    def close(self) -> None:
        self.http.close()


def new_openid() -> str:
    return "o" + secrets.token_hex(14)[:27]


@pytest.fixture
def redis(stack: Stack) -> Iterator[Redis]:
    client = Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def forget_identity_limits(redis: Redis) -> Iterator[None]:
    """The seeded accounts are shared with the other suites: a test that locks or cools one
    down removes its own traces afterwards."""
    yield
    for key in redis.scan_iter(keys.identity_pattern()):
        redis.delete(key)


@pytest.fixture
def rest_user(stack: Stack) -> Iterator[RestUser]:
    user = RestUser(stack)
    yield user
    user.close()


@pytest.fixture
def wechat(stack: Stack) -> Iterator[WeChatSender]:
    sender = WeChatSender(stack)
    yield sender
    sender.close()


@pytest.fixture
def supervisor(stack: Stack) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=stack.url("console"), timeout=15)
    client.post("/api/login", json=ADMIN).raise_for_status()
    yield client
    client.close()


def tickets_of(agent: httpx.Client, conversation_id: str) -> List[Dict[str, Any]]:
    answer = agent.get("/api/tickets", params={"conversation_id": conversation_id})
    answer.raise_for_status()
    return answer.json()["items"]
