"""Attack 6 (REST inbox, issue 13) and the REST body limits.

`GET /webhooks/rest/inbox?sender=X` returned and deleted X's agent replies to anyone.
Now the conversation's first POST gets an inbox token (a response header); only a
caller presenting it gets agent replies, from the inbox or in a webhook answer.
Bodies are limited to 64 KiB (413), metadata to 4 KiB (400), with English errors.
"""

from __future__ import annotations

import httpx

from tests.conftest import INBOX_TOKEN_HEADER
from tests.security.conftest import TICKET_NO, RestUser, tickets_of
from tests.stack import Stack, wait_until

REPLY = "您好，我是客服小李，您的问题我来处理。"


def test_agent_replies_reach_only_the_holder_of_the_inbox_token(
    stack: Stack, rest_user: RestUser, supervisor: httpx.Client
) -> None:
    first = rest_user.post("转人工")
    assert first.status_code == 200 and first.headers.get(INBOX_TOKEN_HEADER), first.headers
    ticket_no = TICKET_NO.search(first.text).group(0)  # type: ignore[union-attr]
    wait_until(lambda: tickets_of(supervisor, f"rest:{rest_user.sender}"), timeout=15)
    assert supervisor.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    assert supervisor.post(f"/api/tickets/{ticket_no}/messages", json={"text": REPLY}).status_code in (200, 201)

    attacker = RestUser(stack, sender=rest_user.sender)
    try:
        stolen = attacker.http.get("/webhooks/rest/inbox", params={"sender": rest_user.sender})
        assert stolen.status_code == 403 and REPLY not in stolen.text, stolen.text
        assert "token" in stolen.json()["error"]
        guessed = attacker.http.get("/webhooks/rest/inbox", params={"sender": rest_user.sender, "token": "x" * 32})
        assert guessed.status_code == 403
        # Posting as the victim neither reveals the token nor the waiting reply.
        posted = attacker.post("在吗")
        assert posted.status_code == 200 and INBOX_TOKEN_HEADER not in posted.headers
        assert REPLY not in posted.text
    finally:
        attacker.close()

    def owner_inbox() -> list:
        answer = rest_user.http.get("/webhooks/rest/inbox", params={"sender": rest_user.sender},
                                    headers={INBOX_TOKEN_HEADER: rest_user.token})
        assert answer.status_code == 200, answer.text
        return [item["text"] for item in answer.json()]

    assert REPLY in wait_until(owner_inbox, timeout=20)


def test_plain_post_keeps_rasas_answer_shape(rest_user: RestUser) -> None:
    answer = rest_user.post("你好")
    assert answer.status_code == 200
    items = answer.json()
    assert items and all(item["recipient_id"] == rest_user.sender and "text" in item for item in items)


def test_oversized_body_and_metadata_are_refused_clearly(rest_user: RestUser) -> None:
    huge = rest_user.http.post("/webhooks/rest/webhook", content=b'{"sender": "x", "message": "' + b"a" * 70_000 + b'"}',
                               headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and "at most 65536 bytes" in huge.json()["error"]
    fat = rest_user.post("你好", metadata={"note": "x" * 5000})
    assert fat.status_code == 400 and "metadata" in fat.json()["error"]
    ok = rest_user.post("你好", metadata={"note": "x" * 100})
    assert ok.status_code == 200
